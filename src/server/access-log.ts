// The access log: one line per answered request, never bodies. Two writers of the same line: any
// pino-compatible logger (the app's), and a direct JSON-lines writer for the processes' own logger,
// whose format ccts sets (cli/logger.ts). Under load the line is written once per request: through
// pino (its walk over the fields, serializer and formatter lookups), then joined with the turn's
// other lines and encoded, it took 5.9 us of the server's ~24 us of main thread per request
// (CPU profiles under wrk); written as bytes into the turn's buffer, 2.3 us, a third of it the
// write(2) of the log (bench/README.md). Tests keep the two writers byte-equal (but for a lone
// UTF-16 surrogate, which pino writes raw and no request can carry).
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

/** The fields of the line, in their order (the message comes after them). */
function accessFields(line: AccessLine) {
  return {
    reqId: line.reqId,
    method: line.method,
    url: shorten(line.url),
    status: line.status,
    responseTime: responseTime(line.ms),
    remoteAddress: line.remoteAddress,
  };
}

/** Through a logger: its level, serializers and formatters decide the line. */
export function loggerAccessLog(log: FastifyBaseLogger): AccessLog {
  return (line) => log.info(accessFields(line), "request");
}

/** Where jsonLinesAccessLog puts its lines: the logger's own line buffer (cli/logger.ts). */
export interface LineBytes {
  /** A whole line as text. */
  write(line: string): void;
  /** The buffer the next line goes into, with at least `bytes` free after `end`. */
  reserve(bytes: number): Buffer;
  /** Where the next line starts. */
  readonly end: number;
  /** A whole line is in the buffer up to `end`. */
  wrote(end: number): void;
}

/** What jsonLinesAccessLog needs of the logger whose lines it writes beside. */
export interface JsonLinesTarget {
  /** The logger's base fields (pino's `base`: strings and numbers), after level and time. */
  base: Readonly<Record<string, string | number>>;
  /** Whether info lines are written now (the level can change while the process runs). */
  infoEnabled(): boolean;
  lines: LineBytes;
}

const latin1 = (text: string) => Buffer.from(text, "latin1");
const LINE_START = latin1('{"level":30,"time":');
const METHOD_FIELD = latin1('","method":"');
const URL_FIELD = latin1('","url":"');
const STATUS_FIELD = latin1('","status":');
const RESPONSE_TIME_FIELD = latin1(',"responseTime":');
const ADDRESS_FIELD = latin1(',"remoteAddress":"');
const LINE_END_QUOTED = latin1('","msg":"request"}\n');
const LINE_END = latin1(',"msg":"request"}\n');
/** The field names' bytes; then room for the three numbers (16 digits at most) and the end. */
const FIXED_BYTES =
  LINE_START.length +
  METHOD_FIELD.length +
  URL_FIELD.length +
  STATUS_FIELD.length +
  RESPONSE_TIME_FIELD.length +
  ADDRESS_FIELD.length;
const NUMBER_BYTES = 3 * 16 + LINE_END_QUOTED.length + 1;

/**
 * Copies a string that JSON writes as it is (printable ASCII but `"` and `\`) into `buffer` at
 * `at`; returns where it ended, or -1 when the string has any other character.
 */
function putPlain(buffer: Buffer, at: number, text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return -1;
    buffer[at + i] = c;
  }
  return at + text.length;
}

