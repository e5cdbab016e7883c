// The processes' logger: pino (JSON lines, level from CCTS_LOG_LEVEL) on standard output, with the
// lines of one event-loop turn written together. The server logs one access line per request;
// handing each line to the output stream on its own cost ~5 us of the main thread per request
// (24.8 against 19.7 us with the log off, server alone under wrk); with one write per turn the
// log costs ~2 us (21.6 us). That text is written synchronously, as Node writes its own stdout
// to files and pipes: written asynchronously (pino's default) it waited in the stream's buffer and
// the thread pool, long enough to reach V8's old space; the server under wrk ran a full GC every
// 0.8 s, and its RSS after two 10-s runs was 131-133 against 118-125 MiB synchronous (req/s alike
// or better: 41-45k against 45-51k). The servers' access lines skip pino's generic formatting:
// they are written as bytes straight into the turn's buffer (server/access-log.ts), in order with
// the other lines, which are encoded into it as they come.
import { hostname } from "node:os";
import { type DestinationStream, type Logger, pino } from "pino";
import { type AccessLog, jsonLinesAccessLog, type LineBytes } from "../server/access-log.js";

export interface ProcessLogging {
  logger: Logger;
  /** The access-log writer for the HTTP server: the lines the logger would write, made directly. */
  accessLog: AccessLog;
}

export function processLogging(): ProcessLogging {
  // Sync: see above. Bytes: the turn's lines are one Buffer already.
  const out = pino.destination({ dest: 1, sync: true, contentMode: "buffer" });
  const lines = batchedPerTurn({
    // SonicBoom's types name strings only; in buffer mode it writes Buffers.
    write: (bytes) => out.write(bytes as unknown as string),
    flush: (callback) => out.flush(callback),
  });
  // pino's default base, spelled out: the access-log writer puts the same fields in its lines.
  const base = { pid: process.pid, hostname: hostname() };
  const logger = pino({ level: process.env.CCTS_LOG_LEVEL ?? "info", base }, lines);
  const accessLog = jsonLinesAccessLog({ base, infoEnabled: () => logger.isLevelEnabled("info"), lines });
  return { logger, accessLog };
}

export function processLogger(): Logger {
  return processLogging().logger;
}

/** What batchedPerTurn writes to (a SonicBoom in buffer mode, or a test's collector). */
export interface ByteSink {
  write(bytes: Buffer): unknown;
  flush?(callback: (err?: Error | null) => void): void;
}

/** A turn's lines start in a buffer of this size; one that grew beyond MAX is dropped after its turn. */
const TURN_BYTES = 64 * 1024;
const MAX_KEPT_TURN_BYTES = 1024 * 1024;

export type TurnLines = DestinationStream &
  LineBytes & { flush(callback?: (err?: Error | null) => void): void };

/**
 * A stream that keeps the lines written during one event-loop turn in one buffer and hands them to
 * `sink` as one write when the turn ends (setImmediate), in order. Lines come as text (pino's) or
 * as bytes written into the buffer (LineBytes). Lines still pending when the process exits go out
 * first: the exit listener is put before the sink's own (pino's flush of its stream).
 */
export function batchedPerTurn(sink: ByteSink): TurnLines {
  let buffer = Buffer.allocUnsafeSlow(TURN_BYTES);
  let end = 0;
  let scheduled = false;
  const writePending = () => {
    scheduled = false;
    if (end === 0) return;
    // A copy: the sink may hold on to what it is given (a write it must retry), and this buffer
    // takes the next turn's lines.
    const bytes = Buffer.allocUnsafeSlow(end);
    buffer.copy(bytes, 0, 0, end);
    end = 0;
    if (buffer.length > MAX_KEPT_TURN_BYTES) buffer = Buffer.allocUnsafeSlow(TURN_BYTES);
    sink.write(bytes);
  };
  const reserve = (bytes: number) => {
    if (end + bytes > buffer.length) {
      const larger = Buffer.allocUnsafeSlow(Math.max(buffer.length * 2, end + bytes));
      buffer.copy(larger, 0, 0, end);
      buffer = larger;
    }
    return buffer;
  };
  const wrote = (to: number) => {
    end = to;
    if (!scheduled) {
      scheduled = true;
      setImmediate(writePending);
    }
  };
  process.prependListener("exit", writePending);
  return {
    write(line: string) {
      // UTF-8 takes at most 3 bytes per UTF-16 unit.
      wrote(end + reserve(line.length * 3).write(line, end, "utf8"));
    },
    reserve,
    get end() {
      return end;
    },
    wrote,
    // logger.flush(): the pending lines, then the sink's own buffer.
    flush(callback = () => {}) {
      writePending();
      if (sink.flush) sink.flush(callback);
      else callback();
    },
  };
}
