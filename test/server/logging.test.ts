// The access log: one line per request with its id, method, url, status, response time and
// remote address; never a document body; long URLs cut short.
import { describe, expect, it } from "vitest";
import { CLOUD_CONFIG_A, capturedLogger as capture, MAC_A, start } from "./helpers.js";

describe("access log", () => {
  it("one line per request, with the fields an operator needs and no body", async () => {
    const { lines, logger } = capture();
    const s = await start({ logger });
    try {
      expect((await fetch(`${s.base}/cloud-config/${MAC_A}`)).status).toBe(200);
      const long = `/x${"y".repeat(5000)}`;
      await fetch(`${s.base}${long}`);
      await new Promise((r) => setTimeout(r, 50));
      const access = lines.filter((l) => l.msg === "request");
      expect(access).toHaveLength(2);
      expect(access[0]).toMatchObject({
        method: "GET",
        url: `/cloud-config/${MAC_A}`,
        status: 200,
        remoteAddress: "127.0.0.1",
      });
      expect(typeof access[0]!.responseTime).toBe("number");
      // Each line names its request; ids differ between requests.
      expect(access[0]!.reqId).toEqual(expect.any(String));
      expect(access[1]!.reqId).not.toBe(access[0]!.reqId);
      expect((access[1]!.url as string).length).toBeLessThanOrEqual(201);
      expect(access[1]!.status).toBe(404);
      const all = JSON.stringify(lines);
      expect(all).not.toContain("hostname: a");
      expect(all).not.toContain(CLOUD_CONFIG_A.trim());
      // Fastify's own incoming/completed lines are replaced by the one above.
      expect(lines.filter((l) => l.msg === "incoming request")).toHaveLength(0);
    } finally {
      await s.app.close();
    }
  });

  it("accepts pino options and false", async () => {
    for (const logger of [false, { level: "silent" }]) {
      const s = await start({ logger });
      try {
        expect((await fetch(`${s.base}/healthz`)).status).toBe(200);
      } finally {
        await s.app.close();
      }
    }
  });
});
