// The socket front (src/server/socket-front.ts): which request heads it takes, and that on a real
// loopback socket every byte a client gets is the byte it would get with node:http parsing every
// request (the same app with the front off), for plain requests, the ones it hands off, pipelined
// mixes, split heads and clients that do not read; plus its timeouts and shutdown.
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { ServedDocument } from "../../src/server/lookup.js";
import { servedDocument } from "../../src/server/memory-lookup.js";
import { parsePlainGet } from "../../src/server/socket-front.js";
import {
  CT_CLOUD,
  capturedLogger,
  exchange,
  exchangeBytes,
  fixtureLookup,
  MAC_A,
  MAC_B,
  MAC_UNKNOWN,
  type Running,
  start,
} from "./helpers.js";

describe("parsePlainGet", () => {
  const host = "Host: x";
  it("takes a plain GET and reads what the fast path needs", () => {
    expect(parsePlainGet(`GET /cloud-config/${MAC_A} HTTP/1.1\r\n${host}`)).toEqual({
      url: `/cloud-config/${MAC_A}`,
      keepAlive: true,
      ifNoneMatch: undefined,
      forwardedFor: undefined,
    });
    expect(
      parsePlainGet(
        `GET /ipxe?mac=x HTTP/1.1\r\nhost:x\r\nIf-None-Match:  "a", W/"b" \r\nX-Forwarded-For: 192.0.2.1\r\nUser-Agent: iPXE/1.21.1+ (g9e1d)`,
      ),
    ).toEqual({ url: "/ipxe?mac=x", keepAlive: true, ifNoneMatch: '"a", W/"b"', forwardedFor: "192.0.2.1" });
  });

  it("keeps the connection as HTTP says", () => {
    const keep = (head: string) => parsePlainGet(head)?.keepAlive;
    expect(keep("GET / HTTP/1.1\r\nHost: x\r\nConnection: close")).toBe(false);
    expect(keep("GET / HTTP/1.1\r\nHost: x\r\nconnection: Keep-Alive")).toBe(true);
    expect(keep("GET / HTTP/1.0")).toBe(false);
    expect(keep("GET / HTTP/1.0\r\nConnection: keep-alive")).toBe(true);
  });

  it.each([
    ["HEAD", `HEAD / HTTP/1.1\r\n${host}`],
    ["POST", `POST / HTTP/1.1\r\n${host}`],
    ["absolute form", `GET http://x/ HTTP/1.1\r\n${host}`],
    ["HTTP/2 preface", "PRI * HTTP/2.0"],
    ["HTTP/0.9", "GET /"],
    ["two spaces", `GET  / HTTP/1.1\r\n${host}`],
    ["space in target", `GET /a b HTTP/1.1\r\n${host}`],
    ["non-ASCII target", `GET /\xe9 HTTP/1.1\r\n${host}`],
    ["no Host in 1.1", "GET / HTTP/1.1"],
    ["two Hosts", `GET / HTTP/1.1\r\n${host}\r\n${host}`],
    ["a body", `GET / HTTP/1.1\r\n${host}\r\nContent-Length: 0`],
    ["chunked", `GET / HTTP/1.1\r\n${host}\r\nTransfer-Encoding: chunked`],
    ["an upgrade", `GET / HTTP/1.1\r\n${host}\r\nUpgrade: websocket`],
    ["Expect", `GET / HTTP/1.1\r\n${host}\r\nExpect: 100-continue`],
    ["other Connection tokens", `GET / HTTP/1.1\r\n${host}\r\nConnection: keep-alive, Upgrade`],
    ["two If-None-Match", `GET / HTTP/1.1\r\n${host}\r\nIf-None-Match: "a"\r\nIf-None-Match: "b"`],
    ["two X-Forwarded-For", `GET / HTTP/1.1\r\n${host}\r\nX-Forwarded-For: a\r\nX-Forwarded-For: b`],
    ["a folded line", `GET / HTTP/1.1\r\n${host}\r\nX-A: a\r\n b`],
    ["space before the colon", `GET / HTTP/1.1\r\nHost : x`],
    ["a bare LF", `GET / HTTP/1.1\r\n${host}\nX-A: a`],
    ["a bare CR", `GET / HTTP/1.1\r\n${host}\rX-A: a`],
    ["a NUL in a value", `GET / HTTP/1.1\r\n${host}\r\nX-A: a\x00b`],
    ["an empty line", `GET / HTTP/1.1\r\n\r\n${host}`],
  ])("leaves %s to node:http", (_why, head) => {
    expect(parsePlainGet(head)).toBeUndefined();
  });
});

let running: Running[] = [];
afterEach(async () => {
  await Promise.all(running.map((r) => r.app.close()));
  running = [];
});

