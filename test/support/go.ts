// Builds a Go program of the test tree (a module folder: go.mod beside main.go) into a temp dir,
// with the local toolchain and no module download (scripts/install-test-deps.sh fetched what the
// modules need). For the tests that hold ccts to the Go code it succeeds.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";

export interface GoProgram {
  binary: string;
  remove(): void;
}

export function buildGoProgram(moduleDir: string): GoProgram {
  const dir = mkdtempSync(join(tmpdir(), "ccts-go-"));
  const binary = join(dir, basename(moduleDir));
  execFileSync("go", ["build", "-o", binary, "."], {
    cwd: moduleDir,
    env: { ...process.env, GOTOOLCHAIN: "local", GOFLAGS: "-mod=readonly" },
  });
  return { binary, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
