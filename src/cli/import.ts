import { readFile } from "node:fs/promises";
import { checkImported, importLegacy, toManifests } from "../legacy/import.js";
import { parse, UsageError } from "./usage.js";

export async function runImport(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    { name: { type: "string", default: "legacy" }, namespace: { type: "string", default: "default" } },
    true,
  );
  if (positionals.length !== 1) throw new UsageError("give exactly one legacy cluster-desc.yml");
  const text = await readFile(positionals[0]!, "utf8");
  const result = importLegacy(text, { name: values.name!, namespace: values.namespace! });
  checkImported(result);
  for (const note of result.notes) process.stderr.write(`note: ${note}\n`);
  process.stdout.write(toManifests(result));
  return 0;
}
