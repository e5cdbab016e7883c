// The access log's two writers write the same bytes: the direct JSON-lines writer (the processes')
// and the one through pino (any logger the app is given), for every kind of field value.
import { hostname } from "node:os";
import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type AccessLine, jsonLinesAccessLog, loggerAccessLog } from "../../src/server/access-log.js";

const base = { pid: process.pid, hostname: hostname() };

function writers(level = "info") {
  const viaPino: string[] = [];
  const direct: string[] = [];
  const logger = pino({ level, base }, { write: (line: string) => viaPino.push(line) });
  return {
    logger,
    viaPino,
    direct,
    throughPino: loggerAccessLog(logger),
    straight: jsonLinesAccessLog({
      base,
      infoEnabled: () => logger.isLevelEnabled("info"),
      write: (line) => direct.push(line),
    }),
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

const cases: [string, AccessLine][] = [
  ["a document answer", line({})],
  ["a 304", line({ status: 304, ms: 0.0004 })],
  ["no client address", line({ remoteAddress: undefined })],
  ["an IPv6 client", line({ remoteAddress: "::ffff:10.0.0.7" })],
  ["quotes and backslashes", line({ url: '/cloud-config/"a"\\b', method: "HEAD", status: 404 })],
  ["control characters", line({ url: "/x\u0001\t\n\u001f", status: 400 })],
  ["latin1 bytes as node:http reads them", line({ url: "/\u00e9\u00ff\u0080" })],
  ["U+2028 and U+2029", line({ url: "/\u2028\u2029" })],
  ["a URL longer than 200 characters", line({ url: `/x${"y".repeat(5000)}`, status: 404 })],
  ["exactly 200 characters", line({ url: `/${"z".repeat(199)}` })],
  ["a long slow answer", line({ ms: 123456.7891, status: 500, method: "POST" })],
  ["a whole number of milliseconds", line({ ms: 2 })],
  ["zero time", line({ ms: 0 })],
  ["a time that is not a number", line({ ms: Number.NaN })],
  ["an infinite time", line({ ms: Number.POSITIVE_INFINITY })],
  ["a request id from a custom generator", line({ reqId: 'id "7"' })],
];

describe("jsonLinesAccessLog", () => {
  afterEach(() => vi.restoreAllMocks());

  it.each(cases)("writes the line pino writes: %s", (_name, access) => {
    vi.spyOn(Date, "now").mockReturnValue(1_796_000_000_123);
    const w = writers();
    w.throughPino(access);
    w.straight(access);
    expect(w.viaPino).toHaveLength(1);
    expect(w.direct).toEqual(w.viaPino);
    // And it is one JSON line.
    expect(w.direct[0]!.endsWith("}\n")).toBe(true);
    expect(JSON.parse(w.direct[0]!).msg).toBe("request");
  });

  it("escapes a lone surrogate, where pino writes it raw (no request has one: URLs are latin1)", () => {
    const w = writers();
    w.straight(line({ url: "/\ud800x" }));
    expect(JSON.parse(w.direct[0]!).url).toBe("/\ud800x");
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
    expect(w.direct).toEqual(w.viaPino);
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
    expect(w.direct).toEqual(w.viaPino);
  });

  it("follows the logger's level as it changes", () => {
    const w = writers("warn");
    w.straight(line({}));
    expect(w.direct).toEqual([]);
    w.logger.level = "info";
    w.straight(line({}));
    expect(w.direct).toHaveLength(1);
    w.logger.level = "silent";
    w.straight(line({}));
    expect(w.direct).toHaveLength(1);
  });
});
