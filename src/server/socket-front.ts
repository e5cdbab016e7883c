// The socket front: a connection's plain document requests are answered straight from its bytes,
// before node:http builds a request and a response object for them. Under a boot storm nearly
// every request is a small `GET /<document route>` with a Host header and little else; node:http's
// per-request objects cost more CPU than everything else ccts does for it (bench/README.md).
//
// It answers a request only when it understands all of it: one complete request head in the bytes
// received, strictly formed (request line, token header names, visible header values, CRLF
// only), GET in origin form, HTTP/1.0 or 1.1, no body, no upgrade, no Expect, at most one of each
// header it reads, and a request the document fast path answers (fast-path.ts). The first request
// that is anything else, or a head split across reads, hands the connection to node:http for good:
// its bytes are put back and node:http's own connection listener takes over, so llhttp, the
// timeouts, the limits and Fastify decide everything the front does not. Answers already written
// stay in order ahead of anything node:http writes.
//
// Answers are written together at the end of the event loop's turn (setImmediate), after every
// connection that had bytes in this turn was read, not one by one as each request is read. On
// loopback and on a pod's veth the kernel delivers a write to the reader in the writer's own
// system call, waking the reader's thread when it sleeps; written one by one, nearly every answer
// woke the client again (an inter-processor interrupt, dear in a VM): 19% of the server's CPU in
// `perf`, against 9% of nginx's. Written back to back, the first wakes it and the rest find it
// awake: the cluster server's CPU per request went 31-35 -> 21-23 us, its req/s 0.39-0.42x ->
// 0.59-0.65x of nginx's (bench/README.md).
import type { Server } from "node:http";
import type { Socket } from "node:net";
import type { Answer, DocumentFastPath } from "./fast-path.js";
import type { ServerLimits } from "./options.js";

/**
 * The node:http server settings the front mirrors while it holds a connection: the largest head,
 * the time a fresh connection has for its first head, the idle keep-alive time (and header).
 */
export type SocketFrontLimits = Pick<
  ServerLimits,
  "maxHeaderSize" | "headersTimeoutMs" | "keepAliveTimeoutMs"
>;

/** A plain GET, as the front reads it from a request head. */
export interface PlainGet {
  url: string;
  /** Whether the connection stays open after the answer (HTTP/1.1 unless `Connection: close`). */
  keepAlive: boolean;
  ifNoneMatch: string | undefined;
  forwardedFor: string | undefined;
}

const REQUEST_LINE = /^GET (\/[!-~]*) HTTP\/1\.([01])$/;
// RFC 9110 5.1 token name; value of visible characters (and obs-text) with optional whitespace
// around and single spaces or tabs inside. No CR or LF anywhere: the lines were split on CRLF.
const HEADER_LINE =
  /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*((?:[!-~\x80-\xff]+[ \t]+)*[!-~\x80-\xff]+)?[ \t]*$/;
/** Headers that mean the request is not a plain GET: a body, an upgrade, an expectation. */
const NOT_PLAIN = new Set([
  "content-length",
  "transfer-encoding",
  "upgrade",
  "expect",
  "te",
  "http2-settings",
]);

/**
 * The request a head (up to, not including, the blank line) asks for, or undefined when it is not
 * a plain GET the front may answer. Pure; latin1 in, as the bytes came.
 */
