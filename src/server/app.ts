// The HTTP app that hands boot documents to machines by MAC. buildApp wires routes, limits,
// metrics and the access log; it never listens (the caller does). The hot path of a document
// request is a MAC parse, a Map lookup and the write of a Buffer prepared when the document was
// learned: nothing is rendered or serialised per request. Plain document requests are answered
// before Fastify by the fast path (fast-path.ts), most of them before node:http parses them (the
// socket front, socket-front.ts); documentRoute registers a route with both.
import { realpathSync } from "node:fs";
import { realpath } from "node:fs/promises";
import { createServer, STATUS_CODES } from "node:http";
import { sep } from "node:path";
import fastifyStatic from "@fastify/static";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerFactory,
  LogController,
} from "fastify";
import type { Logger, LoggerOptions } from "pino";
import type { Registry } from "prom-client";
import { tryParseMac } from "../api/mac.js";
import type { ConfigDriveBuilder } from "../boot/configdrive.js";
import { type AccessLog, loggerAccessLog } from "./access-log.js";
import { addressAllowed } from "./authorization.js";
import { registerBootRoutes } from "./boot-routes.js";
import { notModified } from "./conditional.js";
import { clientAddress, DocumentFastPath } from "./fast-path.js";
import type { DocumentLookup, DocumentPick as Pick, ServedDocument } from "./lookup.js";
import { contentDocument } from "./memory-lookup.js";
import { type AppMetrics, createMetrics } from "./metrics.js";
import { effectiveLimits, type ServerLimits, serverOptions } from "./options.js";
import { RateLimiter, type RateLimitOptions } from "./rate-limit.js";
import { SocketFront } from "./socket-front.js";

export interface AppDeps {
  /** Where documents come from (embedded store or cluster-mode index). */
  lookup: DocumentLookup;
  /** Folder served under /assets/ (kernels, initrds). No folder: /assets/* answers 404. */
  assetsDir?: string | undefined;
  /** false (default): no logging; true or pino options: a new pino logger; or a pino instance. */
  logger?: boolean | LoggerOptions | Logger | undefined;
  /**
   * Writes the access-log lines (one per answered request); default: through the logger. The
   * processes pass a direct writer of the same lines (cli/logger.ts): cheaper per request.
   */
  accessLog?: AccessLog | undefined;
  /** Registry for /metrics; default: a new one per app. */
  metrics?: Registry | undefined;
  /** Overrides of the timeouts and size limits in DEFAULT_LIMITS. */
  limits?: Partial<ServerLimits> | undefined;
  /**
   * Fastify trustProxy: which proxies' X-Forwarded-For names the client (addresses or CIDRs).
   * The client address counts for the access log, the rate limit and authorization. Default off.
   */
  trustProxy?: boolean | string | string[] | undefined;
  /** Serve a machine's documents only to the addresses the Machine declares (see README). */
  authorizeByAddress?: boolean | undefined;
  /** Per-client token bucket for document and asset requests; absent or perSecond 0: no limit. */
  rateLimit?: RateLimitOptions | undefined;
  /** How /boot.ipxe retries a failed chain; default BOOT_RETRY. */
  bootRetry?: BootRetry | undefined;
  /**
   * false: node:http parses every request (the socket front, socket-front.ts, is off). For tests
   * that compare the two; default on.
   */
  socketFront?: boolean | undefined;
  /** Builds and caches /configdrive/:mac.iso images; default: one per app (xorriso, 2 at once). */
  configDrive?: ConfigDriveBuilder | undefined;
}

const TEXT = "text/plain; charset=utf-8";

/** How often and how many times /boot.ipxe tries its chain before it gives up. */
export interface BootRetry {
  /** Seconds between tries (iPXE's `sleep` takes whole seconds). */
  seconds: number;
  /** Tries in all, the first included: 1 gives up at the first failure. */
  tries: number;
}

/** The default: every 10 s for 10 minutes. */
export const BOOT_RETRY: Readonly<BootRetry> = Object.freeze({ seconds: 10, tries: 60 });

/**
 * iPXE resolves a relative URI against the URI of the script that contains it, so this script
 * works under any address, port, path prefix or proxy it was fetched through. `netX` is the
 * network device iPXE opened last (the one that booted); `:hexhyp` gives `52-54-00-12-34-01`,
 * which needs no URL encoding.
 *
 * A failed chain (a MAC no Machine has yet, ccts restarting or swamped after a power cut, a kernel
 * download cut off) is tried again instead of dropping the machine to its next boot device at
 * once; `imgfree` first, so a retry does not hold a second kernel in memory. After the last try
 * (or when the machine's own script returns success, e.g. to boot from disk) the script exits and
 * the firmware goes on to its next boot device. Checked in QEMU's iPXE (Debian's 2019 ROM has
 * `inc`, `iseq` and `sleep`): test/boot/ipxe-qemu.test.ts.
 */
