// The hot path of a boot-document request, answered before Fastify sees it. A request that
// names a known machine's document by a plain URL (`GET /cloud-config/<mac>`, `GET /ipxe?mac=<mac>`,
// ...) is answered here with the same status, headers, body, access-log line and metrics Fastify's
// route would produce; every other request (HEAD, unknown or malformed MAC, an odd URL, a limited
// or unauthorised client, a closing server) goes on to Fastify, which answers it as before. Under
// a boot storm nearly every request is the first kind, and Fastify's per-request objects, hooks
// and reply handling cost ~20% of the server's CPU per request (54 -> 44 us, bench/README.md).
// Two fronts ask it: the socket front (socket-front.ts), straight from a connection's bytes, and
// the node:http request listener, for the connections the socket front handed to node:http.
import type { IncomingMessage, ServerResponse } from "node:http";
import proxyAddr from "@fastify/proxy-addr";
import { tryParseMac } from "../api/mac.js";
import type { AccessLine } from "./access-log.js";
import { addressAllowed } from "./authorization.js";
import { notModified } from "./conditional.js";
import type { DocumentLookup, DocumentPick, ServedDocument } from "./lookup.js";
import type { AppMetrics } from "./metrics.js";
import type { RateLimiter } from "./rate-limit.js";

/** A per-MAC document route: its Fastify pattern and where in the URL the MAC is. */
export interface DocumentRoute {
  /** `/cloud-config/:mac` (MAC in the path) or `/ipxe` (MAC in the query, `?mac=`). */
  pattern: string;
  pick: DocumentPick;
}

/** What the fast path shares with the Fastify app it sits in front of. */
export interface FastPathContext {
  lookup: DocumentLookup;
  metrics: AppMetrics;
  limiter: RateLimiter | undefined;
  authorizeByAddress: boolean;
  /** The client's address, as Fastify's `request.ip` gives it (see clientAddress). */
  clientAddress(remoteAddress: string | undefined, forwardedFor: string | undefined): string | undefined;
  /** Writes the access-log line of an answered request (the same line the Fastify hook writes). */
  logAnswered(line: AccessLine): void;
  /** The request id Fastify would have given this request (one sequence for both paths). */
  nextRequestId(): string;
  /** True once the app is closing: Fastify then answers 503 and closes the connection. */
  closing(): boolean;
  /** Logs an error thrown after the answer was written (before that, Fastify answers 500). */
  logError(err: unknown): void;
}

/** What the fast path reads of a request, from either front (node:http or the socket front). */
export interface DocumentRequest {
  method: string | undefined;
  /** The request target as sent (origin form: path and query). */
  url: string;
  /** The socket's peer. */
  remoteAddress: string | undefined;
  /** X-Forwarded-For, read only when the peer is a trusted proxy. */
  forwardedFor: string | undefined;
  ifNoneMatch: string | undefined;
}

/** A request the fast path answers: 200 with the document, or 304 when the client has it. */
export interface Answer {
  status: 200 | 304;
  /** Output name, for the per-document metric. */
  name: string;
  doc: ServedDocument;
  /** The route's pattern, for the request metrics. */
  pattern: string;
  url: string;
  clientAddress: string | undefined;
  /** performance.now() when the request was taken up. */
  start: number;
}

interface PathRoute {
  pattern: string;
  prefix: string;
  suffix: string;
  pick: DocumentPick;
}

/**
 * The client address of a request the way Fastify's `request.ip` computes it for the app's
 * trustProxy (its lib/request.js, with the same @fastify/proxy-addr): the socket's peer, or, when
 * that peer is a trusted proxy, the last untrusted address of X-Forwarded-For.
 */
export function clientAddress(
  trustProxy: boolean | string | string[] | undefined,
): FastPathContext["clientAddress"] {
  if (!trustProxy) return (remoteAddress) => remoteAddress;
  const trust =
    trustProxy === true
      ? () => true
      : proxyAddr.compile(
          typeof trustProxy === "string" ? trustProxy.split(",").map((s) => s.trim()) : trustProxy,
        );
  return (remoteAddress, forwardedFor) => {
    // The two fields @fastify/forwarded reads of a request.
    const req = { socket: { remoteAddress }, headers: { "x-forwarded-for": forwardedFor } };
    return proxyAddr.all(req as unknown as IncomingMessage, trust).at(-1);
  };
}

/**
 * The request listener's first step. The app adds its document routes as it registers them (the
 * server, and with it this object, exists before the first route); `answer` is true when it
 * answered the request, false when Fastify must.
 */
export class DocumentFastPath {
  /** Routes with `?mac=`, by path. */
  private readonly byPath = new Map<string, DocumentRoute>();
  /** Routes with `:mac` in the path (no query string). */
  private readonly withMacInPath: PathRoute[] = [];

  constructor(private readonly ctx: FastPathContext) {}