export function parsePlainGet(head: string): PlainGet | undefined {
  const lines = head.split("\r\n");
  const requestLine = REQUEST_LINE.exec(lines[0] ?? "");
  if (requestLine === null) return undefined;
  const http11 = requestLine[2] === "1";
  let host: string | undefined;
  let connection: string | undefined;
  let ifNoneMatch: string | undefined;
  let forwardedFor: string | undefined;
  for (let i = 1; i < lines.length; i++) {
    const header = HEADER_LINE.exec(lines[i]!);
    if (header === null) return undefined;
    const name = header[1]!.toLowerCase();
    const value = header[2] ?? "";
    if (NOT_PLAIN.has(name)) return undefined;
    // A repeated header the front reads: node:http would join or pick; leave that to it.
    if (name === "host") {
      if (host !== undefined) return undefined;
      host = value;
    } else if (name === "connection") {
      if (connection !== undefined) return undefined;
      connection = value.toLowerCase();
    } else if (name === "if-none-match") {
      if (ifNoneMatch !== undefined) return undefined;
      ifNoneMatch = value;
    } else if (name === "x-forwarded-for") {
      if (forwardedFor !== undefined) return undefined;
      forwardedFor = value;
    }
  }
  // HTTP/1.1 without Host is a 400 from node:http.
  if (http11 && host === undefined) return undefined;
  let keepAlive = http11;
  if (connection === "close") keepAlive = false;
  else if (connection === "keep-alive") keepAlive = true;
  else if (connection !== undefined) return undefined;
  return { url: requestLine[1]!, keepAlive, ifNoneMatch, forwardedFor };
}

/** HTTP's Date header value, made at most once a second (as node:http does). */
class DateHeader {
  private second = -1;
  private value = "";
  get(): string {
    const second = Math.floor(Date.now() / 1000);
    if (second !== this.second) {
      this.second = second;
      this.value = new Date(second * 1000).toUTCString();
    }
    return this.value;
  }
}

/**
 * The bytes node:http writes for the fast path's answer (fast-path.ts writeDocument): the same
 * status line, headers in the same order and spelling, then the body. One buffer, one write.
 */
export function answerBytes(
  answer: Answer,
  keepAlive: boolean,
  date: string,
  keepAliveSeconds: number,
): Buffer {
  const { doc } = answer;
  const connection = keepAlive
    ? `Connection: keep-alive\r\nKeep-Alive: timeout=${keepAliveSeconds}`
    : "Connection: close";
  const head =
    answer.status === 304
      ? `HTTP/1.1 304 Not Modified\r\netag: ${doc.etag}\r\ncache-control: no-cache\r\nDate: ${date}\r\n${connection}\r\n\r\n`
      : `HTTP/1.1 200 OK\r\netag: ${doc.etag}\r\ncache-control: no-cache\r\ncontent-type: ${doc.contentType}\r\ncontent-length: ${doc.length}\r\nDate: ${date}\r\n${connection}\r\n\r\n`;
  const withBody = answer.status === 200;
  const bytes = Buffer.allocUnsafe(Buffer.byteLength(head, "latin1") + (withBody ? doc.length : 0));
  const at = bytes.write(head, 0, "latin1");
  if (withBody) doc.copyBodyTo(bytes, at);
  return bytes;
}

const CRLFCRLF = Buffer.from("\r\n\r\n");
/** node:http's test for a header value it refuses to send (ERR_INVALID_CHAR). */
const INVALID_HEADER_CHAR = /[^\t\x20-\x7e\x80-\xff]/;

/**
 * Puts the front before a node:http server's connection listener. `release()` ends every
 * connection the front holds, as node:http's closeIdleConnections ends its own: call it when the
 * server starts closing (new connections then go to node:http, whose app answers 503).
 */
export class SocketFront {
  private readonly held = new Set<HeldConnection>();
  private readonly date = new DateHeader();
  private readonly keepAliveSeconds: number;
  /** Connections with answers to write at the end of this turn of the event loop. */
  private readonly toWrite: HeldConnection[] = [];
  private readonly writeQueued = () => {
    for (const connection of this.toWrite.splice(0)) {
      try {
        if (connection.writeAnswers()) connection.pauseIfBehind();
      } catch (err) {
        // That connection ends, the others are written.
        connection.fail(err);
      }
    }
  };

  constructor(
    private readonly fastPath: DocumentFastPath,
    readonly limits: SocketFrontLimits,
  ) {
    this.keepAliveSeconds = Math.floor(limits.keepAliveTimeoutMs / 1000);
  }

  /** Takes the server's 'connection' listeners (node:http's) and puts the front in their place. */
  attach(server: Server): void {
    const nodeListeners = server.listeners("connection") as ((socket: Socket) => void)[];
    const toNode = (socket: Socket) => {
      for (const listener of nodeListeners) listener.call(server, socket);
    };
    server.removeAllListeners("connection");
    server.on("connection", (socket: Socket) => {
      if (this.fastPath.closing()) toNode(socket);
      else this.held.add(new HeldConnection(socket, this, toNode));
    });
  }