export function bootIpxeScript(retry: BootRetry = BOOT_RETRY): string {
  return [
    "#!ipxe",
    "set ccts-tries:int32 0",
    ":ccts-retry",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: ${...} is iPXE setting syntax, not JavaScript.
    "chain ipxe?mac=${netX/mac:hexhyp} && exit 0 ||",
    "imgfree",
    "inc ccts-tries",
    `iseq \${ccts-tries} ${retry.tries} && echo ccts: no boot for \${netX/mac} after ${retry.tries} tries, giving up (next boot device) && exit 1 ||`,
    `echo ccts: no boot for \${netX/mac} yet (try \${ccts-tries} of ${retry.tries}); again in ${retry.seconds} s`,
    `sleep ${retry.seconds}`,
    "goto ccts-retry",
    "",
  ].join("\n");
}

/** The script with the default retries. */
export const BOOT_IPXE = bootIpxeScript();
/** Answer for an absent vendor-data / network-config of a known machine (see README). */
const emptyVendorData = contentDocument("", TEXT);
const emptyNetworkConfig = contentDocument("", "application/yaml; charset=utf-8");

function output(name: string, fallback?: string): Pick {
  return (docs) => {
    const doc = docs.documents.get(name);
    if (doc) return [name, doc];
    if (fallback === undefined) return undefined;
    const other = docs.documents.get(fallback);
    return other ? [fallback, other] : undefined;
  };
}

function orEmpty(name: string, empty: ServedDocument): Pick {
  return (docs) => [name, docs.documents.get(name) ?? empty];
}

/** The one place a MAC from a request (path or query, any notation) becomes canonical. */
export function requestMac(raw: unknown): string | undefined {
  return typeof raw === "string" ? tryParseMac(raw) : undefined;
}

function sendText(reply: FastifyReply, status: number, text: string): FastifyReply {
  return reply.code(status).type(TEXT).send(`${text}\n`);
}

function isLoggerInstance(x: unknown): x is Logger {
  return typeof x === "object" && x !== null && typeof (x as Logger).child === "function";
}

/**
 * The HTTP/1 server Fastify would make (its lib/server.js: same options, timeouts), with the
 * socket front before node:http's connection listener and the document fast path as the request
 * listener's first step (for the connections node:http takes).
 */
function serverWith(
  fastPath: DocumentFastPath,
  front: SocketFront | undefined,
  options: ReturnType<typeof serverOptions>,
): FastifyServerFactory {
  return (handler) => {
    const server = createServer(options.http ?? {}, (req, res) => {
      if (!fastPath.answer(req, res)) handler(req, res);
    });
    if (options.keepAliveTimeout !== undefined) server.keepAliveTimeout = options.keepAliveTimeout;
    if (options.requestTimeout !== undefined) server.requestTimeout = options.requestTimeout;
    server.setTimeout(options.connectionTimeout);
    front?.attach(server);
    return server;
  };
}

const MALFORMED_MAC =
  "malformed MAC address; expected aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff, aabb.ccdd.eeff or aabbccddeeff";

