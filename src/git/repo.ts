// Runs the `git` program: a shallow fetch of one ref into a bare cache repository, then the files
// of one folder at that commit. Hard timeout (the whole process group is killed), no prompts, no
// user or system git config, only network transports, credentials through the environment of the
// child only (never argv, never a URL, never a file except an SSH key in a 0600 temp file).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { normalizePath, type RepoFile, refProblem, scrub, urlProblem } from "./source.js";

export const DEFAULT_FETCH_TIMEOUT_MS = 20_000;
const LOCAL_TIMEOUT_MS = 10_000;
const FETCHED_REF = "refs/ccts/fetched";
const LAST_GOOD_REF = "refs/ccts/last-good";

/** Credentials from the Secret named by spec.git.secretRef (already base64-decoded). */
export interface GitCredentials {
  username?: string;
  password?: string;
  bearerToken?: string;
  sshPrivateKey?: string;
  knownHosts?: string;
}

/**
 * Reads a Secret's data: `token` (HTTPS password; username `username` or `git`), `username` +
 * `password`, `bearerToken` (Authorization: Bearer), `ssh-privatekey` (+ `known_hosts`).
 */
export function credentialsFromSecret(data: Record<string, string> | undefined): GitCredentials {
  const get = (k: string) => (data?.[k] ? Buffer.from(data[k], "base64").toString("utf8") : undefined);
  const token = get("token");
  const password = get("password") ?? token;
  return {
    username: get("username") ?? (password ? "git" : undefined),
    password,
    bearerToken: get("bearerToken"),
    sshPrivateKey: get("ssh-privatekey"),
    knownHosts: get("known_hosts"),
  };
}

/** The values that must never be shown (for scrub). */
export function secretValues(c: GitCredentials | undefined): string[] {
  return c ? [c.password, c.bearerToken, c.sshPrivateKey].filter((v): v is string => !!v) : [];
}

interface GitRun {
  code: number | null;
  stdout: Buffer;
  stderr: string;
  timedOut: boolean;
}

/** Runs git with a hard deadline; on expiry kills its process group (git-remote-http, ssh, ...). */
function runGit(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number, cwd?: string): Promise<GitRun> {
  return new Promise((resolve) => {
    const child = spawn("git", args, { cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let err = "";
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid) process.kill(-child.pid, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    }, timeoutMs);
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => {
      if (err.length < 64 * 1024) err += c.toString("utf8");
    });
    const done = (code: number | null) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: err, timedOut });
    };
    child.on("error", (e) => {
      err += String(e);
      done(-1);
    });
    child.on("close", done);
  });
}

const shellQuote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

/** Environment of every git child: isolated from the host's git config, prompts and transports. */
function baseEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    LC_ALL: "C",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_TERMINAL_PROMPT: "0",
    GIT_ALLOW_PROTOCOL: "http:https:ssh:git",
    GIT_SSH_COMMAND:
      "ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/dev/null -o ConnectTimeout=10",
  };
  for (const k of ["http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"]) {
    if (process.env[k]) env[k] = process.env[k];
  }
  for (const k of ["SSL_CERT_FILE", "SSL_CERT_DIR", "GIT_SSL_CAINFO"])
    if (process.env[k]) env[k] = process.env[k];
  return env;
}

/** Config given through GIT_CONFIG_COUNT/KEY/VALUE: not visible in argv (ps). */
function configEnv(pairs: [string, string][]): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { GIT_CONFIG_COUNT: String(pairs.length) };
  pairs.forEach(([k, v], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = k;
    env[`GIT_CONFIG_VALUE_${i}`] = v;
  });
  return env;
}

// A credential helper defined inline: it answers from the child's environment, so the password
// is in no file and no argument.
const ENV_CREDENTIAL_HELPER =
  '!f() { test "$1" = get && printf "username=%s\\npassword=%s\\n" "$CCTS_GIT_USERNAME" "$CCTS_GIT_PASSWORD"; }; f';

