// A free loopback port. No relative imports here: the benchmarks load this file with Node's type
// stripping (which needs .ts specifiers) and the tests through vitest (which use .js ones).
import { once } from "node:events";
import { createServer } from "node:net";

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, "close");
  return port;
}