  add(route: DocumentRoute): void {
    const at = route.pattern.indexOf(":mac");
    if (at < 0) this.byPath.set(route.pattern, route);
    else {
      const suffix = route.pattern.slice(at + ":mac".length);
      this.withMacInPath.push({ ...route, prefix: route.pattern.slice(0, at), suffix });
    }
  }

  private match(url: string): [route: DocumentRoute, rawMac: string] | undefined {
    const query = url.indexOf("?");
    if (query >= 0) {
      const route = this.byPath.get(url.slice(0, query));
      const rest = url.slice(query + 1);
      if (route === undefined || !rest.startsWith("mac=") || rest.includes("&")) return undefined;
      return [route, rest.slice("mac=".length)];
    }
    for (const route of this.withMacInPath) {
      if (!url.startsWith(route.prefix) || !url.endsWith(route.suffix)) continue;
      const raw = url.slice(route.prefix.length, url.length - route.suffix.length);
      if (raw.length > 0 && !raw.includes("/")) return [route, raw];
    }
    return undefined;
  }

  /** True once the app is closing (see FastPathContext). */
  closing(): boolean {
    return this.ctx.closing();
  }

  /** The node:http front: true when it answered the request, false when Fastify must. */
  answer(req: IncomingMessage, res: ServerResponse): boolean {
    let answer: Answer | undefined;
    try {
      answer = this.resolve({
        method: req.method,
        url: req.url ?? "",
        remoteAddress: req.socket.remoteAddress,
        forwardedFor: forwardedFor(req),
        ifNoneMatch: req.headers["if-none-match"],
      });
    } catch {
      // Nothing written yet: Fastify takes the request, meets the same error and answers 500.
      return false;
    }
    if (answer === undefined) return false;
    try {
      writeDocument(res, answer);
    } catch (err) {
      // Nothing sent yet: Fastify answers (500 if it meets the same error); else only logged.
      if (!res.headersSent) return false;
      this.ctx.logError(err);
      return true;
    }
    this.settle(answer);
    return true;
  }

  /** Logs an error of a request whose answer may be under way (see FastPathContext.logError). */
  logError(err: unknown): void {
    this.ctx.logError(err);
  }

  /**
   * The socket front's question (socket-front.ts): the answer to a plain GET, or undefined when
   * Fastify must answer it. The caller writes the answer, then calls `settle`.
   */
  resolveOrPass(request: DocumentRequest): Answer | undefined {
    try {
      return this.resolve(request);
    } catch {
      return undefined;
    }
  }

  /** After the answer is written: its metrics and access-log line (an error here is only logged). */
  settle(answer: Answer): void {
    const { ctx } = this;
    try {
      ctx.metrics.document(answer.name);
      const ms = performance.now() - answer.start;
      ctx.metrics.answered(answer.pattern, answer.status, ms / 1000);
      ctx.logAnswered({
        reqId: ctx.nextRequestId(),
        method: "GET",
        url: answer.url,
        status: answer.status,
        ms,
        remoteAddress: answer.clientAddress,
      });
    } catch (err) {
      ctx.logError(err);
    }
  }

  private resolve(request: DocumentRequest): Answer | undefined {
    const { ctx } = this;
    if (request.method !== "GET" || ctx.closing()) return undefined;
    const start = performance.now();
    const { url } = request;
    const matched = this.match(url);
    if (matched === undefined) return undefined;
    const [route, rawMac] = matched;
    const mac = tryParseMac(rawMac);
    if (mac === undefined) return undefined;
    const docs = ctx.lookup.machine(mac);
    if (docs === undefined) return undefined;
    const ip = ctx.clientAddress(request.remoteAddress, request.forwardedFor);
    if (ctx.authorizeByAddress && (ip === undefined || !addressAllowed(ip, docs.addresses))) return undefined;
    const picked = route.pick(docs);
    if (picked === undefined) return undefined;
    // Last: a token is taken only for a request answered here (Fastify's hook takes its own).
    if (ctx.limiter && (ip === undefined || !ctx.limiter.take(ip))) return undefined;
    const [name, doc] = picked;
    const status = notModified(request.ifNoneMatch, doc.etag) ? 304 : 200;
    return { status, name, doc, pattern: route.pattern, url, clientAddress: ip, start };
  }
}

/** X-Forwarded-For as @fastify/forwarded reads it (node:http joins repeated ones into one string). */
function forwardedFor(req: IncomingMessage): string | undefined {
  const header = req.headers["x-forwarded-for"];
  return typeof header === "string" ? header : undefined;
}

/** The answer's status line and headers as Fastify's reply sends them, then the body. */
function writeDocument(res: ServerResponse, { status, doc }: Answer): void {
  if (status === 304) {
    res.writeHead(304, ["etag", doc.etag, "cache-control", "no-cache"]);
    res.end();
    return;
  }
  // Read first (from the document file, in cluster mode): if that fails, nothing is sent yet.
  const body = doc.body;
  res.writeHead(200, [
    "etag",
    doc.etag,
    "cache-control",
    "no-cache",
    "content-type",
    doc.contentType,
    "content-length",
    String(body.length),
  ]);
  res.end(body);
}