export interface FetchOptions {
  /** Per-ClusterDesc cache folder (created when missing); holds repo.git and last-good.json. */
  dir: string;
  url: string;
  ref?: string;
  path?: string;
  credentials?: GitCredentials;
  timeoutMs?: number;
}

export type FetchResult =
  | { ok: true; commit: string; files: RepoFile[] }
  | { ok: false; reason: "FetchFailed" | "PathNotFound"; message: string; commit?: string };

/** Shallow-fetches `ref` and returns the blobs directly under `path` at that commit. */
export async function fetchFiles(o: FetchOptions): Promise<FetchResult> {
  const secrets = secretValues(o.credentials);
  const fail = (reason: "FetchFailed" | "PathNotFound", message: string, commit?: string): FetchResult => ({
    ok: false,
    reason,
    message: scrub(message, secrets),
    commit,
  });
  const badUrl = urlProblem(o.url);
  if (badUrl) return fail("FetchFailed", `url ${scrub(o.url)}: ${badUrl}`);
  const ref = o.ref || "HEAD";
  const badRef = refProblem(ref);
  if (badRef) return fail("FetchFailed", badRef);
  const path = normalizePath(o.path);
  if ("error" in path) return fail("PathNotFound", path.error);

  await mkdir(o.dir, { recursive: true, mode: 0o700 });
  const repo = join(o.dir, "repo.git");
  const env = baseEnv(o.dir);
  if (!existsSync(join(repo, "HEAD"))) {
    const init = await runGit(["init", "--bare", "--quiet", repo], env, LOCAL_TIMEOUT_MS);
    if (init.code !== 0) return fail("FetchFailed", `git init failed: ${init.stderr.trim()}`);
  }

  const timeoutMs = o.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
  const c = o.credentials;
  const fetchEnv: NodeJS.ProcessEnv = { ...env };
  const config: [string, string][] = [
    ["credential.helper", ""],
    ["protocol.file.allow", "never"],
    ["protocol.ext.allow", "never"],
    ["http.followRedirects", "initial"],
  ];
  let tmp: string | undefined;
  try {
    if (c?.password !== undefined && c.username !== undefined) {
      config.push(["credential.helper", ENV_CREDENTIAL_HELPER]);
      fetchEnv.CCTS_GIT_USERNAME = c.username;
      fetchEnv.CCTS_GIT_PASSWORD = c.password;
    }
    if (c?.bearerToken) config.push(["http.extraHeader", `Authorization: Bearer ${c.bearerToken}`]);
    if (c?.sshPrivateKey) {
      tmp = await mkdtemp(join(o.dir, "ssh-"));
      const key = join(tmp, "key");
      const knownHosts = join(tmp, "known_hosts");
      await writeFile(key, c.sshPrivateKey.endsWith("\n") ? c.sshPrivateKey : `${c.sshPrivateKey}\n`, {
        mode: 0o600,
      });
      await writeFile(knownHosts, c.knownHosts ?? "", { mode: 0o600 });
      fetchEnv.GIT_SSH_COMMAND = [
        "ssh -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -o ConnectTimeout=10",
        `-o StrictHostKeyChecking=yes -o UserKnownHostsFile=${shellQuote(knownHosts)}`,
        `-i ${shellQuote(key)}`,
      ].join(" ");
    }
    Object.assign(fetchEnv, configEnv(config));
    const fetched = await runGit(
      [
        "fetch",
        "--quiet",
        "--depth=1",
        "--no-tags",
        "--no-write-fetch-head",
        "--no-recurse-submodules",
        "--end-of-options",
        o.url,
        `+${ref}:${FETCHED_REF}`,
      ],
      fetchEnv,
      timeoutMs,
      repo,
    );
    if (fetched.timedOut)
      return fail("FetchFailed", `git fetch of ${o.url} timed out after ${timeoutMs / 1000}s`);
    if (fetched.code !== 0) {
      return fail("FetchFailed", `git fetch of ${o.url} (${ref}) failed: ${summarize(fetched.stderr)}`);
    }
  } finally {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  }

  const rev = await runGit(
    ["rev-parse", "--verify", "--quiet", `${FETCHED_REF}^{commit}`],
    env,
    LOCAL_TIMEOUT_MS,
    repo,
  );
  const commit = rev.stdout.toString("utf8").trim();
  if (rev.code !== 0 || !/^[0-9a-f]{40,64}$/.test(commit)) {
    return fail("FetchFailed", `ref ${ref} of ${o.url} is not a commit`);
  }
  const shown = path.path || "/";
  const treeish = path.path ? `${commit}:${path.path}` : `${commit}^{tree}`;
  const type = await runGit(["cat-file", "-t", treeish], env, LOCAL_TIMEOUT_MS, repo);
  if (type.code !== 0)
    return fail("PathNotFound", `path ${shown} not found at commit ${commit.slice(0, 12)}`, commit);
  if (type.stdout.toString("utf8").trim() !== "tree") {
    return fail("PathNotFound", `path ${shown} at commit ${commit.slice(0, 12)} is not a folder`, commit);
  }
  const listing = await runGit(["ls-tree", "-z", "--full-tree", treeish], env, LOCAL_TIMEOUT_MS, repo);
  if (listing.code !== 0)
    return fail("FetchFailed", `git ls-tree failed: ${summarize(listing.stderr)}`, commit);
  const files: RepoFile[] = [];
  for (const entry of listing.stdout.toString("utf8").split("\0")) {
    // "<mode> SP <type> SP <object> TAB <name>"; regular files only (no symlinks, folders, submodules).
    const m = /^(100644|100755) blob ([0-9a-f]+)\t(.+)$/s.exec(entry);
    if (!m) continue;
    const blob = await runGit(["cat-file", "blob", m[2]!], env, LOCAL_TIMEOUT_MS, repo);
    if (blob.code !== 0)
      return fail("FetchFailed", `reading ${m[3]} failed: ${summarize(blob.stderr)}`, commit);
    files.push({ name: m[3]!, content: blob.stdout });
  }
  return { ok: true, commit, files };
}

