// src/git/repo.ts fetching over SSH from a real OpenSSH server: Debian's sshd on loopback with a
// throwaway host key, serving the test git server's bare repository by path, as a template
// repository on a git host reached with a deploy key. The key and known_hosts come the way the
// controller reads them, from a Secret's data (`ssh-privatekey`, `known_hosts`). Covered: the
// fetch, host key checking (unknown or wrong host key refused), a key the server does not accept,
// and that the private key shows up in no message.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { credentialsFromSecret, fetchFiles } from "../../src/git/repo.js";
import { freePort } from "../support/ports.js";
import { waitFor } from "../support/wait.js";
import { Author, type GitServer, startGitServer } from "./git-server.js";

const SSHD = "/usr/sbin/sshd";
let dir: string;
let sshd: ChildProcess | undefined;
let sshdLog = "";
let server: GitServer;
let author: Author;
let url: string;
let knownHosts: string;
const key = (name: string) => readFileSync(join(dir, name), "utf8");
const b64 = (s: string) => Buffer.from(s).toString("base64");
const secret = (privateKey: string, hosts: string | undefined) =>
  credentialsFromSecret({
    "ssh-privatekey": b64(privateKey),
    ...(hosts === undefined ? {} : { known_hosts: b64(hosts) }),
  });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "ccts-sshd-"));
  for (const name of ["host_key", "other_host_key", "client_key", "stranger_key"]) {
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", join(dir, name)]);
  }
  writeFileSync(join(dir, "authorized_keys"), key("client_key.pub"), { mode: 0o600 });
  const port = await freePort();
  const user = userInfo().username;
  writeFileSync(
    join(dir, "sshd_config"),
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${join(dir, "host_key")}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      `AllowUsers ${user}`,
      "PermitRootLogin prohibit-password",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "StrictModes no",
      "LogLevel VERBOSE",
      "",
    ].join("\n"),
  );
  // sshd run as root chroots its privilege-separated child here (the packaged service creates
  // it); run as another user it serves that user only and needs no such directory.
  if (process.getuid?.() === 0 && !existsSync("/run/sshd")) mkdirSync("/run/sshd", { mode: 0o755 });
  sshd = spawn(SSHD, ["-D", "-e", "-f", join(dir, "sshd_config")], { stdio: ["ignore", "ignore", "pipe"] });
  sshd.stderr!.on("data", (d) => {
    sshdLog += d;
  });
  await waitFor("sshd to listen", () => {
    if (sshd!.exitCode !== null) throw new Error(`sshd exited ${sshd!.exitCode}: ${sshdLog}`);
    return new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1", () => {
        socket.destroy();
        resolve(true);
      });
      socket.on("error", () => resolve(false));
    });
  });
  server = await startGitServer();
  author = new Author(server);
  author.commit({ "clusters/lab/cloud-config.hbs": "#cloud-config\n# over ssh\n" });
  url = `ssh://${user}@127.0.0.1:${port}${join(server.root, "templates.git")}`;
  knownHosts = `[127.0.0.1]:${port} ${key("host_key.pub")}`;
});

afterAll(async () => {
  sshd?.kill("SIGTERM");
  await server?.close();
  author?.close();
  rmSync(dir, { recursive: true, force: true });
});

const fetch = (credentials: ReturnType<typeof secret>, cache: string) =>
  fetchFiles({ dir: join(dir, cache), url, path: "clusters/lab", credentials });

describe("fetchFiles over SSH (a real sshd)", () => {
  it("fetches with the Secret's deploy key and known_hosts", async () => {
    const result = await fetch(secret(key("client_key"), knownHosts), "ok");
    expect(result, sshdLog).toMatchObject({ ok: true });
    if (!result.ok) return;
    expect(result.files.map((f) => [f.name, f.content.toString()])).toEqual([
      ["cloud-config.hbs", "#cloud-config\n# over ssh\n"],
    ]);
    // The key was written for the fetch only.
    expect(execFileSync("find", [join(dir, "ok"), "-name", "key"], { encoding: "utf8" })).toBe("");
  });

  it.each([
    ["without known_hosts", undefined],
    ["with another host's key in known_hosts", () => `[127.0.0.1]:1 ${key("other_host_key.pub")}`],
  ])("refuses the server %s (host key checking)", async (_name, hosts) => {
    const result = await fetch(
      secret(key("client_key"), typeof hosts === "function" ? hosts() : hosts),
      "hosts",
    );
    expect(result).toMatchObject({ ok: false, reason: "FetchFailed" });
    if (result.ok) return;
    expect(result.message).toMatch(/Host key verification failed|No ED25519 host key is known/);
    expect(result.message).not.toContain(key("client_key").split("\n")[1]!);
  });

  it("reports a key the server does not accept, without the key", async () => {
    const stranger = key("stranger_key");
    const result = await fetch(secret(stranger, knownHosts), "stranger");
    expect(result).toMatchObject({ ok: false, reason: "FetchFailed" });
    if (result.ok) return;
    expect(result.message).toMatch(/Permission denied \(publickey\)/);
    for (const line of stranger.split("\n").filter((l) => l.length > 20))
      expect(result.message).not.toContain(line);
  });
});
