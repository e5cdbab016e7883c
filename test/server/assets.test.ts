// /assets/* over a real socket: files, Range requests, and every way out of the folder we could
// think of (`..`, encoded `..`, encoded slashes, absolute paths, backslashes, symlinks).
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Running, rawGet, start } from "./helpers.js";

const SECRET = "TOP-SECRET-OUTSIDE-THE-ASSETS-FOLDER";
// Made at load time: the traversal cases below name absolute paths inside it.
const top = mkdtempSync(join(tmpdir(), "ccts-assets-"));
const assets = join(top, "assets");
let s: Running;
const kernel = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 251));

beforeAll(async () => {
  mkdirSync(join(assets, "flatcar"), { recursive: true });
  writeFileSync(join(assets, "flatcar", "vmlinuz"), kernel);
  writeFileSync(join(assets, "initrd.img"), "initrd");
  writeFileSync(join(assets, ".hidden"), SECRET);
  writeFileSync(join(top, "secret.txt"), SECRET);
  // A link that stays inside the folder is served; one that leaves it is not.
  symlinkSync(join(assets, "flatcar", "vmlinuz"), join(assets, "vmlinuz"));
  symlinkSync(join(top, "secret.txt"), join(assets, "escape.txt"));
  symlinkSync(top, join(assets, "updir"));
  s = await start({ assetsDir: assets });
});

afterAll(async () => {
  await s.app.close();
  rmSync(top, { recursive: true, force: true });
});

describe("assets", () => {
  it("serves a file with its length and Accept-Ranges", async () => {
    const res = await fetch(`${s.base}/assets/flatcar/vmlinuz`);
    expect(res.status).toBe(200);
    expect(res.headers.get("accept-ranges")).toBe("bytes");
    expect(res.headers.get("content-length")).toBe(String(kernel.length));
    expect(Buffer.from(await res.arrayBuffer())).toEqual(kernel);
  });

  it("answers a Range request with 206 and Content-Range", async () => {
    const res = await fetch(`${s.base}/assets/flatcar/vmlinuz`, { headers: { range: "bytes=100-199" } });
    expect(res.status).toBe(206);
    expect(res.headers.get("content-range")).toBe(`bytes 100-199/${kernel.length}`);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(kernel.subarray(100, 200));
  });

  it("answers a suffix range and refuses an unsatisfiable one", async () => {
    const tail = await fetch(`${s.base}/assets/flatcar/vmlinuz`, { headers: { range: "bytes=-10" } });
    expect(tail.status).toBe(206);
    expect(Buffer.from(await tail.arrayBuffer())).toEqual(kernel.subarray(kernel.length - 10));
    const bad = await fetch(`${s.base}/assets/flatcar/vmlinuz`, { headers: { range: "bytes=999999-" } });
    expect(bad.status).toBe(416);
  });

  it("HEAD gives the length without a body", async () => {
    const res = await fetch(`${s.base}/assets/flatcar/vmlinuz`, { method: "HEAD" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-length")).toBe(String(kernel.length));
    expect(await res.text()).toBe("");
  });

  it("follows a symlink that stays inside the folder", async () => {
    const res = await fetch(`${s.base}/assets/vmlinuz`);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(kernel);
  });

  it("404 for a missing file; no directory listings", async () => {
    expect((await fetch(`${s.base}/assets/nope`)).status).toBe(404);
    for (const dir of ["/assets/flatcar/", "/assets/flatcar", "/assets/"]) {
      const res = await fetch(`${s.base}${dir}`);
      expect([403, 404]).toContain(res.status);
      expect(await res.text()).not.toContain("vmlinuz");
    }
  });

  it.each([
    "/assets/../secret.txt",
    "/assets/flatcar/../../secret.txt",
    "/assets/%2e%2e/secret.txt",
    "/assets/%2E%2E/secret.txt",
    "/assets/..%2fsecret.txt",
    "/assets/%2e%2e%2fsecret.txt",
    "/assets/flatcar/%2e%2e/%2e%2e/secret.txt",
    "/assets/..%5csecret.txt",
    "/assets/%252e%252e/secret.txt",
    `/assets/${encodeURIComponent(join(top, "secret.txt"))}`,
    `/assets/${join(top, "secret.txt")}`,
    `/assets//${join(top, "secret.txt")}`,
    "/assets/escape.txt",
    "/assets/updir/secret.txt",
    "/assets/.hidden",
    "/assets/./escape.txt",
  ])("never serves a file outside the folder: %s", async (path) => {
    const res = await rawGet(s.port, path);
    expect([400, 403, 404]).toContain(res.status);
    expect(res.body).not.toContain(SECRET);
    expect(res.body).not.toMatch(/at .*\.js/);
  });

  it("the server is fine afterwards", async () => {
    expect((await fetch(`${s.base}/healthz`)).status).toBe(200);
  });
});

describe("assets without a folder", () => {
  it("404 for /assets/*", async () => {
    const r = await start();
    try {
      expect((await fetch(`${r.base}/assets/flatcar/vmlinuz`)).status).toBe(404);
    } finally {
      await r.app.close();
    }
  });
});
