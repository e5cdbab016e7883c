// Shared fixtures for the server tests: a MemoryLookup filled by hand (the lookup port's own
// in-memory implementation, not a mock) and an app listening on a real loopback socket.
import { request as httpRequest } from "node:http";
import { type AddressInfo, connect, type Socket } from "node:net";
import { Writable } from "node:stream";
import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { type AppDeps, buildApp } from "../../src/server/app.js";
import type { MachineDocuments } from "../../src/server/lookup.js";
import { MemoryLookup, servedDocument } from "../../src/server/memory-lookup.js";

export const MAC_A = "52:54:00:12:34:01";
/** Second interface of machine A. */
export const MAC_A2 = "52:54:00:12:34:11";
export const MAC_B = "52:54:00:12:34:02";
export const MAC_UNKNOWN = "52:54:00:99:99:99";

export const CLOUD_CONFIG_A = "#cloud-config\nhostname: a\n";
export const META_DATA_A = "instance-id: iid-a\nlocal-hostname: a\n";
export const IPXE_A = "#!ipxe\nkernel /assets/vmlinuz\nboot\n";
export const INSTALL_A = "#!/bin/sh\necho install a\n";

export const CT_CLOUD = "text/cloud-config; charset=utf-8";
export const CT_IPXE = "text/plain; charset=utf-8";
export const CT_SHELL = "text/x-shellscript; charset=utf-8";
export const CT_YAML = "application/yaml; charset=utf-8";

function machine(
  key: string,
  hash: string,
  docs: Record<string, [content: string, type: string]>,
): MachineDocuments {
  return {
    machine: key,
    documents: new Map(
      Object.entries(docs).map(([output, [content, type]]) => [
        output,
        servedDocument(content, type, `${hash}-${output}`),
      ]),
    ),
  };
}

/** Machine A (two MACs): cloud-config, ipxe, install.sh, meta-data; no user-data, vendor-data, network-config. */
export const machineA = machine("default/a", "hasha", {
  "cloud-config": [CLOUD_CONFIG_A, CT_CLOUD],
  ipxe: [IPXE_A, CT_IPXE],
  "install.sh": [INSTALL_A, CT_SHELL],
  "meta-data": [META_DATA_A, CT_YAML],
});

/** Machine B: every NoCloud document of its own, user-data distinct from cloud-config. */
export const machineB = machine("default/b", "hashb", {
  "cloud-config": ["#cloud-config\nhostname: b\n", CT_CLOUD],
  "user-data": ["#cloud-config\nhostname: b-user\n", CT_CLOUD],
  "vendor-data": ["#cloud-config\nruncmd: [true]\n", CT_CLOUD],
  "network-config": ["version: 2\nethernets: {}\n", CT_YAML],
  "meta-data": ["instance-id: iid-b\nlocal-hostname: b\n", CT_YAML],
});

/** A pino logger at info whose JSON lines are collected, parsed, in `lines`. */
export function capturedLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of chunk.toString().split("\n")) if (l) lines.push(JSON.parse(l));
      done();
    },
  });
  return { lines, logger: pino({ level: "info" }, stream) };
}

export function fixtureLookup(): MemoryLookup {
  const lookup = new MemoryLookup();
  lookup.setMachine([MAC_A, MAC_A2], machineA);
  lookup.set(MAC_B, machineB);
  lookup.setReady(true);
  return lookup;
}

export interface Running {
  app: FastifyInstance;
  base: string;
  port: number;
  lookup: MemoryLookup;
}

export async function start(deps: Partial<AppDeps> & { lookup?: MemoryLookup } = {}): Promise<Running> {
  const lookup = deps.lookup ?? fixtureLookup();
  const app = buildApp({ ...deps, lookup });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  return { app, base: `http://127.0.0.1:${port}`, port, lookup };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A request whose path goes on the wire exactly as given (fetch would normalise `..`). */
export function rawGet(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: "127.0.0.1", port, path, method: "GET", headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

export interface ExchangeOptions {
  /** Pause between two writes. */
  gapMs?: number;
  /**
   * Write each part once the answer to the one before has arrived (nothing more for 30 ms), and
   * none after an answer with `Connection: close`.
   */
  oneAtATime?: boolean;
}

/** How long after the client's end the server must have closed. */
const CLOSE_WITHIN_MS = 1000;

/**
 * One raw connection: each part its own write, then the client's end. Resolves to every byte the
 * server sent, and whether it closed the connection within a second of that end (node:http and
 * the socket front both answer every complete request, then end their side).
 */
export async function exchangeBytes(
  port: number,
  parts: string[],
  { gapMs = 0, oneAtATime = false }: ExchangeOptions = {},
): Promise<{ bytes: Buffer; closed: boolean }> {
  const socket = connect(port, "127.0.0.1");
  // Listened for from the start: a server may close before the client is done writing.
  const closed = new Promise<boolean>((ok) => socket.once("close", () => ok(true)));
  socket.on("error", () => {});
  await new Promise((ok) => socket.once("connect", ok));
  const chunks: Buffer[] = [];
  socket.on("data", (c: Buffer) => chunks.push(c));
  for (const [i, part] of parts.entries()) {
    if (i > 0 && gapMs > 0) await new Promise((ok) => setTimeout(ok, gapMs));
    if (!socket.writable) break;
    socket.write(part, "latin1");
    if (oneAtATime) {
      await settled(socket, 30, 1000);
      // An answer that ends the connection ends the exchange: what follows is not read.
      if (/\r\nconnection: close\r\n/i.test(Buffer.concat(chunks).toString("latin1"))) break;
    }
  }
  socket.end();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((ok) => (timer = setTimeout(() => ok(false), CLOSE_WITHIN_MS)));
  const closedInTime = await Promise.race([closed, timedOut]);
  clearTimeout(timer);
  if (!closedInTime) socket.destroy();
  return { bytes: Buffer.concat(chunks), closed: closedInTime };
}

/**
 * exchangeBytes as text, Date headers blanked so two servers' answers compare; ends in
 * `<still open>` when the server had not closed a second after the client's end.
 */
export async function exchange(port: number, parts: string[], options?: ExchangeOptions): Promise<string> {
  const { bytes, closed } = await exchangeBytes(port, parts, options);
  const text = bytes.toString("latin1").replace(/\r\nDate: [^\r]*/g, "\r\nDate: -");
  return closed ? text : `${text}\n<still open>`;
}

/** Resolves once nothing arrived for `quietMs`, or the connection closed, or after `maxMs`. */
function settled(socket: Socket, quietMs: number, maxMs: number): Promise<void> {
  return new Promise((ok) => {
    let quiet: NodeJS.Timeout | undefined;
    const done = () => {
      clearTimeout(quiet);
      clearTimeout(bound);
      socket.off("data", again);
      socket.off("close", done);
      ok();
    };
    const again = () => {
      clearTimeout(quiet);
      quiet = setTimeout(done, quietMs);
    };
    const bound = setTimeout(done, maxMs);
    socket.on("data", again);
    socket.once("close", done);
    again();
  });
}
