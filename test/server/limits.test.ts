// Hostile and broken clients against a real socket: oversized headers, a client that never
// finishes its request head, one that drips bytes, one that connects and says nothing. The server
// must cut them off and keep answering everyone else.
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, serverOptions } from "../../src/server/options.js";
import { MAC_A, type Running, rawGet, start } from "./helpers.js";

let s: Running;
beforeAll(async () => {
  s = await start({
    limits: {
      headersTimeoutMs: 400,
      requestTimeoutMs: 400,
      connectionTimeoutMs: 1500,
      connectionsCheckingIntervalMs: 100,
    },
  });
});
afterAll(async () => {
  await s.app.close();
});

async function healthy(): Promise<void> {
  const res = await fetch(`${s.base}/cloud-config/${MAC_A}`);
  expect(res.status).toBe(200);
}

/** Opens a raw connection, lets `act` write to it, and resolves with what came back and when it closed. */
function rawSession(
  act: (socket: Socket) => void,
  giveUpMs = 5000,
): Promise<{ data: string; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const began = Date.now();
    const socket = connect({ host: "127.0.0.1", port: s.port });
    let data = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`server kept the connection open for ${giveUpMs} ms`));
    }, giveUpMs);
    socket.on("connect", () => act(socket));
    socket.on("data", (d) => {
      data += d.toString("latin1");
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ data, closedAfterMs: Date.now() - began });
    });
  });
}

describe("limits", () => {
  it("serverOptions carries the recommended values", () => {
    const o = serverOptions();
    expect(o.requestTimeout).toBe(DEFAULT_LIMITS.requestTimeoutMs);
    expect(o.http?.maxHeaderSize).toBe(16 * 1024);
    expect(o.http?.headersTimeout).toBeLessThanOrEqual(o.requestTimeout!);
    expect(o.trustProxy).toBe(false);
    expect(o.bodyLimit).toBeLessThanOrEqual(4096);
    expect(o.routerOptions?.maxParamLength).toBe(128);
  });

  it("a request head over 16 KiB gets 431 (or a reset); the server stays healthy", async () => {
    let status: number | string;
    try {
      status = (await rawGet(s.port, "/healthz", { "x-big": "a".repeat(20 * 1024) })).status;
    } catch (e) {
      status = (e as NodeJS.ErrnoException).code ?? "error";
    }
    expect([431, "ECONNRESET", "EPIPE"]).toContain(status);
    await healthy();
  });

  it("a request head just under the limit is served", async () => {
    const res = await rawGet(s.port, "/healthz", { "x-big": "a".repeat(12 * 1024) });
    expect(res.status).toBe(200);
  });

  it("a client that never finishes its request head is cut off (408); others are served meanwhile", async () => {
    const session = rawSession((socket) =>
      socket.write(`GET /cloud-config/${MAC_A} HTTP/1.1\r\nHost: x\r\n`),
    );
    await healthy();
    const { data, closedAfterMs } = await session;
    expect(data).toMatch(/^HTTP\/1\.1 408/);
    expect(closedAfterMs).toBeLessThan(3000);
    await healthy();
  });

  it("a client dripping its head one byte at a time is cut off at headersTimeout", async () => {
    let timer: NodeJS.Timeout | undefined;
    const { data, closedAfterMs } = await rawSession((socket) => {
      const head = `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ${"a".repeat(1000)}\r\n\r\n`;
      let i = 0;
      timer = setInterval(() => {
        if (socket.destroyed || i >= head.length) return clearInterval(timer);
        socket.write(head[i++]!);
      }, 20);
    });
    clearInterval(timer);
    expect(data).toMatch(/^HTTP\/1\.1 408/);
    expect(closedAfterMs).toBeLessThan(3000);
    await healthy();
  });

  it("a client that connects and sends nothing is closed", async () => {
    const { data, closedAfterMs } = await rawSession(() => {});
    expect(data === "" || /^HTTP\/1\.1 408/.test(data)).toBe(true);
    expect(closedAfterMs).toBeLessThan(4000);
    await healthy();
  });

  it("many stuck clients at once do not stop the server", async () => {
    const sessions = Array.from({ length: 50 }, () =>
      rawSession((socket) => socket.write("GET /healthz HTTP/1.1\r\n")),
    );
    await healthy();
    const done = await Promise.all(sessions);
    for (const d of done) expect(d.closedAfterMs).toBeLessThan(4000);
    await healthy();
  });
});
