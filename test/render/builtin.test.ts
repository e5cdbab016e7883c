// The built-in template set over every machine of every example: golden files, the upstream
// cloud-init JSON schemas (Debian python3-jsonschema), Debian cloud-init's own `cloud-init schema`,
// and `sh -n` for the install script. Real tools, no mocks.
// UPDATE_GOLDEN=1 rewrites test/golden/<machine>/<output>; otherwise any difference fails.
import { execFile, execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { CLOUD_INIT_SCHEMA_DIR } from "../support/shared.js";
import { REPO_ROOT, renderExamples } from "./examples.js";

const run = promisify(execFile);
const GOLDEN_DIR = join(REPO_ROOT, "test/golden");
const SCHEMA_DIR = CLOUD_INIT_SCHEMA_DIR;
const PYTHON = "/usr/bin/python3";

const rendered = renderExamples();
const work = mkdtempSync(join(tmpdir(), "ccts-render-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function docs(format: string, output?: string): { id: string; content: string }[] {
  return rendered.flatMap((r) =>
    r.documents
      .filter((d) => d.format === format && (output === undefined || d.output === output))
      .map((d) => ({ id: `${r.machine}/${d.output}`, content: d.content })),
  );
}

describe("built-in templates over the examples", () => {
  it("renders every machine of every example", () => {
    expect(rendered.length).toBeGreaterThanOrEqual(5);
    const names = rendered.map((r) => r.machine);
    expect(new Set(names).size, "golden files are keyed by machine name").toBe(names.length);
  });

  it("matches the golden files", () => {
    const update = process.env.UPDATE_GOLDEN === "1";
    if (update) rmSync(GOLDEN_DIR, { recursive: true, force: true });
    for (const r of rendered) {
      const dir = join(GOLDEN_DIR, r.machine);
      if (update) {
        mkdirSync(dir, { recursive: true });
        for (const d of r.documents) writeFileSync(join(dir, d.output), d.content);
        continue;
      }
      expect(existsSync(dir), `${dir} missing: run UPDATE_GOLDEN=1`).toBe(true);
      expect(readdirSync(dir).sort(), `outputs of ${r.machine}`).toEqual(r.documents.map((d) => d.output));
      for (const d of r.documents) {
        expect(d.content, `${r.machine}/${d.output} differs from its golden file`).toBe(
          readFileSync(join(dir, d.output), "utf8"),
        );
      }
    }
    if (!update) expect(readdirSync(GOLDEN_DIR).sort()).toEqual(rendered.map((r) => r.machine).sort());
  });

  it("passes the upstream cloud-init JSON schemas (one python3-jsonschema process)", () => {
    const input = {
      cloudConfigSchema: join(SCHEMA_DIR, "schema-cloud-config-v1.json"),
      networkSchema: join(SCHEMA_DIR, "schema-network-config-v2.json"),
      cloudConfigs: docs("cloud-config"),
      networkConfigs: docs("yaml", "network-config"),
    };
    expect(input.cloudConfigs.length).toBe(rendered.length * 2);
    expect(input.networkConfigs.length).toBe(rendered.length);
    const script = `
import json, sys, yaml, jsonschema
inp = json.load(sys.stdin)
cc = jsonschema.Draft4Validator(json.load(open(inp["cloudConfigSchema"])))
nc = jsonschema.Draft7Validator(json.load(open(inp["networkSchema"])))
errors, checked = [], 0
for validator, docs in ((cc, inp["cloudConfigs"]), (nc, inp["networkConfigs"])):
    for d in docs:
        checked += 1
        for e in validator.iter_errors(yaml.safe_load(d["content"])):
            errors.append("%s: %s at %s" % (d["id"], e.message, "/".join(map(str, e.absolute_path))))
print(json.dumps({"checked": checked, "errors": errors}))
`;
    const out = execFileSync(PYTHON, ["-c", script], { input: JSON.stringify(input), encoding: "utf8" });
    const result = JSON.parse(out) as { checked: number; errors: string[] };
    expect(result.errors).toEqual([]);
    expect(result.checked).toBe(input.cloudConfigs.length + input.networkConfigs.length);
  });

  it("the schema check catches an unknown key and a wrong type (it is not vacuous)", () => {
    const script = `
import json, sys, yaml, jsonschema
s = jsonschema.Draft4Validator(json.load(open(sys.argv[1])))
print(len(list(s.iter_errors(yaml.safe_load("hostnme: x\\nruncmd: 5\\n")))))
`;
    const out = execFileSync(PYTHON, ["-c", script, join(SCHEMA_DIR, "schema-cloud-config-v1.json")], {
      encoding: "utf8",
    });
    expect(Number(out.trim())).toBeGreaterThanOrEqual(2);
  });

  it("passes Debian cloud-init's own `cloud-init schema --config-file`", async () => {
    const files = docs("cloud-config").map((d) => {
      const file = join(work, `${d.id.replace("/", "__")}.yaml`);
      writeFileSync(file, d.content);
      return file;
    });
    const results = await Promise.all(
      files.map((f) =>
        run("cloud-init", ["schema", "--config-file", f]).then(
          (r) => ({ f, ok: true, out: r.stdout + r.stderr }),
          (e: { stdout?: string; stderr?: string }) => ({ f, ok: false, out: `${e.stdout}${e.stderr}` }),
        ),
      ),
    );
    for (const r of results) {
      expect(r.ok, `${r.f}: ${r.out}`).toBe(true);
      expect(r.out).toContain("Valid cloud-config");
    }
  });

  it("install.sh passes `sh -n` and iPXE scripts boot the NoCloud datasource", () => {
    for (const d of docs("shell", "install.sh")) {
      const file = join(work, `${d.id.replace("/", "__")}`);
      writeFileSync(file, d.content);
      execFileSync("sh", ["-n", file]);
      expect(d.content.startsWith("#!/bin/sh\n")).toBe(true);
      expect(d.content).toContain("set -eu");
    }
    for (const r of rendered) {
      const ipxe = r.documents.find((d) => d.output === "ipxe")!.content;
      const mac = /^echo ccts: (\S+) (\S+)$/m.exec(ipxe)?.[2];
      expect(mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
      expect(ipxe).toContain(` ds=nocloud-net;s=http://10.20.0.2:8080/nocloud/${mac}/`);
    }
  });
});
