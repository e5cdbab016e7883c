import { parseMac } from "../api/mac.js";
import { FolderStore } from "../store/folder-store.js";
import { parse, required } from "./usage.js";

export async function runRender(args: string[]): Promise<number> {
  const { values } = parse(args, {
    dir: { type: "string" },
    mac: { type: "string" },
    output: { type: "string", default: "cloud-config" },
  });
  const store = new FolderStore(required(values.dir, "--dir"));
  const report = await store.load();
  for (const f of report.files) process.stderr.write(`warning: ${f.file}: ${f.error}\n`);
  const result = store.document(parseMac(required(values.mac, "--mac")), values.output!);
  if ("error" in result) {
    process.stderr.write(`${result.error}\n`);
    return 1;
  }
  process.stdout.write(result.content);
  return 0;
}