/** Writes the decimal digits of a whole number from 0 to 2^53; returns where they end. */
function putDigits(buffer: Buffer, at: number, n: number): number {
  let digits = 1;
  for (let rest = n; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  for (let i = digits - 1, rest = n; i >= 0; i--, rest = Math.floor(rest / 10))
    buffer[at + i] = 0x30 + (rest % 10);
  return at + digits;
}

/**
 * responseTime(ms) as JSON writes it, as bytes, from whole microseconds (the text of a decimal
 * with at most 12 digits is the shortest that reads back as the same double), or -1 from 10^12 us
 * on and for what is not a number.
 */
function putResponseTime(buffer: Buffer, at: number, ms: number): number {
  const us = Math.round(ms * 1000);
  if (!(us >= 0 && us < 1e12)) return -1;
  const whole = Math.floor(us / 1000);
  let fraction = us - whole * 1000;
  let end = putDigits(buffer, at, whole);
  if (fraction === 0) return end;
  buffer[end++] = 0x2e;
  let digits = 3;
  while (fraction % 10 === 0) {
    fraction /= 10;
    digits--;
  }
  // 0.05: the zeros before the fraction's first digit.
  for (let place = 10 ** (digits - 1); place > fraction; place /= 10) buffer[end++] = 0x30;
  return putDigits(buffer, end, fraction);
}

/**
 * The line pino writes for loggerAccessLog's call, given pino's default format (numeric level 30,
 * `time` in epoch ms, `base` fields, `msg`; no serializers, formatters or mixin for these keys),
 * written as bytes into the logger's line buffer: no string is made for it. A line with a string
 * JSON must escape, or a number out of the plain range, is made as text (the same text).
 */
export function jsonLinesAccessLog(target: JsonLinesTarget): AccessLog {
  const base = Object.entries(target.base)
    .map(([key, value]) => `,${JSON.stringify(key)}:${JSON.stringify(value)}`)
    .join("");
  const baseAndReqId = Buffer.from(`${base},"reqId":"`, "utf8");
  const { lines } = target;
  // The time's digits, made once per millisecond (tens of lines share one under load).
  let timeOfDigits = -1;
  let timeDigits = latin1("");

  const asBytes = (line: AccessLine, time: number): boolean => {
    const { reqId, method, url, remoteAddress } = line;
    const status = line.status;
    if (!(Number.isInteger(status) && status >= 0)) return false;
    const variable = reqId.length + method.length + url.length + (remoteAddress?.length ?? 0);
    const buffer = lines.reserve(FIXED_BYTES + baseAndReqId.length + NUMBER_BYTES + variable);
    let at = lines.end;
    buffer.set(LINE_START, at);
    if (time !== timeOfDigits) {
      timeOfDigits = time;
      timeDigits = latin1(`${time}`);
    }
    buffer.set(timeDigits, at + LINE_START.length);
    at += LINE_START.length + timeDigits.length;
    buffer.set(baseAndReqId, at);
    at = putPlain(buffer, at + baseAndReqId.length, reqId);
    if (at < 0) return false;
    buffer.set(METHOD_FIELD, at);
    at = putPlain(buffer, at + METHOD_FIELD.length, method);
    if (at < 0 || url.length > MAX_URL_LENGTH) return false;
    buffer.set(URL_FIELD, at);
    at = putPlain(buffer, at + URL_FIELD.length, url);
    if (at < 0) return false;
    buffer.set(STATUS_FIELD, at);
    at = putDigits(buffer, at + STATUS_FIELD.length, status);
    buffer.set(RESPONSE_TIME_FIELD, at);
    at = putResponseTime(buffer, at + RESPONSE_TIME_FIELD.length, line.ms);
    if (at < 0) return false;
    if (remoteAddress === undefined) {
      buffer.set(LINE_END, at);
      lines.wrote(at + LINE_END.length);
      return true;
    }
    buffer.set(ADDRESS_FIELD, at);
    at = putPlain(buffer, at + ADDRESS_FIELD.length, remoteAddress);
    if (at < 0) return false;
    buffer.set(LINE_END_QUOTED, at);
    lines.wrote(at + LINE_END_QUOTED.length);
    return true;
  };

  return (line) => {
    if (!target.infoEnabled()) return;
    const time = Date.now();
    if (asBytes(line, time)) return;
    // JSON.stringify writes the fields as pino does: undefined left out, a number that is not
    // finite as null.
    const fields = JSON.stringify({ ...accessFields(line), msg: "request" });
    lines.write(`{"level":30,"time":${time}${base},${fields.slice(1)}\n`);
  };
}
