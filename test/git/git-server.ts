// A real git server on loopback for tests: Debian's git-http-backend behind a small node:http CGI
// bridge, with optional basic-auth checking, that can be stopped and started again on its port,
// or told to hang (accept and never answer) to exercise fetch timeouts. Plus an author's working
// copy that commits and (force-)pushes to the served bare repository.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

const BACKEND = "/usr/lib/git-core/git-http-backend";
const GIT_ENV = {
  ...process.env,
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_AUTHOR_NAME: "Template Author",
  GIT_AUTHOR_EMAIL: "author@example.org",
  GIT_COMMITTER_NAME: "Template Author",
  GIT_COMMITTER_EMAIL: "author@example.org",
};

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd, env: GIT_ENV, encoding: "utf8" }).trim();
}

export interface GitServer {
  /** http://127.0.0.1:PORT/templates.git */
  url: string;
  root: string;
  /** Requests answered (any status), for tests that count fetches. */
  requests: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** While true, requests are accepted and never answered. */
  hang: boolean;
  /** Expected basic-auth credentials; undefined: no auth. */
  auth?: { username: string; password: string };
  close(): Promise<void>;
}

export async function startGitServer(auth?: { username: string; password: string }): Promise<GitServer> {
  const root = mkdtempSync(join(tmpdir(), "ccts-git-server-"));
  const bare = join(root, "templates.git");
  git(root, "init", "--bare", "--quiet", "--initial-branch=main", bare);
  git(bare, "config", "http.receivepack", "false");
  git(bare, "config", "uploadpack.allowReachableSHA1InWant", "true");

  let server: http.Server | undefined;
  let port = 0;
  const state: GitServer = {
    url: "",
    root,
    requests: 0,
    hang: false,
    auth,
    async start() {
      server = http.createServer((req, res) => handle(req, res));
      await new Promise<void>((resolve) => server!.listen(port, "127.0.0.1", resolve));
      port = (server.address() as AddressInfo).port;
      state.url = `http://127.0.0.1:${port}/templates.git`;
    },
    async stop() {
      const s = server;
      server = undefined;
      if (!s) return;
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    async close() {
      await state.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };

  function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (state.hang) return;
    state.requests++;
    if (state.auth) {
      const want = `Basic ${Buffer.from(`${state.auth.username}:${state.auth.password}`).toString("base64")}`;
      if (req.headers.authorization !== want) {
        res.writeHead(401, { "WWW-Authenticate": 'Basic realm="git"' }).end("unauthorized\n");
        return;
      }
    }
    const url = new URL(req.url ?? "/", "http://localhost");
    const child = spawn(BACKEND, [], {
      env: {
        PATH: process.env.PATH,
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: "1",
        GIT_CONFIG_NOSYSTEM: "1",
        GIT_CONFIG_GLOBAL: "/dev/null",
        REQUEST_METHOD: req.method ?? "GET",
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: req.headers["content-type"] ?? "",
        HTTP_CONTENT_ENCODING: req.headers["content-encoding"] ?? "",
        GIT_PROTOCOL: (req.headers["git-protocol"] as string | undefined) ?? "",
        REMOTE_ADDR: req.socket.remoteAddress ?? "127.0.0.1",
        REMOTE_USER: state.auth?.username ?? "",
      },
      stdio: ["pipe", "pipe", "inherit"],
    });
    req.pipe(child.stdin);
    let head = Buffer.alloc(0);
    let headersDone = false;
    child.stdout.on("data", (chunk: Buffer) => {
      if (headersDone) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      const endLf = head.indexOf("\n\n");
      const cut = end >= 0 ? end : endLf;
      if (cut < 0) return;
      const sep = end >= 0 ? 4 : 2;
      headersDone = true;
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.subarray(0, cut).toString("latin1").split(/\r?\n/)) {
        const i = line.indexOf(":");
        if (i < 0) continue;
        const k = line.slice(0, i).trim();
        const v = line.slice(i + 1).trim();
        if (k.toLowerCase() === "status") status = Number.parseInt(v, 10);
        else headers[k] = v;
      }
      res.writeHead(status, headers);
      res.write(head.subarray(cut + sep));
    });
    child.stdout.on("end", () => {
      if (!headersDone) res.writeHead(502);
      res.end();
    });
    child.on("error", () => res.destroy());
    res.on("close", () => child.kill());
  }

  await state.start();
  return state;
}

/** A working copy that pushes to the server's bare repository (by path: pushing is not under test). */
export class Author {
  readonly dir: string;
  constructor(private readonly server: GitServer) {
    this.dir = mkdtempSync(join(tmpdir(), "ccts-git-author-"));
    git(this.dir, "init", "--quiet", "--initial-branch=main");
  }

  /** Writes (or with null, deletes) files, commits, pushes to `branch`; returns the commit. */
  commit(files: Record<string, string | null>, message = "update", branch = "main"): string {
    for (const [path, content] of Object.entries(files)) {
      const full = join(this.dir, path);
      if (content === null) rmSync(full, { force: true });
      else {
        mkdirSync(dirname(full), { recursive: true });
        writeFileSync(full, content);
      }
    }
    git(this.dir, "add", "--all");
    git(this.dir, "commit", "--quiet", "--allow-empty", "-m", message);
    git(this.dir, "push", "--quiet", "--force", join(this.server.root, "templates.git"), `HEAD:${branch}`);
    return git(this.dir, "rev-parse", "HEAD");
  }

  /** Replaces history with one new commit holding exactly `files`, force-pushed. */
  forcePushOrphan(files: Record<string, string>, branch = "main"): string {
    git(this.dir, "checkout", "--quiet", "--orphan", `orphan-${Date.now()}`);
    git(this.dir, "rm", "-r", "--quiet", "--cached", "--ignore-unmatch", ".");
    git(this.dir, "clean", "-fdq");
    return this.commit(files, "rewrite", branch);
  }

  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