  release(): void {
    // Each complete request a held connection sent is answered; one whose client pipelines more
    // than it reads (paused until drained) is cut like an idle one.
    for (const connection of [...this.held]) connection.close();
  }

  /** Answers what the bytes ask; hands the connection off at the first thing it cannot. */
  receive(connection: HeldConnection, chunk: Buffer): void {
    const { socket } = connection;
    let at = 0;
    while (at < chunk.length) {
      const answered = this.answerOne(connection, chunk, at);
      if (answered === undefined) {
        connection.handOff(chunk.subarray(at));
        return;
      }
      at = answered.next;
      if (!answered.keepAlive) {
        connection.close();
        return;
      }
      // A client that sends faster than it reads (its answers were written at once, past the
      // socket's high-water mark): node:http knows how to wait for it.
      if (socket.writableNeedDrain && at < chunk.length) {
        connection.handOff(chunk.subarray(at));
        return;
      }
    }
    connection.pauseIfBehind();
    connection.answeredOnce();
  }

  /** Writes `connection`'s queued answers at the end of this turn, with every other's. */
  writeAtEndOfTurn(connection: HeldConnection): void {
    if (this.toWrite.length === 0) setImmediate(this.writeQueued);
    this.toWrite.push(connection);
  }

  /** Answers the request whose head starts at `at`: where the next one starts, or undefined. */
  private answerOne(
    connection: HeldConnection,
    chunk: Buffer,
    at: number,
  ): { next: number; keepAlive: boolean } | undefined {
    const { socket } = connection;
    const end = chunk.indexOf(CRLFCRLF, at);
    if (end < 0 || end - at > this.limits.maxHeaderSize) return undefined;
    const get = parsePlainGet(chunk.toString("latin1", at, end));
    // Bytes after a request that closes the connection: node:http answers them 400; let it.
    if (get === undefined || (!get.keepAlive && end + CRLFCRLF.length < chunk.length)) return undefined;
    const answer = this.fastPath.resolveOrPass({
      method: "GET",
      url: get.url,
      remoteAddress: socket.remoteAddress,
      forwardedFor: get.forwardedFor,
      ifNoneMatch: get.ifNoneMatch,
    });
    // A type node:http would refuse to send (its check): node:http and Fastify decide, as before.
    if (answer === undefined || INVALID_HEADER_CHAR.test(answer.doc.contentType)) return undefined;
    let bytes: Buffer;
    try {
      bytes = answerBytes(answer, get.keepAlive, this.date.get(), this.keepAliveSeconds);
    } catch {
      // The document could not be read (its file): nothing is written yet, so node:http and
      // Fastify take the request and answer it (500, logged, when they meet the same error).
      return undefined;
    }
    connection.queue(bytes, answer);
    return { next: end + CRLFCRLF.length, keepAlive: get.keepAlive };
  }

  /** After an answer is written: its metrics and access-log line. */
  settle(answer: Answer): void {
    this.fastPath.settle(answer);
  }

  forget(connection: HeldConnection): void {
    this.held.delete(connection);
  }

  failed(err: unknown): void {
    this.fastPath.logError(err);
  }
}

/** A connection while the front holds it: its listeners, removed again when it goes to node:http. */
class HeldConnection {
  private readonly onData = (chunk: Buffer) => {
    try {
      this.front.receive(this, chunk);
    } catch (err) {
      this.fail(err);
    }
  };
  private readonly onTimeout = () => this.socket.destroy();
  // A reset or broken pipe of an idle client: nothing to answer; 'close' follows.
  private readonly onError = () => this.socket.destroy();
  private readonly onClose = () => this.front.forget(this);
  // The client is done sending (node:http's server allows half-open connections): every request
  // it sent is answered, so end ours too.
  private readonly onEnd = () => this.close();
  /** Whether the socket's timeout is the keep-alive one yet. */
  private idle = false;
  /** Answers not written yet (the front writes them at the end of the turn), in order. */
  private queued: { bytes: Buffer; answer: Answer }[] = [];
  private queuedBytes = 0;

