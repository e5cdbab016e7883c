// Fastify and Node http options for a server on a provisioning network: small requests only (GET
// and HEAD, no bodies), short timeouts so a stuck or hostile client cannot hold sockets, small
// headers. buildApp applies them; callers that build their own Fastify instance can reuse them.
import type { Server } from "node:http";
import type { FastifyHttpOptions } from "fastify";

export interface ServerLimits {
  /** Whole request (headers and body) must arrive within this time (Node `requestTimeout`). */
  requestTimeoutMs: number;
  /** Request headers must arrive within this time (Node `headersTimeout`, <= requestTimeoutMs). */
  headersTimeoutMs: number;
  /** A socket idle this long is closed (Fastify `connectionTimeout`, Node `server.timeout`). */
  connectionTimeoutMs: number;
  /** Idle keep-alive sockets are closed after this time. */
  keepAliveTimeoutMs: number;
  /** How often Node checks headersTimeout and requestTimeout (Node `connectionsCheckingInterval`). */
  connectionsCheckingIntervalMs: number;
  /** Largest request head in bytes; larger ones get 431 (Node `maxHeaderSize`). */
  maxHeaderSize: number;
  /** Longest path parameter (a MAC, an output name); longer ones get 414. */
  maxParamLength: number;
  /** Largest request body in bytes; no route takes a body. */
  bodyLimit: number;
}

export const DEFAULT_LIMITS: Readonly<ServerLimits> = Object.freeze({
  requestTimeoutMs: 10_000,
  headersTimeoutMs: 10_000,
  connectionTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  connectionsCheckingIntervalMs: 1_000,
  maxHeaderSize: 16 * 1024,
  maxParamLength: 128,
  bodyLimit: 1024,
});

/** The defaults with the given overrides, headersTimeoutMs capped by requestTimeoutMs as Node requires. */
export function effectiveLimits(limits: Partial<ServerLimits> = {}): ServerLimits {
  const l = { ...DEFAULT_LIMITS, ...limits };
  return { ...l, headersTimeoutMs: Math.min(l.headersTimeoutMs, l.requestTimeoutMs) };
}

/** The Fastify constructor options (with the Node http options inside) for the given limits. */
export function serverOptions(limits: Partial<ServerLimits> = {}): FastifyHttpOptions<Server> {
  const l = effectiveLimits(limits);
  return {
    requestTimeout: l.requestTimeoutMs,
    connectionTimeout: l.connectionTimeoutMs,
    keepAliveTimeout: l.keepAliveTimeoutMs,
    routerOptions: { maxParamLength: l.maxParamLength },
    bodyLimit: l.bodyLimit,
    trustProxy: false,
    return503OnClosing: true,
    http: {
      maxHeaderSize: l.maxHeaderSize,
      headersTimeout: l.headersTimeoutMs,
      requestTimeout: l.requestTimeoutMs,
      keepAliveTimeout: l.keepAliveTimeoutMs,
      connectionsCheckingInterval: l.connectionsCheckingIntervalMs,
    },
  };
}
