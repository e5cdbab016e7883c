// The processes' logger: lines of one event-loop turn reach the output together, in order, and
// none is lost when the process exits in the same turn (process.exit or an uncaught exception),
// and they are written synchronously (not queued behind the thread pool).
import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { batchedPerTurn } from "../../src/cli/logger.js";
import { ROOT } from "../support/processes.js";

const turn = () => new Promise((done) => setImmediate(done));

describe("batchedPerTurn", () => {
  it("hands the lines of one turn to the sink as one write, in order, after the turn", async () => {
    const writes: string[] = [];
    const stream = batchedPerTurn({ write: (bytes) => writes.push(bytes.toString()) });
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
      write: (bytes) => writes.push(bytes.toString()),
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

  it("takes lines as text and as bytes written into its buffer, in order, of any size", async () => {
    const writes: Buffer[] = [];
    const stream = batchedPerTurn({ write: (bytes) => writes.push(bytes) });
    const asBytes = (line: string) => {
      const buffer = stream.reserve(line.length);
      stream.wrote(stream.end + buffer.write(line, stream.end, "latin1"));
    };
    // Text with characters of two to four UTF-8 bytes; bytes (ASCII here); now and then a line
    // larger than the buffer.
    const lines: string[] = [];
    for (let i = 0; i < 300; i++) {
      const line = i % 100 === 7 ? `${"x".repeat(200_000)}\n` : `line ${i}\n`;
      if (i % 2 === 0) {
        lines.push(`\u00e9\u20ac\u{1f600} ${line}`);
        stream.write(lines.at(-1)!);
      } else {
        lines.push(line);
        asBytes(line);
      }
    }
    const expected = lines.join("");
    await turn();
    expect(writes).toHaveLength(1);
    expect(writes[0]!.toString("utf8")).toBe(expected);
    // A later turn starts empty, in a buffer of the usual size again.
    stream.write("after\n");
    expect(stream.reserve(0).length).toBeLessThanOrEqual(1024 * 1024);
    await turn();
    expect(writes.map((w) => w.toString())).toEqual([expected, "after\n"]);
  });

  it("hands the sink a copy: the next turn's lines do not change what it was given", async () => {
    const writes: Buffer[] = [];
    const stream = batchedPerTurn({ write: (bytes) => writes.push(bytes) });
    stream.write("first\n");
    await turn();
    stream.write("other\n");
    await turn();
    expect(writes.map((w) => w.toString())).toEqual(["first\n", "other\n"]);
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

describe("processLogger writes a turn's lines before the next callback runs", () => {
  it("does not wait for the thread pool (busy here with four long hashes)", () => {
    const logger = pathToFileURL(join(ROOT, "dist/cli/logger.js")).href;
    const out = join(mkdtempSync(join(tmpdir(), "ccts-logger-")), "stdout");
    const fd = openSync(out, "w");
    const result = spawnSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import { pbkdf2 } from "node:crypto";
         import { fstatSync } from "node:fs";
         import { processLogger } from "${logger}";
         for (let i = 0; i < 4; i++) pbkdf2("p", "s", 5_000_000, 32, "sha256", () => {});
         const log = processLogger();
         log.info("line");
         setImmediate(() => { process.stderr.write(String(fstatSync(1).size)); process.exit(0); });`,
      ],
      {
        encoding: "utf8",
        stdio: ["ignore", fd, "pipe"],
        env: { ...process.env, CCTS_LOG_LEVEL: "info", UV_THREADPOOL_SIZE: "4" },
        timeout: 30_000,
      },
    );
    closeSync(fd);
    expect(result.status).toBe(0);
    const written = readFileSync(out, "utf8");
    expect(Number(result.stderr)).toBe(Buffer.byteLength(written));
    expect(JSON.parse(written).msg).toBe("line");
  });
});

describe("processLogging's access-log writer", () => {
  it("writes, into the logger's output and in order with its lines, what the logger writes", () => {
    const logging = pathToFileURL(join(ROOT, "dist/cli/logger.js")).href;
    const result = spawnSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import { processLogging } from "${logging}";
         const { logger, accessLog } = processLogging();
         Date.now = () => 1796000000123;
         const line = { reqId: "req-a", method: "GET", url: "/cloud-config/52:54:00:12:34:01", status: 200, ms: 0.0315, remoteAddress: "127.0.0.1" };
         accessLog(line);
         logger.info({ reqId: "req-a", method: "GET", url: line.url, status: 200, responseTime: 0.032, remoteAddress: "127.0.0.1" }, "request");
         logger.info("between");
         logger.level = "warn";
         accessLog({ ...line, reqId: "req-b" });
         logger.level = "info";
         accessLog({ ...line, reqId: "req-c", remoteAddress: undefined });`,
      ],
      { encoding: "utf8", env: { ...process.env, CCTS_LOG_LEVEL: "info" }, timeout: 30_000 },
    );
    expect(result.status).toBe(0);
    const lines = result.stdout.split("\n").filter(Boolean);
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe(lines[1]);
    expect(JSON.parse(lines[0]!)).toEqual({
      level: 30,
      time: 1796000000123,
      pid: expect.any(Number),
      hostname: expect.any(String),
      reqId: "req-a",
      method: "GET",
      url: "/cloud-config/52:54:00:12:34:01",
      status: 200,
      responseTime: 0.032,
      remoteAddress: "127.0.0.1",
      msg: "request",
    });
    expect(JSON.parse(lines[2]!).msg).toBe("between");
    expect(JSON.parse(lines[3]!)).toMatchObject({ reqId: "req-c", msg: "request" });
    expect(JSON.parse(lines[3]!)).not.toHaveProperty("remoteAddress");
  });
});
