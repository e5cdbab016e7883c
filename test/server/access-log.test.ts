// The access log's two writers write the same bytes: the direct JSON-lines writer (the processes')
// and the one through pino (any logger the app is given), for every kind of field value.
import { hostname } from "node:os";
import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { batchedPerTurn } from "../../src/cli/logger.js";
import {
  type AccessLine,
  jsonLinesAccessLog,
  type LineBytes,
  loggerAccessLog,
} from "../../src/server/access-log.js";

const base = { pid: process.pid, hostname: hostname() };

// One line buffer for the file (each one adds an exit listener); flushed by each check.
const written: Buffer[] = [];
const turnLines = batchedPerTurn({ write: (bytes) => written.push(bytes) });

function writers(level = "info") {
  const viaPino: string[] = [];
  const logger = pino({ level, base }, { write: (line: string) => viaPino.push(line) });
  let linesAsText = 0;
  // The real line buffer, counting the lines that came as text rather than as bytes.
  const lines: LineBytes = {
    write: (text) => {
      linesAsText++;
      turnLines.write(text);
    },
    reserve: (bytes) => turnLines.reserve(bytes),
    get end() {
      return turnLines.end;
    },
    wrote: (end) => turnLines.wrote(end),
  };
  turnLines.flush();
  written.length = 0;
  return {
    logger,
    /** What pino wrote, as one text. */
    viaPino: () => viaPino.join(""),
    /** What the direct writer wrote, as one text. */
    direct: () => {
      turnLines.flush();
      return Buffer.concat(written).toString("utf8");
    },
    linesAsText: () => linesAsText,
    throughPino: loggerAccessLog(logger),
    straight: jsonLinesAccessLog({ base, infoEnabled: () => logger.isLevelEnabled("info"), lines }),
  };
}

const line = (over: Partial<AccessLine>): AccessLine => ({
  reqId: "req-1",
  method: "GET",
  url: "/cloud-config/52:54:00:12:34:01",
  status: 200,
  ms: 0.123456,
  remoteAddress: "127.0.0.1",
  ...over,
});

/** Name, line, and whether the direct writer writes it as bytes (else as text). */
const cases: [string, AccessLine, "bytes" | "text"][] = [
  ["a document answer", line({}), "bytes"],
  ["a 304", line({ status: 304, ms: 0.0004 }), "bytes"],
  ["no client address", line({ remoteAddress: undefined }), "bytes"],
  ["an IPv6 client", line({ remoteAddress: "::ffff:10.0.0.7" }), "bytes"],
  ["quotes and backslashes", line({ url: '/cloud-config/"a"\\b', method: "HEAD", status: 404 }), "text"],
  ["control characters", line({ url: "/x\u0001\t\n\u001f", status: 400 }), "text"],
  ["latin1 bytes as node:http reads them", line({ url: "/\u00e9\u00ff\u0080" }), "text"],
  ["U+2028 and U+2029", line({ url: "/\u2028\u2029" }), "text"],
  ["a URL longer than 200 characters", line({ url: `/x${"y".repeat(5000)}`, status: 404 }), "text"],
  ["exactly 200 characters", line({ url: `/${"z".repeat(199)}` }), "bytes"],
  ["a long slow answer", line({ ms: 123456.7891, status: 500, method: "POST" }), "bytes"],
  ["a whole number of milliseconds", line({ ms: 2 }), "bytes"],
  ["zero time", line({ ms: 0 }), "bytes"],
  ["a negative time that rounds to zero", line({ ms: -0.0004 }), "bytes"],
  ["a negative time", line({ ms: -1 }), "text"],
  ["a time of days", line({ ms: 1e10 }), "text"],
  ["a time that is not a number", line({ ms: Number.NaN }), "text"],
  ["an infinite time", line({ ms: Number.POSITIVE_INFINITY }), "text"],
  ["a status that is not a whole number", line({ status: 200.5 }), "text"],
  ["a request id from a custom generator", line({ reqId: 'id "7"' }), "text"],
  ["a hostname-like address", line({ remoteAddress: "proxy\u00e9" }), "text"],
];

describe("jsonLinesAccessLog", () => {
  afterEach(() => vi.restoreAllMocks());

  it.each(cases)("writes the line pino writes: %s", (_name, access, as) => {
    vi.spyOn(Date, "now").mockReturnValue(1_796_000_000_123);
    const w = writers();
    w.throughPino(access);
    w.straight(access);
    const direct = w.direct();
    expect(direct).toBe(w.viaPino());
    expect(w.linesAsText()).toBe(as === "text" ? 1 : 0);
    // And it is one JSON line.
    expect(direct.endsWith("}\n")).toBe(true);
    expect(direct.indexOf("\n")).toBe(direct.length - 1);
    expect(JSON.parse(direct).msg).toBe("request");
  });

  it("escapes a lone surrogate, where pino writes it raw (no request has one: URLs are latin1)", () => {
    const w = writers();
    w.straight(line({ url: "/\ud800x" }));
    expect(JSON.parse(w.direct()).url).toBe("/\ud800x");
  });

  it("writes the same as pino for random times and addresses", () => {
    const w = writers();
    for (let i = 0; i < 2000; i++) {
      const access = line({
        reqId: `req-${i.toString(36)}`,
        ms: Math.random() * 10 ** ((i % 7) - 2),
        remoteAddress: `10.${i % 256}.${(i * 7) % 256}.${(i * 13) % 256}`,
      });
      vi.spyOn(Date, "now").mockReturnValue(1_796_000_000_000 + i);
      w.throughPino(access);
      w.straight(access);
    }
    expect(w.direct()).toBe(w.viaPino());
    expect(w.linesAsText()).toBe(0);
  });

  it("writes every response time of up to 10 s as pino does, and odd ones", () => {
    const w = writers();
    vi.spyOn(Date, "now").mockReturnValue(1_796_000_000_000);
    const times = [-1, -0.0004, 0.0004, 0.0005, 1e-9, 999999999.9994, 1e9, 1e10, 2 ** 53, 0.1 + 0.2];
    for (let us = 0; us <= 10_000_000; us += us < 20_000 ? 1 : 997) times.push(us / 1000);
    for (const ms of times) {
      w.throughPino(line({ ms }));
      w.straight(line({ ms }));
    }
    expect(w.direct()).toBe(w.viaPino());
    // All as bytes but -1, 10^9 and more (10^12 us and more).
    expect(w.linesAsText()).toBe(4);
  });

  it("follows the logger's level as it changes", () => {
    const w = writers("warn");
    const count = () => w.direct().split("\n").length - 1;
    w.straight(line({}));
    expect(count()).toBe(0);
    w.logger.level = "info";
    w.straight(line({}));
    expect(count()).toBe(1);
    w.logger.level = "silent";
    w.straight(line({}));
    expect(count()).toBe(1);
  });
});
