// Ignition v3 (Flatcar, Fedora CoreOS): the built-in ignition.json of every example machine passes
// Debian's ignition-validate (Ignition 2.14, spec 3.3.0), carries the hostname, the SSH keys of user
// core, and the same /etc/ccts/node.env as the cloud-config; GET /ignition/:mac serves it.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import yaml from "js-yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderExamples } from "../render/examples.js";
import { type Served, serveExamples } from "./serve.js";

const run = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), "ccts-ignition-"));

const rendered = renderExamples();
const doc = (r: (typeof rendered)[number], output: string) => r.documents.find((d) => d.output === output)!;

interface Ignition {
  ignition: { version: string };
  passwd: { users: { name: string; sshAuthorizedKeys: string[] }[] };
  storage: { files: { path: string; contents: { source: string } }[] };
}

function dataUrl(source: string): string {
  const m = /^data:([^,]*),(.*)$/s.exec(source);
  if (!m) throw new Error(`not a data URL: ${source}`);
  return m[1]!.endsWith(";base64")
    ? Buffer.from(m[2]!, "base64").toString("utf8")
    : decodeURIComponent(m[2]!);
}

async function validate(text: string, name: string): Promise<{ ok: boolean; out: string }> {
  const file = join(work, `${name}.json`);
  writeFileSync(file, text);
  return run("ignition-validate", [file]).then(
    (r) => ({ ok: true, out: r.stdout + r.stderr }),
    (e: { stdout?: string; stderr?: string }) => ({ ok: false, out: `${e.stdout}${e.stderr}` }),
  );
}

let s: Served;
beforeAll(async () => {
  s = await serveExamples();
});
afterAll(async () => {
  await s?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe("built-in ignition.json", () => {
  it("passes ignition-validate for every example machine", async () => {
    expect(rendered.length).toBeGreaterThanOrEqual(5);
    for (const r of rendered) {
      const d = doc(r, "ignition.json");
      expect(d.format).toBe("json");
      const result = await validate(d.content, r.machine);
      expect(result.ok, `${r.machine}: ${result.out}`).toBe(true);
    }
  });

  it("ignition-validate is not vacuous", async () => {
    const bad = JSON.stringify({
      ignition: { version: "3.3.0" },
      storage: { files: [{ path: "relative" }] },
    });
    expect((await validate(bad, "bad-path")).ok).toBe(false);
    expect((await validate(JSON.stringify({ ignition: { version: "9.9.9" } }), "bad-version")).ok).toBe(
      false,
    );
  });

  it("sets the hostname, user core's keys and the cloud-config's node.env (and etcd.env)", () => {
    for (const r of rendered) {
      const ign = JSON.parse(doc(r, "ignition.json").content) as Ignition;
      const cc = yaml.load(doc(r, "cloud-config").content) as {
        hostname: string;
        ssh_authorized_keys: string[];
        write_files: { path: string; content: string }[];
      };
      expect(ign.ignition.version).toBe("3.3.0");
      expect(ign.passwd.users).toEqual([{ name: "core", sshAuthorizedKeys: cc.ssh_authorized_keys }]);
      const files = new Map(ign.storage.files.map((f) => [f.path, dataUrl(f.contents.source)]));
      expect(files.get("/etc/hostname")).toBe(`${cc.hostname}\n`);
      for (const path of ["/etc/ccts/node.env", "/etc/ccts/etcd.env"]) {
        const fromCloudConfig = cc.write_files.find((f) => f.path === path)?.content;
        expect(files.get(path), `${r.machine} ${path}`).toBe(fromCloudConfig);
      }
    }
  });

  it("GET /ignition/:mac serves it as JSON", async () => {
    const res = await fetch(`${s.base}/ignition/52-54-00-12-34-11`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    const worker1 = rendered.find((r) => r.machine === "worker-1")!;
    expect(await res.text()).toBe(doc(worker1, "ignition.json").content);
    expect((await fetch(`${s.base}/ignition/52:54:00:00:00:99`)).status).toBe(404);
  });
});