/** The same app twice: with the socket front (the default) and with node:http parsing everything. */
async function both(deps: Parameters<typeof start>[0] = {}) {
  const front = await start(deps);
  const node = await start({ ...deps, socketFront: false });
  running.push(front, node);
  return { front, node };
}

/** Reads until the server ends the connection (the client keeps its side open). */
async function untilServerEnds(socket: Socket): Promise<string> {
  const chunks: Buffer[] = [];
  socket.on("data", (c: Buffer) => chunks.push(c));
  await new Promise((ok) => socket.once("end", ok));
  socket.destroy();
  return Buffer.concat(chunks).toString("latin1");
}

const get = (path: string, extra = "") => `GET ${path} HTTP/1.1\r\nHost: ccts\r\n${extra}\r\n`;

describe("through buildApp, byte for byte as node:http", () => {
  it("every request, answered by the front or handed off, gets node:http's bytes", async () => {
    const { front, node } = await both();
    const etag = /etag: ("[^"]*")/.exec(await exchange(node.port, [get(`/cloud-config/${MAC_A}`)]))![1];
    const cases: [name: string, parts: string[]][] = [
      ["plain", [get(`/cloud-config/${MAC_A}`)]],
      ["query route", [get(`/ipxe?mac=${MAC_A}`)]],
      ["nocloud", [get(`/nocloud/${MAC_B}/meta-data`)]],
      ["304", [get(`/cloud-config/${MAC_A}`, `If-None-Match: ${etag}\r\n`)]],
      ["stale etag", [get(`/cloud-config/${MAC_A}`, 'If-None-Match: "old"\r\n')]],
      ["HTTP/1.0", [`GET /cloud-config/${MAC_A} HTTP/1.0\r\n\r\n`]],
      ["HTTP/1.0 keep-alive", [`GET /cloud-config/${MAC_A} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n`]],
      [
        "Connection: close, then more",
        [get(`/cloud-config/${MAC_A}`, "Connection: close\r\n") + get(`/ipxe?mac=${MAC_A}`)],
      ],
      ["unknown MAC (Fastify)", [get(`/cloud-config/${MAC_UNKNOWN}`)]],
      ["bad MAC (Fastify)", [get("/cloud-config/zz")]],
      ["HEAD (Fastify)", [`HEAD /cloud-config/${MAC_A} HTTP/1.1\r\nHost: ccts\r\n\r\n`]],
      ["no Host (node:http 400)", [`GET /cloud-config/${MAC_A} HTTP/1.1\r\n\r\n`]],
      ["bare LF (llhttp)", [`GET /cloud-config/${MAC_A} HTTP/1.1\nHost: ccts\n\n`]],
      [
        "POST with a body",
        [`POST /cloud-config/${MAC_A} HTTP/1.1\r\nHost: ccts\r\nContent-Length: 3\r\n\r\nabc`],
      ],
      [
        "pipelined, all plain",
        [get(`/cloud-config/${MAC_A}`) + get(`/ipxe?mac=${MAC_A}`) + get(`/cloud-config/${MAC_B}`)],
      ],
      [
        "pipelined, Fastify in the middle",
        [get(`/cloud-config/${MAC_A}`) + get(`/cloud-config/${MAC_UNKNOWN}`) + get(`/cloud-config/${MAC_B}`)],
      ],
      [
        "a head split across writes",
        [`GET /cloud-config/${MAC_A} HTTP/1.1\r\nHo`, "st: ccts\r\n\r\n", get(`/cloud-config/${MAC_B}`)],
      ],
      [
        "smuggling attempt",
        [
          `GET /cloud-config/${MAC_A} HTTP/1.1\r\nHost: ccts\r\nContent-Length: 40\r\n\r\n${get(`/cloud-config/${MAC_B}`)}`,
        ],
      ],
      ["garbage", ["\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"]],
      ["URL-encoded MAC", [get(`/cloud-config/${MAC_A.replaceAll(":", "%3A")}`)]],
      ["dotted MAC, query route", [get("/ipxe?mac=5254.0012.3401")]],
      ["obs-text and a tab in a value", [get(`/cloud-config/${MAC_A}`, "User-Agent: a\tb \xe9\r\n")]],
      ["DEL in a value", [get(`/cloud-config/${MAC_A}`, "User-Agent: a\x7fb\r\n")]],
      ["odd token characters in a name", [get(`/cloud-config/${MAC_A}`, "X-!#$%&'*+.^_`|~: 1\r\n")]],
      ["lower-case method", [`get /cloud-config/${MAC_A} HTTP/1.1\r\nHost: ccts\r\n\r\n`]],
      ["a quote in the path", [get(`/cloud-config/${MAC_A}"`)]],
      ["a CRLF before the request line", [`\r\n${get(`/cloud-config/${MAC_A}`)}`]],
      ["a head over maxHeaderSize", [get(`/cloud-config/${MAC_A}`, `X-Big: ${"b".repeat(17 * 1024)}\r\n`)]],
      ["HTTP/1.2", [`GET /cloud-config/${MAC_A} HTTP/1.2\r\nHost: ccts\r\n\r\n`]],
    ];
    for (const [name, parts] of cases) {
      const [viaFront, viaNode] = [
        await exchange(front.port, parts, { gapMs: 30 }),
        await exchange(node.port, parts, { gapMs: 30 }),
      ];
      expect(viaFront, name).toBe(viaNode);
      // Both close once the client has ended its side (equal would also hold were both to hang).
      expect(viaFront.endsWith("<still open>"), name).toBe(false);
    }
    // Equal, and not equally wrong: the plain case is the document (that the front, not node:http,
    // answered it is the test "plain requests never reach node:http").
    expect(await exchange(front.port, [get(`/cloud-config/${MAC_A}`)])).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  });

  it("a document whose type cannot stand in a header is left to node:http and Fastify", async () => {
    const lookup = fixtureLookup();
    const bad = servedDocument("#cloud-config\n", "text/plain\r\nx-injected: 1", "bad");
    lookup.set(MAC_B, { machine: "default/bad", documents: new Map([["cloud-config", bad]]) });
    const { front, node } = await both({ lookup });
    const request = [get(`/cloud-config/${MAC_B}`) + get(`/cloud-config/${MAC_A}`)];
    const [viaFront, viaNode] = [await exchange(front.port, request), await exchange(node.port, request)];
    expect(viaFront).toBe(viaNode);
    // node:http refuses the header; Fastify then sends the body with a type of its own.
    expect(viaFront).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*content-type: application\/octet-stream\r\n/);
    expect(viaFront).not.toContain("x-injected");
    expect(viaFront).toContain("hostname: a");
  });

  it("a document it cannot read goes to node:http and Fastify: 500, logged, the connection goes on", async () => {
    const lookup = fixtureLookup();
    const unreadable: ServedDocument = {
      get body(): Buffer {
        throw new Error("EIO: i/o error, read");
      },
      length: 10,
      copyBodyTo() {
        throw new Error("EIO: i/o error, read");
      },
      contentType: CT_CLOUD,
      etag: '"unreadable"',
    };
    lookup.set(MAC_B, { machine: "default/unreadable", documents: new Map([["cloud-config", unreadable]]) });
    const { lines, logger } = capturedLogger();
    const r = await start({ lookup, logger });
    running.push(r);
    const parsedByNode: string[] = [];
    r.app.server.on("request", (req: { url: string }) => parsedByNode.push(req.url));
    const answers = await exchange(r.port, [get(`/cloud-config/${MAC_B}`) + get(`/cloud-config/${MAC_A}`)]);
    expect(answers).toMatch(
      /^HTTP\/1\.1 500 Internal Server Error\r\n[\s\S]*HTTP\/1\.1 200 OK\r\n[\s\S]*hostname: a/,
    );
    expect(parsedByNode).toEqual([`/cloud-config/${MAC_B}`, `/cloud-config/${MAC_A}`]);
    await r.app.close(); // flushes the log
    expect(lines.some((l) => l.level === 50 && JSON.stringify(l).includes("EIO"))).toBe(true);
  });

  it("an error of its own ends that connection only, and is logged", async () => {
    const lookup = fixtureLookup();
    // A bug, simulated: a document whose type cannot even be read.
    const broken = {
      get contentType(): string {
        throw new TypeError("broken");
      },
      body: Buffer.from("x"),
      length: 1,
      copyBodyTo() {},
      etag: '"broken"',
    };
    lookup.set(MAC_B, { machine: "default/broken", documents: new Map([["cloud-config", broken]]) });
    const { lines, logger } = capturedLogger();
    const r = await start({ lookup, logger });
    running.push(r);
    expect(await exchange(r.port, [get(`/cloud-config/${MAC_B}`)])).toBe("");
    expect(await exchange(r.port, [get(`/cloud-config/${MAC_A}`)])).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    await r.app.close(); // flushes the log
    expect(lines.filter((l) => l.level === 50).map((l) => (l.err as { type?: string }).type)).toEqual([
      "TypeError",
    ]);
  });

  it("plain requests never reach node:http; the others do", async () => {
    const front = await start();
    running.push(front);
    const parsedByNode: string[] = [];
    front.app.server.on("request", (req: { url: string }) => parsedByNode.push(req.url));
    await exchange(front.port, [get(`/cloud-config/${MAC_A}`) + get(`/ipxe?mac=${MAC_A}`)]);
    await exchange(front.port, [get(`/cloud-config/${MAC_UNKNOWN}`) + get(`/cloud-config/${MAC_A}`)]);
    expect(parsedByNode).toEqual([`/cloud-config/${MAC_UNKNOWN}`, `/cloud-config/${MAC_A}`]);
  });

  it("writes the answers to a read after it, at the end of the event loop's turn, in order", async () => {
    const front = await start();
    running.push(front);
    const events: string[] = [];
    front.app.server.on("connection", (s: Socket) => {
      // Listeners added after the front's: this one runs once the front has handled the read.
      s.on("data", () => events.push("read"));
      const write = s.write.bind(s) as (chunk: Buffer) => boolean;
      s.write = ((chunk: Buffer) => {
        events.push("write");
        return write(chunk);
      }) as typeof s.write;
    });
    const text = await exchange(front.port, [get(`/cloud-config/${MAC_A}`) + get(`/cloud-config/${MAC_B}`)]);
    // Written one by one as each request was read, the two writes would come before "read".
    expect(events).toEqual(["read", "write", "write"]);
    expect(text.indexOf("hostname: a\n")).toBeGreaterThan(0);
    expect(text.indexOf("hostname: b\n")).toBeGreaterThan(text.indexOf("hostname: a\n"));
  });

  it("stops reading a client that pipelines faster than it reads, then answers all of it", async () => {
    const lookup = fixtureLookup();
    const big = `#cloud-config\n${"#".repeat(64 * 1024)}\n`;
    lookup.set(MAC_B, {
      machine: "default/big",
      documents: new Map([["cloud-config", servedDocument(big, CT_CLOUD, "big")]]),
    });
    const front = await start({ lookup });
    running.push(front);
    const one = (await exchangeBytes(front.port, [get(`/cloud-config/${MAC_B}`)])).bytes.length;
    const serverSide: Socket[] = [];
    front.app.server.on("connection", (s: Socket) => serverSide.push(s));
    const count = 2000; // 128 MiB of answers: far more than the sockets' buffers
    const socket = connect(front.port, "127.0.0.1");
    await new Promise((ok) => socket.once("connect", ok));
    socket.pause(); // reads nothing for now: the server's answers back up
    socket.write(get(`/cloud-config/${MAC_B}`).repeat(count));
    await new Promise((ok) => setTimeout(ok, 500));
    // The server stopped answering: what it holds in memory for the client is bounded (a server
    // that answered every request it had read held ~70 MiB here).
    expect(serverSide[0]!.writableLength).toBeLessThan(1024 * 1024);
    let received = 0;
    socket.on("data", (c: Buffer) => (received += c.length));
    socket.end();
    socket.resume();
    await new Promise((ok) => socket.once("end", ok));
    expect(received).toBe(count * one);
  });
});

