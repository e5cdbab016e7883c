import { DNSMASQ_OUTPUT } from "../api/constants.js";
import { parseMac } from "../api/mac.js";
import { FolderStore } from "../store/folder-store.js";
import { parse, required, UsageError } from "./usage.js";

export async function runRender(args: string[]): Promise<number> {
  const { values } = parse(args, {
    dir: { type: "string" },
    mac: { type: "string" },
    cluster: { type: "string" },
    namespace: { type: "string" },
    output: { type: "string" },
  });
  const dir = required(values.dir, "--dir");
  if ((values.mac === undefined) === (values.cluster === undefined)) {
    throw new UsageError("give --mac MAC (a Machine's document) or --cluster NAME (a ClusterDesc's)");
  }
  if (values.namespace !== undefined && values.cluster === undefined) {
    throw new UsageError("--namespace goes with --cluster");
  }
  if (values.mac !== undefined && values.output === DNSMASQ_OUTPUT) {
    throw new UsageError(`${DNSMASQ_OUTPUT} is a ClusterDesc's document: --cluster NAME, not --mac`);
  }
  const store = new FolderStore(dir);
  const report = await store.load();
  for (const f of report.files) process.stderr.write(`warning: ${f.file}: ${f.error}\n`);
  const result =
    values.cluster !== undefined
      ? store.clusterDocument(values.cluster, values.namespace, values.output ?? DNSMASQ_OUTPUT)
      : store.document(parseMac(values.mac!), values.output ?? "cloud-config");
  if ("error" in result) {
    process.stderr.write(`${result.error}\n`);
    return 1;
  }
  process.stdout.write(result.content);
  return 0;
}
