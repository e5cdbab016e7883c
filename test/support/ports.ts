// A free loopback port. No relative imports here: the benchmarks load this file with Node's type
// stripping (which needs .ts specifiers) and the tests through vitest (which use .js ones).
//
// The port is picked below the kernel's ephemeral range, not by listening on port 0: a port from
// that range is free only until the kernel hands it out as the source port of some outgoing
// connection, and the tests open thousands (boot storms through HAProxy, wrk), so a child process
// told to listen on it later could find it taken (seen: Consul's "bind: address already in use").
// Below the range only another freePort caller can take it, and the pick is random; one process
// never hands out a port twice (four picks in a row for one control plane could otherwise meet).
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

const LOWEST = 10_000;

/** The first port of the kernel's ephemeral range (Linux default 32768). */
function ephemeralStart(): number {
  try {
    const [low] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/);
    const n = Number(low);
    return Number.isInteger(n) && n > LOWEST + 1000 ? n : 32_768;
  } catch {
    return 32_768;
  }
}

const below = ephemeralStart();

/** Whether a listener can bind `port` on loopback now (it is closed again before returning). */
export async function listens(port: number): Promise<boolean> {
  const server = createServer();
  // One promise for both outcomes: events.once(server, "listening") would reject on "error" and
  // turn a taken port into a thrown EADDRINUSE instead of a reason to pick another.
  const ok = await new Promise<boolean>((resolve) => {
    server.once("listening", () => resolve(true));
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1");
  });
  if (ok) {
    server.close();
    await once(server, "close");
  }
  return ok;
}

/** Ports this process has handed out: a caller may not bind its port before the next pick. */
const handedOut = new Set<number>();

export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * (below - LOWEST));
    if (handedOut.has(port)) continue;
    if (await listens(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port found in ${LOWEST}-${below - 1}`);
}