export function buildApp(deps: AppDeps): FastifyInstance {
  const { lookup } = deps;
  const metrics: AppMetrics = createMetrics(deps.metrics);
  const logging = deps.logger ?? false;
  const limiter =
    deps.rateLimit && deps.rateLimit.perSecond > 0 ? new RateLimiter(deps.rateLimit) : undefined;
  // One request-id sequence for Fastify and the fast path; Fastify's default ids look the same.
  let requests = 0;
  const nextRequestId = () => `req-${(requests++).toString(36)}`;
  let closing = false;
  // Its routes are added by documentRoute below.
  const fastPath = new DocumentFastPath({
    lookup,
    metrics,
    limiter,
    authorizeByAddress: deps.authorizeByAddress ?? false,
    clientAddress: clientAddress(deps.trustProxy),
    logAnswered: (line) => logAccess(line),
    nextRequestId,
    closing: () => closing,
    logError: (err) => app.log.error({ err }, "request failed after its answer was sent"),
  });
  const options = serverOptions(deps.limits);
  const front =
    deps.socketFront === false ? undefined : new SocketFront(fastPath, effectiveLimits(deps.limits));
  const app = Fastify({
    ...options,
    serverFactory: serverWith(fastPath, front, options),
    genReqId: nextRequestId,
    trustProxy: deps.trustProxy ?? false,
    ...(isLoggerInstance(logging) ? { loggerInstance: logging as FastifyBaseLogger } : { logger: logging }),
    // Fastify's two lines per request are replaced by one access-log line in onResponse.
    logController: new LogController({ disableRequestLogging: true }),
    // No child logger per request (a third of the logging cost): the two lines that name a
    // request (access, error) carry its id themselves.
    childLoggerFactory: (logger) => logger,
    frameworkErrors: (error, _request, reply) => {
      // Bad percent-encoding in the URL, or a path parameter longer than maxParamLength.
      if (error.code === "FST_ERR_MAX_PARAM_LENGTH") return sendText(reply, 414, "path parameter too long");
      return sendText(reply, 400, "malformed URL");
    },
  }) as unknown as FastifyInstance;
  // Request lines go through the app's logger (request.log is app.log, see childLoggerFactory).
  const logAccess: AccessLog = deps.accessLog ?? loggerAccessLog(app.log);

  app.setNotFoundHandler((_request, reply) => sendText(reply, 404, "not found"));
  // Fastify answers 503 once closing (return503OnClosing); the fast path then stops answering
  // too, so a closing server tells every client to go elsewhere.
  // The socket front ends the connections it holds (see SocketFront.release).
  app.addHook("preClose", (done) => {
    closing = true;
    front?.release();
    done();
  });

  // Probes and scrapes come from the kubelet and Prometheus: never limited.
  const unlimited = new Set(["/healthz", "/readyz", "/metrics"]);
  if (limiter) {
    app.addHook("onRequest", (request, reply, done) => {
      if (unlimited.has(request.routeOptions.url ?? "") || limiter.take(request.ip)) return done();
      sendText(reply.header("retry-after", String(limiter.retryAfter(request.ip))), 429, "too many requests");
    });
  }

  app.setErrorHandler((error: { statusCode?: number }, request, reply) => {
    const code = error.statusCode;
    const status = typeof code === "number" && code >= 400 && code < 600 ? code : 500;
    if (status >= 500) request.log.error({ reqId: request.id, err: error }, "request failed");
    return sendText(reply, status, (STATUS_CODES[status] ?? "error").toLowerCase());
  });

  // One access-log line and the request metrics per answered request. Never bodies.
  app.addHook("onResponse", (request, reply, done) => {
    const route = request.routeOptions.url ?? "unmatched";
    const status = reply.statusCode;
    const ms = reply.elapsedTime;
    metrics.answered(route, status, ms / 1000);
    logAccess({
      reqId: request.id,
      method: request.method,
      url: request.url,
      status,
      ms,
      remoteAddress: request.ip,
    });
    done();
  });

  function sendDocument(request: FastifyRequest, reply: FastifyReply, name: string, doc: ServedDocument) {
    metrics.document(name);
    reply.header("etag", doc.etag).header("cache-control", "no-cache");
    if (notModified(request.headers["if-none-match"], doc.etag)) return reply.code(304).send();
    return reply.type(doc.contentType).send(doc.body);
  }

  /** The documents of the machine a request names, or undefined once the error answer is sent. */
  function machineFor(request: FastifyRequest, reply: FastifyReply, rawMac: unknown) {
    const mac = requestMac(rawMac);
    if (mac === undefined) return void sendText(reply, 400, MALFORMED_MAC);
    const docs = lookup.machine(mac);
    if (docs !== undefined && deps.authorizeByAddress && !addressAllowed(request.ip, docs.addresses)) {
      return void sendText(reply, 403, "forbidden: this address is not declared for that machine");
    }
    if (docs === undefined) {
      if (!lookup.ready()) return void sendText(reply.header("retry-after", "5"), 503, "not ready");
      metrics.unknownMac.inc();
      return void sendText(reply, 404, "unknown MAC");
    }
    return docs;
  }

  function serve(request: FastifyRequest, reply: FastifyReply, rawMac: unknown, pick: Pick) {
    const docs = machineFor(request, reply, rawMac);
    if (docs === undefined) return reply;
    const picked = pick(docs);
    if (picked === undefined) return sendText(reply, 404, "no such document for this machine");
    return sendDocument(request, reply, picked[0], picked[1]);
  }

  type MacParams = { Params: { mac: string } };
  type MacQuery = { Querystring: { mac?: string | string[] } };

  /**
   * A per-MAC document route: `:mac` in the pattern, or `?mac=` for a pattern without it. The fast
   * path answers its plain requests; Fastify answers the rest (and every HEAD) the same way.
   */
  function documentRoute(pattern: string, pick: Pick): void {
    fastPath.add({ pattern, pick });
    if (pattern.includes(":mac")) {
      app.get<MacParams>(pattern, (req, reply) => serve(req, reply, req.params.mac, pick));
      return;
    }
    app.get<MacQuery>(pattern, (req, reply) => {
      const mac = req.query.mac;
      if (mac === undefined) return sendText(reply, 400, "missing query parameter mac");
      return serve(req, reply, mac, pick);
    });
  }

  const cloudConfig = output("cloud-config");
  documentRoute("/cloud-config/:mac", cloudConfig);
  app.get<{ Params: { file: string } }>("/cloud-configs/:file", (req, reply) => {
    const { file } = req.params;
    if (!file.endsWith(".yaml")) return sendText(reply, 404, "not found");
    return serve(req, reply, file.slice(0, -".yaml".length), cloudConfig);
  });

  const bootIpxe = contentDocument(bootIpxeScript(deps.bootRetry), TEXT);
  app.get("/boot.ipxe", (req, reply) => sendDocument(req, reply, "boot.ipxe", bootIpxe));

  documentRoute("/ipxe", output("ipxe"));
  documentRoute("/install.sh", output("install.sh"));

  const nocloud: Record<string, Pick> = {
    "meta-data": output("meta-data"),
    "user-data": output("user-data", "cloud-config"),
    "vendor-data": orEmpty("vendor-data", emptyVendorData),
    "network-config": orEmpty("network-config", emptyNetworkConfig),
  };
  for (const [name, pick] of Object.entries(nocloud)) documentRoute(`/nocloud/:mac/${name}`, pick);

  app.get<{ Params: { mac: string; output: string } }>("/machines/:mac/:output", (req, reply) =>
    serve(req, reply, req.params.mac, output(req.params.output)),
  );

  // The cluster CA certificate (cluster mode): of the machine given by ?mac=, else the one CA that
  // every served machine shares; with several clusters, ?mac= says which.
  const caPem = output("ca.pem");
  app.get<MacQuery>("/ca.pem", (req, reply) => {
    if (req.query.mac !== undefined) return serve(req, reply, req.query.mac, caPem);
    const shared = lookup.sharedDocument?.("ca.pem");
    if (shared === "ambiguous") {
      return sendText(reply, 400, "several cluster CAs are served; ask /ca.pem?mac=<a MAC of that cluster>");
    }
    if (shared === undefined) return sendText(reply, 404, "no cluster CA is served");
    return sendDocument(req, reply, "ca.pem", shared);
  });

  // Ignition, ConfigDrive images and per-ClusterDesc documents (dnsmasq.conf): boot-routes.ts.
  registerBootRoutes(app, {
    lookup,
    machineFor,
    serve,
    documentRoute,
    output,
    sendDocument,
    sendText,
    configDrive: deps.configDrive,
  });

  app.get("/healthz", (_req, reply) => sendText(reply, 200, "ok"));
  app.get("/readyz", (_req, reply) =>
    lookup.ready() ? sendText(reply, 200, "ready") : sendText(reply, 503, "not ready"),
  );
  app.get("/metrics", async (_req, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).header("cache-control", "no-store").send(text);
  });

  if (deps.assetsDir !== undefined) registerAssets(app, deps.assetsDir);
  return app;
}

/**
 * /assets/* from one folder through @fastify/static: Range requests, ETag/Last-Modified, and its
 * traversal guards (`..`, encoded `..`, non-canonical paths: 403). On top of those, a file whose
 * real path (after symlinks) leaves the folder is not served (404): a link inside the folder to
 * /etc/shadow must not become downloadable.
 */
function registerAssets(app: FastifyInstance, assetsDir: string): void {
  const root = realpathSync(assetsDir);
  const outside = Object.assign(new Error("asset resolves outside the assets folder"), { statusCode: 404 });
  app.register(fastifyStatic, {
    root,
    prefix: "/assets/",
    index: false,
    list: false,
    dotfiles: "ignore",
    decorateReply: false,
    acceptRanges: true,
    cacheControl: true,
    maxAge: 0,
    onFile: async (path: string) => {
      const real = await realpath(path);
      if (real !== root && !real.startsWith(root + sep)) throw outside;
    },
  });
}
