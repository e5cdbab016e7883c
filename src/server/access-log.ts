// The access log: one line per answered request, never bodies. Two writers of the same line: any
// pino-compatible logger (the app's), and a direct JSON-lines writer for the processes' own logger,
// whose format ccts sets (cli/logger.ts). Under load the line is written once per request: pino's
// generic path (its object walk, serializer and formatter lookups) took ~3.4 us of the server's
// ~24 us per request here, the direct writer ~1 us (bench/README.md). Tests keep the two
// byte-equal (but for a lone UTF-16 surrogate, which pino writes raw and no request can carry).
import type { FastifyBaseLogger } from "fastify";

export interface AccessLine {
  reqId: string;
  method: string;
  url: string;
  status: number;
  ms: number;
  remoteAddress: string | undefined;
}

export type AccessLog = (line: AccessLine) => void;

/** Longest URL logged as it came; longer ones are cut, with an ellipsis. */
const MAX_URL_LENGTH = 200;

function shorten(s: string): string {
  return s.length > MAX_URL_LENGTH ? `${s.slice(0, MAX_URL_LENGTH)}…` : s;
}

/** Milliseconds to the microsecond, as logged. */
function responseTime(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** A number as pino writes it: null when not finite. */
function jsonNumber(n: number): string {
  return Number.isFinite(n) ? String(n) : "null";
}

/** The decimal point and the zeros before a fraction's first digit, by their number. */
const POINT_AND_ZEROS = [".", ".0", ".00"];

/**
 * jsonNumber(responseTime(ms)), from whole microseconds: V8 prints an integer several times faster
 * than a fraction. Up to 10^12 us the two are the same text (the decimal has at most 12 digits,
 * so it is the shortest that reads back as the same double); beyond, and for NaN, jsonNumber.
 */
function responseTimeJson(ms: number): string {
  const us = Math.round(ms * 1000);
  if (!(us >= 0 && us < 1e12)) return jsonNumber(us / 1000);
  const whole = Math.floor(us / 1000);
  let fraction = us - whole * 1000;
  if (fraction === 0) return `${whole}`;
  let digits = 3;
  while (fraction % 10 === 0) {
    fraction /= 10;
    digits--;
  }
  const text = `${fraction}`;
  return `${whole}${POINT_AND_ZEROS[digits - text.length]}${text}`;
}

/** Through a logger: its level, serializers and formatters decide the line. */
export function loggerAccessLog(log: FastifyBaseLogger): AccessLog {
  return (line) =>
    log.info(
      {
        reqId: line.reqId,
        method: line.method,
        url: shorten(line.url),
        status: line.status,
        responseTime: responseTime(line.ms),
        remoteAddress: line.remoteAddress,
      },
      "request",
    );
}

/** What jsonLinesAccessLog needs of the logger whose lines it writes beside. */
export interface JsonLinesTarget {
  /** The logger's base fields (pino's `base`: strings and numbers), after level and time. */
  base: Readonly<Record<string, string | number>>;
  /** Whether info lines are written now (the level can change while the process runs). */
  infoEnabled(): boolean;
  /** The logger's destination: one line, newline included. */
  write(line: string): void;
}

/**
 * The line pino writes for loggerAccessLog's call, given pino's default format (numeric level 30,
 * `time` in epoch ms, `base` fields, `msg`; no serializers, formatters or mixin for these keys),
 * built as one template instead of by pino's walk over the fields.
 */
export function jsonLinesAccessLog(target: JsonLinesTarget): AccessLog {
  const base = Object.entries(target.base)
    .map(([key, value]) => `,${JSON.stringify(key)}:${JSON.stringify(value)}`)
    .join("");
  return (line) => {
    if (!target.infoEnabled()) return;
    // pino leaves out a field whose value is undefined.
    const address =
      line.remoteAddress === undefined ? "" : `,"remoteAddress":${JSON.stringify(line.remoteAddress)}`;
    target.write(
      `{"level":30,"time":${Date.now()}${base},"reqId":${JSON.stringify(line.reqId)},"method":${JSON.stringify(line.method)},"url":${JSON.stringify(shorten(line.url))},"status":${jsonNumber(line.status)},"responseTime":${responseTimeJson(line.ms)}${address},"msg":"request"}\n`,
    );
  };
}
