// Opt-in per-machine authorization and the per-client rate limit, over a real socket, with
// requests from distinct loopback source addresses (127.0.0.2, 127.0.0.3, ...).
import { request } from "node:http";
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { type AppDeps, buildApp } from "../../src/server/app.js";
import { MemoryLookup, servedDocument } from "../../src/server/memory-lookup.js";
import { RateLimiter } from "../../src/server/rate-limit.js";

const MAC = "52:54:00:12:34:01";
const BARE_MAC = "52:54:00:12:34:02";
let app: FastifyInstance | undefined;

afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function start(deps: Partial<AppDeps>): Promise<number> {
  const lookup = new MemoryLookup();
  const doc = (host: string) =>
    new Map([
      ["cloud-config", servedDocument(`#cloud-config\nhostname: ${host}\n`, "text/cloud-config", host)],
    ]);
  lookup.set(MAC, { machine: "default/a", documents: doc("a"), addresses: ["127.0.0.2", "192.0.2.10"] });
  lookup.set(BARE_MAC, { machine: "default/b", documents: doc("b") });
  lookup.setReady(true);
  app = buildApp({ lookup, ...deps });
  await app.listen({ host: "127.0.0.1", port: 0 });
  return (app.server.address() as AddressInfo).port;
}

/** GET from a chosen loopback source address, optionally with X-Forwarded-For. */
function get(
  port: number,
  path: string,
  from: string,
  forwardedFor?: string,
): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        localAddress: from,
        headers: forwardedFor ? { "x-forwarded-for": forwardedFor } : {},
        agent: false,
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("authorization by address", () => {
  it("is off by default: any address gets any machine's documents", async () => {
    const port = await start({});
    expect((await get(port, `/cloud-config/${MAC}`, "127.0.0.3")).status).toBe(200);
  });

  it("serves a machine's documents to its declared address and refuses others", async () => {
    const port = await start({ authorizeByAddress: true });
    expect((await get(port, `/cloud-config/${MAC}`, "127.0.0.2")).status).toBe(200);
    expect((await get(port, `/cloud-config/${MAC}`, "127.0.0.3")).status).toBe(403);
    expect((await get(port, `/nocloud/${MAC}/user-data`, "127.0.0.3")).status).toBe(403);
    // A machine that declares no address is served to nobody in this mode.
    expect((await get(port, `/cloud-config/${BARE_MAC}`, "127.0.0.2")).status).toBe(403);
    // Health stays open.
    expect((await get(port, "/healthz", "127.0.0.3")).status).toBe(200);
  });

  it("believes X-Forwarded-For from a trusted proxy only", async () => {
    const port = await start({ authorizeByAddress: true, trustProxy: ["127.0.0.4"] });
    expect((await get(port, `/cloud-config/${MAC}`, "127.0.0.4", "192.0.2.10")).status).toBe(200);
    expect((await get(port, `/cloud-config/${MAC}`, "127.0.0.4", "192.0.2.99")).status).toBe(403);
    // An untrusted sender's header is ignored: its own address counts.
    expect((await get(port, `/cloud-config/${MAC}`, "127.0.0.3", "192.0.2.10")).status).toBe(403);
    expect((await get(port, `/cloud-config/${MAC}`, "127.0.0.2", "192.0.2.99")).status).toBe(200);
  });
});

describe("rate limit", () => {
  it("answers 429 with Retry-After to a client over its burst, and only to that client", async () => {
    const port = await start({ rateLimit: { perSecond: 1, burst: 3 } });
    for (let i = 0; i < 3; i++)
      expect((await get(port, `/cloud-config/${MAC}`, "127.0.0.2")).status).toBe(200);
    const limited = await get(port, `/cloud-config/${MAC}`, "127.0.0.2");
    expect(limited.status).toBe(429);
    expect(Number(limited.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect((await get(port, `/cloud-config/${MAC}`, "127.0.0.3")).status).toBe(200);
    expect((await get(port, "/healthz", "127.0.0.2")).status).toBe(200);
    expect((await get(port, "/readyz", "127.0.0.2")).status).toBe(200);
  });

  it("is not tripped by a boot storm of 2,000 distinct machines behind a trusted proxy", async () => {
    const port = await start({ rateLimit: { perSecond: 20, burst: 100 }, trustProxy: ["127.0.0.4"] });
    const statuses = new Map<number, number>();
    for (let batch = 0; batch < 20; batch++) {
      const results = await Promise.all(
        Array.from({ length: 100 }, (_, i) => {
          const n = batch * 100 + i;
          return get(port, `/cloud-config/${MAC}`, "127.0.0.4", `10.${(n >> 8) & 255}.${n & 255}.1`);
        }),
      );
      for (const r of results) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
    expect(Object.fromEntries(statuses)).toEqual({ 200: 2000 });
  });

  it("refills over time and forgets the least recently seen clients beyond its bound", () => {
    let now = 0;
    const limiter = new RateLimiter({ perSecond: 2, burst: 2, maxClients: 3 }, () => now);
    expect([limiter.take("a"), limiter.take("a"), limiter.take("a")]).toEqual([true, true, false]);
    now = 500;
    expect(limiter.take("a")).toBe(true);
    expect(limiter.take("a")).toBe(false);
    for (const c of ["b", "c", "d"]) limiter.take(c);
    expect(limiter.clients).toBe(3);
    // "a" was seen least recently and is forgotten: it starts again with a full bucket.
    expect(limiter.take("a")).toBe(true);
    expect(limiter.take("a")).toBe(true);
  });
});
