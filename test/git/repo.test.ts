// src/git/repo.ts against a real git server (git-http-backend on loopback, basic auth): shallow
// fetch of branch, tag and commit, missing path and ref, bad credentials (scrubbed), a server
// that never answers (hard timeout), a stopped server, the on-disk last-good copy.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fetchFiles, loadLastGood, saveLastGood } from "../../src/git/repo.js";
import { Author, type GitServer, startGitServer } from "./git-server.js";

const PASSWORD = "pw-9f3c1e77-SECRET";
const creds = { username: "ccts", password: PASSWORD };
let server: GitServer;
let author: Author;
let cache: string;
let first: string;

beforeAll(async () => {
  server = await startGitServer(creds);
  author = new Author(server);
  first = author.commit({ "clusters/lab/cloud-config.hbs": "#cloud-config\n# v1\n", "README.md": "x" });
  execFileSync("git", ["tag", "v1"], { cwd: author.dir });
  execFileSync("git", ["push", "--quiet", join(server.root, "templates.git"), "v1"], { cwd: author.dir });
  author.commit({ "clusters/lab/cloud-config.hbs": "#cloud-config\n# v2\n" });
  cache = mkdtempSync(join(tmpdir(), "ccts-git-cache-"));
});

afterAll(async () => {
  await server?.close();
  author?.close();
  rmSync(cache, { recursive: true, force: true });
});

const fetch = (extra: Partial<Parameters<typeof fetchFiles>[0]> = {}) =>
  fetchFiles({ dir: join(cache, "c"), url: server.url, path: "clusters/lab", credentials: creds, ...extra });

describe("fetchFiles", () => {
  it("fetches the default branch, a branch, a tag and a commit", async () => {
    const started = Date.now();
    const head = await fetch();
    console.log(`first shallow fetch over HTTP: ${Date.now() - started} ms`);
    expect(head).toMatchObject({ ok: true });
    if (!head.ok) return;
    expect(head.files.map((f) => [f.name, f.content.toString()])).toEqual([
      ["cloud-config.hbs", "#cloud-config\n# v2\n"],
    ]);
    expect(await fetch({ ref: "main" })).toMatchObject({ ok: true, commit: head.commit });
    expect(await fetch({ ref: "v1" })).toMatchObject({ ok: true, commit: first });
    expect(await fetch({ ref: first })).toMatchObject({ ok: true, commit: first });
    const root = await fetch({ path: "/" });
    expect(root.ok && root.files.map((f) => f.name)).toEqual(["README.md"]);
  });

  it("reports a missing path and a missing ref", async () => {
    expect(await fetch({ path: "clusters/nope" })).toMatchObject({ ok: false, reason: "PathNotFound" });
    expect(await fetch({ path: "clusters/lab/cloud-config.hbs" })).toMatchObject({
      ok: false,
      reason: "PathNotFound",
      message: expect.stringMatching(/not a folder/),
    });
    const noRef = await fetch({ ref: "no-such-branch" });
    expect(noRef).toMatchObject({
      ok: false,
      reason: "FetchFailed",
      message: expect.stringMatching(/no-such-branch/),
    });
  });

  it("fails on bad or missing credentials without showing them", async () => {
    const wrong = "wrong-PASSWORD-1234";
    const bad = await fetch({ credentials: { username: "ccts", password: wrong } });
    expect(bad).toMatchObject({ ok: false, reason: "FetchFailed" });
    expect(!bad.ok && bad.message).toMatch(/Authentication failed|401/);
    expect(JSON.stringify(bad)).not.toContain(wrong);
    const none = await fetch({ credentials: undefined });
    expect(none).toMatchObject({ ok: false, reason: "FetchFailed" });
    expect(!none.ok && none.message).toMatch(/could not read Username|terminal prompts disabled|401/);
  });

  it("refuses URLs that are not network repositories, without running git", async () => {
    expect(await fetch({ url: join(server.root, "templates.git") })).toMatchObject({
      ok: false,
      reason: "FetchFailed",
    });
    expect(await fetch({ url: `file://${server.root}/templates.git` })).toMatchObject({
      ok: false,
      message: expect.stringMatching(/scheme file/),
    });
  });

  it("gives up after the timeout when the server never answers, and fails fast when it is down", async () => {
    server.hang = true;
    let started = Date.now();
    const hung = await fetch({ timeoutMs: 1500 });
    const took = Date.now() - started;
    server.hang = false;
    expect(hung).toMatchObject({
      ok: false,
      reason: "FetchFailed",
      message: expect.stringMatching(/timed out after 1.5s/),
    });
    expect(took).toBeLessThan(4000);
    console.log(`hanging server: fetch gave up after ${took} ms (timeout 1500 ms)`);
    await server.stop();
    started = Date.now();
    const down = await fetch();
    console.log(`stopped server: fetch failed after ${Date.now() - started} ms`);
    await server.start();
    expect(down).toMatchObject({
      ok: false,
      reason: "FetchFailed",
      message: expect.stringMatching(/Failed to connect|Connection refused|unable to access/),
    });
  });

  it("keeps the last good templates on disk", async () => {
    const dir = join(cache, "lg");
    expect(await loadLastGood(dir)).toBeUndefined();
    const lg = {
      url: server.url,
      ref: "main",
      path: "clusters/lab",
      commit: first,
      time: "2024-01-01T00:00:00Z",
      templates: { a: "b" },
    };
    await saveLastGood(dir, lg);
    expect(await loadLastGood(dir)).toEqual(lg);
  });
});
