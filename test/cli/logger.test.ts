// The processes' logger: lines of one event-loop turn reach the output together, in order, and
// none is lost when the process exits in the same turn (process.exit or an uncaught exception).
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { batchedPerTurn } from "../../src/cli/logger.js";
import { ROOT } from "../support/processes.js";

const turn = () => new Promise((done) => setImmediate(done));

describe("batchedPerTurn", () => {
  it("hands the lines of one turn to the sink as one text, in order, after the turn", async () => {
    const writes: string[] = [];
    const stream = batchedPerTurn({ write: (text) => writes.push(text) });
    stream.write("a\n");
    stream.write("b\n");
    expect(writes).toEqual([]);
    await turn();
    expect(writes).toEqual(["a\nb\n"]);
    stream.write("c\n");
    await turn();
    expect(writes).toEqual(["a\nb\n", "c\n"]);
  });

  it("flush writes what is pending at once, then flushes the sink", async () => {
    const writes: string[] = [];
    let sinkFlushed = false;
    const stream = batchedPerTurn({
      write: (text) => writes.push(text),
      flush: (done) => {
        sinkFlushed = true;
        done();
      },
    });
    stream.write("a\n");
    await new Promise<void>((done) => stream.flush(() => done()));
    expect(writes).toEqual(["a\n"]);
    expect(sinkFlushed).toBe(true);
    await turn();
    expect(writes).toEqual(["a\n"]);
  });
});

describe("processLogger in a process that exits in the same turn", () => {
  const logger = pathToFileURL(join(ROOT, "dist/cli/logger.js")).href;
  const run = (ending: string) =>
    spawnSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import { processLogger } from "${logger}";
         const log = processLogger();
         for (let i = 0; i < 2000; i++) log.info({ i }, "line");
         ${ending}`,
      ],
      { encoding: "utf8", env: { ...process.env, CCTS_LOG_LEVEL: "info" }, timeout: 30_000 },
    );

  it.each([
    ["process.exit(3)", 3],
    ['throw new Error("boom")', 1],
  ])("keeps every line: %s", (ending, code) => {
    const result = run(ending);
    expect(result.status).toBe(code);
    const lines = result.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { i: number; msg: string });
    expect(lines.map((l) => l.i)).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    expect(lines.every((l) => l.msg === "line")).toBe(true);
  });
});