/**
 * git's advice after any failed remote command: it follows the cause ("Host key verification
 * failed.", "Permission denied (publickey).") and would push it out of the last lines.
 */
const GIT_ADVICE = new Set([
  "Please make sure you have the correct access rights",
  "and the repository exists.",
]);

/** Last lines of git's stderr, without noise: what a human needs (it is scrubbed by the caller). */
function summarize(stderr: string): string {
  const lines = stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !GIT_ADVICE.has(l));
  return lines.slice(-3).join("; ").slice(0, 1000) || "no output from git";
}

/** What last passed every check, on disk, for a restart while the git host is unreachable. */
export interface LastGood {
  url: string;
  ref: string;
  path: string;
  commit: string;
  time: string;
  templates: Record<string, string>;
}

const LAST_GOOD_FILE = "last-good.json";

export async function saveLastGood(dir: string, lastGood: LastGood): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `${LAST_GOOD_FILE}.tmp`);
  await writeFile(tmp, JSON.stringify(lastGood, null, 1), { mode: 0o600 });
  await rename(tmp, join(dir, LAST_GOOD_FILE));
  // Keeps the commit's objects in the cache repository too (a ref the next fetch does not move).
  const repo = join(dir, "repo.git");
  if (existsSync(join(repo, "HEAD"))) {
    await runGit(["update-ref", LAST_GOOD_REF, lastGood.commit], baseEnv(dir), LOCAL_TIMEOUT_MS, repo);
  }
}

export async function loadLastGood(dir: string): Promise<LastGood | undefined> {
  try {
    const parsed = JSON.parse(await readFile(join(dir, LAST_GOOD_FILE), "utf8")) as LastGood;
    return typeof parsed.commit === "string" && parsed.templates ? parsed : undefined;
  } catch {
    return undefined;
  }
}
