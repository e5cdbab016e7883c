// What KubeClient puts on the wire and how it reads an answer, against a real node:http server on
// loopback standing in for the API server (where the request line and a cut-off answer can be
// chosen). The API server itself answers the client throughout test/k8s and test/controller.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ApiError, KubeClient } from "../../src/k8s/client.js";

let server: http.Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

/** A request as the server saw it. */
type Seen = { method: string; url: string; headers: http.IncomingHttpHeaders; body: string };

/** A server on `host` answering every request with `answer`; resolves to its URL and the requests seen. */
async function serve(
  host: string,
  answer: (req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      answer(req, res);
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`, seen };
}

function client(server: string): Promise<KubeClient> {
  return KubeClient.create({ server, tls: {}, authHeaders: async () => ({ Authorization: "Bearer t" }) });
}

const json = (status: number, value: unknown) => (_req: http.IncomingMessage, res: http.ServerResponse) => {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(value));
};

describe("KubeClient requests", () => {
  it("puts the server's path prefix before the path and encodes the query", async () => {
    const s = await serve("127.0.0.1", json(200, { ok: true }));
    const c = await client(`${s.url}/k8s/`);
    const got = await c.request("PATCH", "/api/v1/namespaces/a/configmaps/b", {
      query: { fieldManager: "ccts-controller", force: true, labelSelector: "x=y,!z", skipped: undefined },
      contentType: "application/apply-patch+yaml",
      body: { data: { "a b": "ä" } },
    });
    c.close();
    expect(got).toEqual({ ok: true });
    expect(s.seen).toHaveLength(1);
    const [req] = s.seen;
    expect(req!.method).toBe("PATCH");
    const url = new URL(req!.url, "http://x");
    expect(url.pathname).toBe("/k8s/api/v1/namespaces/a/configmaps/b");
    expect([...url.searchParams]).toEqual([
      ["fieldManager", "ccts-controller"],
      ["force", "true"],
      ["labelSelector", "x=y,!z"],
    ]);
    expect(req!.headers["content-type"]).toBe("application/apply-patch+yaml");
    expect(req!.headers.authorization).toBe("Bearer t");
    expect(Number(req!.headers["content-length"])).toBe(Buffer.byteLength(req!.body));
    expect(JSON.parse(req!.body)).toEqual({ data: { "a b": "ä" } });
  });

  it("reaches a server at an IPv6 literal", async () => {
    const s = await serve("::1", json(200, { v6: true }));
    const c = await client(s.url);
    expect(await c.request("GET", "/version")).toEqual({ v6: true });
    c.close();
  });

  it("rejects with ApiError naming the status and the server's message", async () => {
    const s = await serve("127.0.0.1", json(422, { reason: "Invalid", message: "data too long" }));
    const c = await client(s.url);
    const err = (await c
      .request("POST", "/api/v1/namespaces/a/configmaps", { body: {} })
      .catch((e) => e)) as ApiError;
    c.close();
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 422, reason: "Invalid" });
    expect(String(err.message)).toContain("data too long");
  });

  it("rejects, instead of waiting for ever, when the connection is cut in the middle of an answer", async () => {
    const s = await serve("127.0.0.1", (_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": "1000" });
      res.write('{"metadata":');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const c = await client(s.url);
    await expect(c.request("GET", "/api/v1/namespaces")).rejects.toThrow();
    c.close();
  });
});
