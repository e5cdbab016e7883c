// freePort's probe: a port another listener holds must read as taken (so freePort picks another),
// not throw EADDRINUSE out of freePort (which failed a whole test file's setup once).
import { once } from "node:events";
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { freePort, listens } from "./ports.js";

describe("listens", () => {
  it("is false for a port another listener holds, and true once it is free", async () => {
    const port = await freePort();
    const holder = createServer();
    holder.listen(port, "127.0.0.1");
    await once(holder, "listening");
    await expect(listens(port)).resolves.toBe(false);
    holder.close();
    await once(holder, "close");
    await expect(listens(port)).resolves.toBe(true);
  });
});
