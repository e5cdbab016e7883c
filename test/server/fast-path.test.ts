// The document fast path in front of Fastify: which requests it answers (alone, on a real
// socket, with a fallback that marks what it passed on), and that through buildApp every answer is
// the one Fastify's own route gives (the same request injected, which skips the fast path).
import { Agent, createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { AccessLine } from "../../src/server/access-log.js";
import { clientAddress, DocumentFastPath, type FastPathContext } from "../../src/server/fast-path.js";
import type { DocumentPick } from "../../src/server/lookup.js";
import { createMetrics } from "../../src/server/metrics.js";
import { RateLimiter } from "../../src/server/rate-limit.js";
import { capturedLogger, fixtureLookup, MAC_A, MAC_B, MAC_UNKNOWN, rawGet, start } from "./helpers.js";

const FALLBACK = 599;

const pick =
  (name: string): DocumentPick =>
  (docs) => {
    const doc = docs.documents.get(name);
    return doc ? [name, doc] : undefined;
  };

let server: Server | undefined;
afterEach(async () => {
  await new Promise((done) => (server ? server.close(done) : done(undefined)));
  server = undefined;
});

/** A bare node:http server with the fast path first and a marker answer for what it passes on. */
async function fastPathAlone(overrides: Partial<FastPathContext> = {}) {
  const lines: AccessLine[] = [];
  const errors: unknown[] = [];
  const metrics = createMetrics();
  let ids = 0;
  const fast = new DocumentFastPath({
    lookup: fixtureLookup(),
    metrics,
    limiter: undefined,
    authorizeByAddress: false,
    clientAddress: clientAddress(false),
    logAnswered: (line) => lines.push(line),
    nextRequestId: () => `req-${ids++}`,
    closing: () => false,
    logError: (err) => errors.push(err),
    ...overrides,
  });
  fast.add({ pattern: "/cloud-config/:mac", pick: pick("cloud-config") });
  fast.add({ pattern: "/nocloud/:mac/meta-data", pick: pick("meta-data") });
  fast.add({ pattern: "/ipxe", pick: pick("ipxe") });
  server = createServer((req, res) => {
    if (!fast.answer(req, res)) res.writeHead(FALLBACK).end("fallback");
  });
  await new Promise<void>((done) => server!.listen(0, "127.0.0.1", done));
  return { port: (server.address() as AddressInfo).port, lines, errors, metrics };
}

describe("DocumentFastPath alone", () => {
  it("answers a known machine's document by plain URL, in any MAC notation", async () => {
    const { port, lines } = await fastPathAlone();
    const dashed = MAC_A.replaceAll(":", "-");
    for (const path of [
      `/cloud-config/${MAC_A}`,
      `/cloud-config/${dashed.toUpperCase()}`,
      `/cloud-config/${MAC_A.replaceAll(":", "%3A")}`,
      `/nocloud/${MAC_A}/meta-data`,
      `/ipxe?mac=${MAC_A}`,
      `/ipxe?mac=${MAC_A.replaceAll(":", "%3a")}`,
    ]) {
      const res = await rawGet(port, path);
      expect(res.status, path).toBe(200);
    }
    expect((await rawGet(port, `/ipxe?mac=${dashed}`)).body).toContain("#!ipxe");
    expect(lines.map((l) => [l.reqId, l.status, l.method])).toEqual(
      Array.from({ length: 7 }, (_, i) => [`req-${i}`, 200, "GET"]),
    );
    expect(lines[0]).toMatchObject({ url: `/cloud-config/${MAC_A}`, remoteAddress: "127.0.0.1" });
  });

  it("passes on everything else to the app behind it", async () => {
    const { port, lines } = await fastPathAlone();
    for (const path of [
      `/cloud-config/${MAC_UNKNOWN}`, // unknown MAC: 404 or 503 is Fastify's to say
      "/cloud-config/not-a-mac",
      `/cloud-config/${MAC_A}/`,
      `/cloud-config/${MAC_A}?x=1`, // any query on a path route
      `/nocloud/${MAC_B}/user-data`, // a route the fast path was not given
      `/ipxe?mac=${MAC_A}&mac=${MAC_B}`,
      `/ipxe?x=1&mac=${MAC_A}`,
      "/ipxe",
      `/ipxe/?mac=${MAC_A}`,
      `/machines/${MAC_A}/ipxe`,
    ]) {
      expect((await rawGet(port, path)).status, path).toBe(FALLBACK);
    }
    expect(lines).toEqual([]);
  });

  it("passes on HEAD, and a machine without the document", async () => {
    const { port } = await fastPathAlone();
    const head = await new Promise<number>((resolve, reject) => {
      const req = request(
        { host: "127.0.0.1", port, path: `/cloud-config/${MAC_A}`, method: "HEAD", agent: false },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", reject);
      req.end();
    });
    expect(head).toBe(FALLBACK);
    // Machine B has no ipxe document.
    expect((await rawGet(port, `/ipxe?mac=${MAC_B}`)).status).toBe(FALLBACK);
  });

  it("answers 304 to a matching If-None-Match, with the ETag and no body", async () => {
    const { port, lines } = await fastPathAlone();
    const first = await rawGet(port, `/cloud-config/${MAC_A}`);
    const etag = String(first.headers.etag);
    for (const inm of [etag, `W/${etag}`, `"other", ${etag}`, "*"]) {
      const res = await rawGet(port, `/cloud-config/${MAC_A}`, { "if-none-match": inm });
      expect([res.status, res.body, res.headers.etag], inm).toEqual([304, "", etag]);
    }
    expect((await rawGet(port, `/cloud-config/${MAC_A}`, { "if-none-match": '"other"' })).status).toBe(200);
    expect(lines.map((l) => l.status)).toEqual([200, 304, 304, 304, 304, 200]);
  });

  it("counts answers in the app's metrics under the route pattern", async () => {
    const { port, metrics } = await fastPathAlone();
    await rawGet(port, `/cloud-config/${MAC_A}`);
    await rawGet(port, `/ipxe?mac=${MAC_A}`);
    const text = await metrics.registry.metrics();
    expect(text).toContain('ccts_http_requests_total{route="/cloud-config/:mac",status="200"} 1');
    expect(text).toContain('ccts_http_requests_total{route="/ipxe",status="200"} 1');
    expect(text).toContain('ccts_documents_served_total{output="ipxe"} 1');
    expect(text).toContain('ccts_http_request_duration_seconds_count{route="/cloud-config/:mac"} 1');
  });

  it("passes on while closing, a limited client and an undeclared address", async () => {
    const closing = await fastPathAlone({ closing: () => true });
    expect((await rawGet(closing.port, `/cloud-config/${MAC_A}`)).status).toBe(FALLBACK);
    await new Promise((done) => server!.close(done));

    const limited = await fastPathAlone({ limiter: new RateLimiter({ perSecond: 0.001, burst: 1 }) });
    expect((await rawGet(limited.port, `/cloud-config/${MAC_A}`)).status).toBe(200);
    expect((await rawGet(limited.port, `/cloud-config/${MAC_A}`)).status).toBe(FALLBACK);
    await new Promise((done) => server!.close(done));

    const lookup = fixtureLookup();
    const docs = lookup.machine(MAC_A)!;
    lookup.set(MAC_A, { ...docs, addresses: ["192.0.2.1"] });
    lookup.set(MAC_B, { ...lookup.machine(MAC_B)!, addresses: ["127.0.0.1"] });
    const authorizing = await fastPathAlone({ lookup, authorizeByAddress: true });
    expect((await rawGet(authorizing.port, `/cloud-config/${MAC_A}`)).status).toBe(FALLBACK);
    expect((await rawGet(authorizing.port, `/cloud-config/${MAC_B}`)).status).toBe(200);
  });

  it("behind a trusted proxy, the client is the one X-Forwarded-For names", async () => {
    const lookup = fixtureLookup();
    lookup.set(MAC_B, { ...lookup.machine(MAC_B)!, addresses: ["192.0.2.7"] });
    const trusted = await fastPathAlone({
      lookup,
      authorizeByAddress: true,
      clientAddress: clientAddress(["127.0.0.1"]),
    });
    const via = (xff: string) => rawGet(trusted.port, `/cloud-config/${MAC_B}`, { "x-forwarded-for": xff });
    expect((await via("192.0.2.7")).status).toBe(200);
    expect((await via("192.0.2.7, 192.0.2.99")).status).toBe(FALLBACK); // the last hop is the client
    expect(trusted.lines.map((l) => l.remoteAddress)).toEqual(["192.0.2.7"]);
    await new Promise((done) => server!.close(done));

    // The same header from a peer that is not trusted is ignored.
    const untrusted = await fastPathAlone({
      lookup,
      authorizeByAddress: true,
      clientAddress: clientAddress(["10.0.0.0/8"]),
    });
    const res = await rawGet(untrusted.port, `/cloud-config/${MAC_B}`, { "x-forwarded-for": "192.0.2.7" });
    expect(res.status).toBe(FALLBACK);
  });

  it("an error before the answer passes the request on; one after it is logged", async () => {
    const lookup = fixtureLookup();
    const throwing = { machine: () => lookup.machine(MAC_UNKNOWN) ?? explode(), ready: () => true };
    const before = await fastPathAlone({ lookup: throwing });
    expect((await rawGet(before.port, `/cloud-config/${MAC_A}`)).status).toBe(FALLBACK);
    await new Promise((done) => server!.close(done));

    const after = await fastPathAlone({ logAnswered: () => explode() });
    const res = await rawGet(after.port, `/cloud-config/${MAC_A}`);
    expect(res.status).toBe(200);
    expect(after.errors).toHaveLength(1);
  });
});

function explode(): never {
  throw new Error("exploded");
}

/** Headers that differ between a socket and an injected answer by transport, not by content. */
const TRANSPORT = new Set(["date", "connection", "keep-alive", "transfer-encoding"]);

describe("through buildApp", () => {
  it("every answer over the socket is the one Fastify's route gives", async () => {
    const r = await start();
    try {
      const etag = String((await rawGet(r.port, `/cloud-config/${MAC_A}`)).headers.etag);
      const requests: [path: string, headers?: Record<string, string>][] = [
        [`/cloud-config/${MAC_A}`],
        [`/cloud-config/${MAC_A}`, { "if-none-match": etag }],
        [`/cloud-config/${MAC_A}`, { "if-none-match": '"stale"' }],
        [`/cloud-config/${MAC_B.replaceAll(":", "")}`],
        [`/cloud-config/${MAC_UNKNOWN}`],
        ["/cloud-config/zz"],
        [`/ipxe?mac=${MAC_A}`],
        [`/ipxe?mac=${MAC_B}`],
        [`/install.sh?mac=${MAC_A.replaceAll(":", "%3A")}`],
        [`/nocloud/${MAC_A}/meta-data`],
        [`/nocloud/${MAC_A}/user-data`],
        [`/nocloud/${MAC_A}/vendor-data`],
        [`/nocloud/${MAC_B}/network-config`],
        [`/ignition/${MAC_A}`],
      ];
      for (const [path, headers = {}] of requests) {
        const socket = await rawGet(r.port, path, headers);
        const injected = await r.app.inject({ method: "GET", url: path, headers });
        const content = (h: Record<string, unknown>) =>
          Object.fromEntries(Object.entries(h).filter(([k]) => !TRANSPORT.has(k)));
        expect(
          { status: socket.status, headers: content(socket.headers), body: socket.body },
          `${path} ${JSON.stringify(headers)}`,
        ).toEqual({ status: injected.statusCode, headers: content(injected.headers), body: injected.body });
      }
    } finally {
      await r.app.close();
    }
  });

  it("behind a trusted proxy, answers and logs as Fastify does for every X-Forwarded-For", async () => {
    const lookup = fixtureLookup();
    lookup.set(MAC_B, { ...lookup.machine(MAC_B)!, addresses: ["192.0.2.7"] });
    const { lines, logger } = capturedLogger();
    const r = await start({
      lookup,
      trustProxy: ["127.0.0.1"],
      authorizeByAddress: true,
      logger,
    });
    try {
      for (const xff of ["192.0.2.7", "192.0.2.8", "192.0.2.7, 192.0.2.8", "10.0.0.1, 192.0.2.7", "junk"]) {
        const headers = { "x-forwarded-for": xff };
        const socket = await rawGet(r.port, `/cloud-config/${MAC_B}`, headers);
        const injected = await r.app.inject({ method: "GET", url: `/cloud-config/${MAC_B}`, headers });
        expect([socket.status, socket.body], xff).toEqual([injected.statusCode, injected.body]);
      }
      const addresses = lines.filter((l) => l.msg === "request").map((l) => l.remoteAddress);
      // Each request twice (socket, then inject): the same client address both times.
      for (let i = 0; i < addresses.length; i += 2) expect(addresses[i]).toBe(addresses[i + 1]);
      expect(addresses.slice(0, 2)).toEqual(["192.0.2.7", "192.0.2.7"]);
    } finally {
      await r.app.close();
    }
  });

  it("writes the access-log line Fastify's hook writes, ids from one sequence", async () => {
    const { lines, logger } = capturedLogger();
    const r = await start({ logger });
    try {
      await rawGet(r.port, `/cloud-config/${MAC_A}`); // fast path
      await rawGet(r.port, `/cloud-config/${MAC_UNKNOWN}`); // Fastify
      await rawGet(r.port, `/ipxe?mac=${MAC_A}`); // fast path
      const access = lines.filter((l) => l.msg === "request");
      expect(access.map((l) => [l.reqId, l.status, l.url])).toEqual([
        ["req-0", 200, `/cloud-config/${MAC_A}`],
        ["req-1", 404, `/cloud-config/${MAC_UNKNOWN}`],
        ["req-2", 200, `/ipxe?mac=${MAC_A}`],
      ]);
      const keys = (l: Record<string, unknown>) => Object.keys(l).sort();
      expect(keys(access[0]!)).toEqual(keys(access[1]!));
      expect(access[0]).toMatchObject({ level: 30, method: "GET", remoteAddress: "127.0.0.1" });
      expect(typeof access[0]!.responseTime).toBe("number");
    } finally {
      await r.app.close();
    }
  });

  it("close() completes while a keep-alive client keeps asking", async () => {
    const r = await start();
    let answered = 0;
    let last = 0;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    // Asks until it is told to go (a 503 or a closed socket); if close() hung on its busy
    // connection, or the client were answered for ever, the test would time out.
    const client = (async () => {
      for (;;) {
        const status = await new Promise<number>((resolve) => {
          const req = request(
            { host: "127.0.0.1", port: r.port, path: `/cloud-config/${MAC_A}`, agent },
            (res) => {
              res.resume();
              res.on("end", () => resolve(res.statusCode ?? 0));
            },
          );
          req.on("error", () => resolve(0));
          req.end();
        });
        if (status === 200) answered++;
        last = status;
        if (status !== 200) break;
      }
    })();
    while (answered < 20) await new Promise((done) => setTimeout(done, 5));
    await r.app.close();
    await client;
    agent.destroy();
    expect([0, 503]).toContain(last);
  });
});