describe("connections the front holds", () => {
  it("closes a fresh connection that sends nothing at headersTimeout, an idle one at keepAliveTimeout", async () => {
    const r = await start({ limits: { headersTimeoutMs: 300, keepAliveTimeoutMs: 1000 } });
    running.push(r);
    const silent = connect(r.port, "127.0.0.1");
    const t0 = performance.now();
    await untilServerEnds(silent).catch(() => "");
    await new Promise((ok) => silent.once("close", ok));
    const silentMs = performance.now() - t0;

    const idle = connect(r.port, "127.0.0.1");
    await new Promise((ok) => idle.once("connect", ok));
    idle.write(get(`/cloud-config/${MAC_A}`));
    const t1 = performance.now();
    const text = await new Promise<string>((ok) => {
      let all = "";
      idle.on("data", (c: Buffer) => (all += c.toString("latin1")));
      idle.once("close", () => ok(all));
    });
    const idleMs = performance.now() - t1;
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*Keep-Alive: timeout=1\r\n/);
    // Closed by the server, and not before its time (no upper bound: machines here are noisy).
    expect(silentMs).toBeGreaterThanOrEqual(250);
    expect(idleMs).toBeGreaterThanOrEqual(900);
  });

  it("close() ends the idle keep-alive connections the front holds", async () => {
    const r = await start();
    const idle = connect(r.port, "127.0.0.1");
    await new Promise((ok) => idle.once("connect", ok));
    const chunks: string[] = [];
    idle.on("data", (c: Buffer) => chunks.push(c.toString("latin1")));
    idle.write(get(`/cloud-config/${MAC_A}`));
    while (!chunks.join("").includes("hostname: a\n")) await new Promise((ok) => setTimeout(ok, 5));
    const closed = new Promise((ok) => idle.once("close", ok));
    // Resolves only once every connection is gone: a held socket would keep it waiting for ever.
    await r.app.close();
    await closed;
    expect(chunks.join("")).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  });
});