  constructor(
    readonly socket: Socket,
    private readonly front: SocketFront,
    /** node:http's connection listeners of the server the socket came to. */
    private readonly toNode: (socket: Socket) => void,
  ) {
    socket.setNoDelay(true);
    socket.setTimeout(front.limits.headersTimeoutMs);
    socket.on("data", this.onData);
    socket.on("end", this.onEnd);
    socket.on("timeout", this.onTimeout);
    socket.on("error", this.onError);
    socket.on("close", this.onClose);
  }

  /**
   * Queues an answer, written at the end of the turn with the others; at once when the queue
   * reaches the socket's high-water mark (a client pipelining many requests in one read).
   */
  queue(bytes: Buffer, answer: Answer): void {
    if (this.queued.length === 0) this.front.writeAtEndOfTurn(this);
    this.queued.push({ bytes, answer });
    this.queuedBytes += bytes.length;
    if (this.queuedBytes >= this.socket.writableHighWaterMark) this.writeAnswers();
  }

  /** Writes the queued answers (in one system call when several), then settles them. */
  writeAnswers(): boolean {
    if (this.queued.length === 0) return false;
    const queued = this.queued;
    this.queued = [];
    this.queuedBytes = 0;
    // The client is gone (reset, timed out): nothing to send them to.
    if (this.socket.destroyed) return false;
    const { socket } = this;
    if (queued.length === 1) socket.write(queued[0]!.bytes);
    else {
      socket.cork();
      for (const { bytes } of queued) socket.write(bytes);
      socket.uncork();
    }
    for (const { answer } of queued) this.front.settle(answer);
    return true;
  }

  /** Gives the connection, and the bytes not yet answered (at least a part of a head), to node:http. */
  handOff(rest: Buffer): void {
    // Ours first: the answers to requests before `rest` go ahead of anything node:http writes.
    this.writeAnswers();
    this.detach();
    this.socket.unshift(rest);
    this.toNode(this.socket);
  }

  /**
   * From the first answer on, the idle timeout is keepAliveTimeoutMs (before it, headersTimeoutMs).
   * Set once: the socket's timer restarts by itself on every read and write.
   */
  answeredOnce(): void {
    if (this.idle) return;
    this.idle = true;
    this.socket.setTimeout(this.front.limits.keepAliveTimeoutMs);
  }

  /**
   * Reads nothing more until the client has taken what was written. Only for a connection the
   * front still reads: called at the end of a read it answered whole, or after writing its queue
   * (which close and handOff empty first, so the end of the turn finds nothing to write there).
   */
  pauseIfBehind(): void {
    const { socket } = this;
    if (!socket.writableNeedDrain || socket.isPaused()) return;
    socket.pause();
    socket.once("drain", () => socket.resume());
  }

  /**
   * An error of the front's own, a bug, not the client's doing: this connection ends (the answers
   * made before it are sent), the server goes on.
   */
  fail(err: unknown): void {
    this.front.failed(err);
    this.writeAnswers();
    this.socket.destroy();
  }

  /**
   * Ends the connection once what was written is sent: after an answer that closes it (HTTP/1.0,
   * `Connection: close`), when the client ended its side, when the server closes.
   */
  close(): void {
    this.writeAnswers();
    this.front.forget(this);
    // Reads stop; the error and timeout listeners stay until the socket is gone.
    this.socket.removeListener("data", this.onData);
    this.socket.removeListener("end", this.onEnd);
    this.socket.end(() => this.socket.destroy());
  }

  private detach(): void {
    this.front.forget(this);
    const { socket } = this;
    socket.removeListener("data", this.onData);
    socket.removeListener("end", this.onEnd);
    socket.removeListener("timeout", this.onTimeout);
    socket.removeListener("error", this.onError);
    socket.removeListener("close", this.onClose);
    socket.setTimeout(0);
  }
}
