// The processes' logger: pino (JSON lines, level from CCTS_LOG_LEVEL) on standard output, with the
// lines of one event-loop turn written together. The server logs one access line per request;
// handing each line to the output stream on its own cost ~5 us of the main thread per request
// (24.8 against 19.7 us with the log off, server alone under wrk); with one write per turn the
// log costs ~2 us (21.6 us). That text is written synchronously, as Node writes its own stdout
// to files and pipes: written asynchronously (pino's default) it waited in the stream's buffer and
// the thread pool, long enough to reach V8's old space; the server under wrk ran a full GC every
// 0.8 s, and its RSS after two 10-s runs was 131-133 against 118-125 MiB synchronous (req/s alike
// or better: 41-45k against 45-51k). The servers' access lines skip pino's generic formatting
// (server/access-log.ts) and go into the same stream, in order with the other lines.
import { hostname } from "node:os";
import { type DestinationStream, type Logger, pino } from "pino";
import { type AccessLog, jsonLinesAccessLog } from "../server/access-log.js";

export interface ProcessLogging {
  logger: Logger;
  /** The access-log writer for the HTTP server: the lines the logger would write, made directly. */
  accessLog: AccessLog;
}

export function processLogging(): ProcessLogging {
  const stream = batchedPerTurn(pino.destination({ dest: 1, sync: true }));
  // pino's default base, spelled out: the access-log writer puts the same fields in its lines.
  const base = { pid: process.pid, hostname: hostname() };
  const logger = pino({ level: process.env.CCTS_LOG_LEVEL ?? "info", base }, stream);
  const accessLog = jsonLinesAccessLog({
    base,
    infoEnabled: () => logger.isLevelEnabled("info"),
    write: (line) => stream.write(line),
  });
  return { logger, accessLog };
}

export function processLogger(): Logger {
  return processLogging().logger;
}

/** What batchedPerTurn needs of the stream under it (a SonicBoom, or a test's collector). */
export interface LineSink {
  write(text: string): unknown;
  flush?(callback: (err?: Error | null) => void): void;
}

/**
 * A stream that keeps the lines written during one event-loop turn and hands them to `sink` as
 * one text when the turn ends (setImmediate), in order. Lines still pending when the process exits
 * go out first: the exit listener is put before the sink's own (pino's flush of its stream).
 */
export function batchedPerTurn(
  sink: LineSink,
): DestinationStream & { flush(callback?: (err?: Error | null) => void): void } {
  let pending: string[] = [];
  let scheduled = false;
  const writePending = () => {
    scheduled = false;
    if (pending.length === 0) return;
    const text = pending.join("");
    pending = [];
    sink.write(text);
  };
  process.prependListener("exit", writePending);
  return {
    write(line: string) {
      pending.push(line);
      if (!scheduled) {
        scheduled = true;
        setImmediate(writePending);
      }
    },
    // logger.flush(): the pending lines, then the sink's own buffer.
    flush(callback = () => {}) {
      writePending();
      if (sink.flush) sink.flush(callback);
      else callback();
    },
  };
}
