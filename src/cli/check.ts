// `ccts check --dir DIR`: everything `ccts serve --dir` would refuse or fail on, at once, with an
// exit code for the CI of a template repository: files the checks refuse, Machines and ClusterDescs
// whose documents do not render.
import { FolderStore } from "../store/folder-store.js";
import { parse, required } from "./usage.js";

export async function runCheck(args: string[]): Promise<number> {
  const { values } = parse(args, { dir: { type: "string" } });
  const dir = required(values.dir, "--dir");
  const report = await new FolderStore(dir).load();
  const problems = [
    ...report.files.map((f) => `${f.file}: ${f.error}`),
    ...report.machines.map((m) => `Machine ${m.machine}: ${m.reason}: ${m.message}`),
    ...report.clusters.map((c) => `ClusterDesc ${c.cluster}: ${c.reason}: ${c.message}`),
  ];
  for (const problem of problems) process.stderr.write(`${problem}\n`);
  process.stdout.write(`${dir}: ${problems.length ? `${problems.length} problem(s)` : "no problems"}\n`);
  return problems.length ? 1 : 0;
}
