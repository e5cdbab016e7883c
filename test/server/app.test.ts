// The document endpoints over a real loopback socket: every URL shape installers use, every MAC
// notation, status codes, content types, ETag/304, HEAD, readiness and metrics.

import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BOOT_IPXE, bootIpxeScript, buildApp } from "../../src/server/app.js";
import {
  CLOUD_CONFIG_A,
  CT_CLOUD,
  CT_IPXE,
  CT_SHELL,
  CT_YAML,
  INSTALL_A,
  IPXE_A,
  MAC_A,
  MAC_A2,
  MAC_B,
  MAC_UNKNOWN,
  META_DATA_A,
  machineA,
  type Running,
  rawGet,
  start,
} from "./helpers.js";

let s: Running;
beforeAll(async () => {
  s = await start();
});
afterAll(async () => {
  await s.app.close();
});

const get = (path: string, init?: RequestInit) => fetch(`${s.base}${path}`, init);

const NOTATIONS = [
  "52:54:00:12:34:01",
  "52-54-00-12-34-01",
  "525400123401",
  "5254.0012.3401",
  "52:54:00:12:34:01".toUpperCase(),
  "52-54-00-12-34-01".toUpperCase(),
  "52%3A54%3A00%3A12%3A34%3A01",
  "52%3a54%3a00%3a12%3a34%3a01",
  // Double-encoded colons, as a proxy that re-encodes `%` would send them.
  "52%253A54%253A00%253A12%253A34%253A01",
];

describe("cloud-config", () => {
  it.each(NOTATIONS)("GET /cloud-config/%s", async (mac) => {
    const res = await get(`/cloud-config/${mac}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe(CT_CLOUD);
    expect(await res.text()).toBe(CLOUD_CONFIG_A);
  });

  it.each(NOTATIONS)("GET /cloud-configs/%s.yaml", async (mac) => {
    const res = await get(`/cloud-configs/${mac}.yaml`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(CLOUD_CONFIG_A);
  });

  it("serves a Machine under each of its interface MACs", async () => {
    const res = await get(`/cloud-config/${MAC_A2}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(CLOUD_CONFIG_A);
  });

  it("/cloud-configs/ needs the .yaml suffix", async () => {
    expect((await get(`/cloud-configs/${MAC_A}`)).status).toBe(404);
    expect((await get(`/cloud-configs/${MAC_A}.yml`)).status).toBe(404);
  });

  it.each([
    "zz:54:00:12:34:01",
    "52:54:00:12:34",
    "52:54:00:12:34:01:",
    "52:54-00:12:34:01",
    "hello",
    "5254001234",
  ])("400 for malformed MAC %s", async (mac) => {
    const res = await get(`/cloud-config/${mac}`);
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    const text = await res.text();
    expect(text).toMatch(/^malformed MAC address/);
    expect(text).not.toContain(mac);
  });

  it("404 for a well-formed MAC no Machine has", async () => {
    const res = await get(`/cloud-config/${MAC_UNKNOWN}`);
    expect(res.status).toBe(404);
    expect(await res.text()).toBe("unknown MAC\n");
  });

  it("414 for a path parameter longer than maxParamLength, without echo", async () => {
    const long = "a".repeat(500);
    const res = await get(`/cloud-config/${long}`);
    expect(res.status).toBe(414);
    expect(await res.text()).not.toContain(long);
  });

  it("400 for malformed percent-encoding, without echo", async () => {
    const res = await rawGet(s.port, "/cloud-config/%zz%zzsecretpath");
    expect(res.status).toBe(400);
    expect(res.body).not.toContain("secretpath");
  });
});

describe("iPXE", () => {
  it("/boot.ipxe chains relatively to the booting NIC's own script", async () => {
    const res = await get("/boot.ipxe");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    const text = await res.text();
    expect(text).toBe(BOOT_IPXE);
    expect(text.startsWith("#!ipxe\n")).toBe(true);
    expect(text).toContain(["chain ipxe?mac=$", "{netX/mac:hexhyp}"].join(""));
    expect(text).not.toMatch(/https?:\/\//);
  });

  it("/boot.ipxe tries as often and as many times as the app is told", async () => {
    const other = await start({ bootRetry: { seconds: 3, tries: 5 } });
    const body = await (await fetch(`${other.base}/boot.ipxe`)).text();
    await other.app.close();
    expect(body).toBe(bootIpxeScript({ seconds: 3, tries: 5 }));
    expect(body).toContain("\nsleep 3\n");
    expect(body).toContain(
      ["iseq $", "{ccts-tries} 5 && echo ccts: no boot for $", "{netX/mac} after 5 tries"].join(""),
    );
    expect(body).not.toBe(BOOT_IPXE);
  });

  it.each(NOTATIONS)("GET /ipxe?mac=%s", async (mac) => {
    const res = await get(`/ipxe?mac=${mac}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe(CT_IPXE);
    expect(await res.text()).toBe(IPXE_A);
  });

  it("what boot.ipxe expands to (hexhyp) finds the machine", async () => {
    expect((await get("/ipxe?mac=52-54-00-12-34-01")).status).toBe(200);
  });

  it("an InfiniBand port's 20-byte address, as iPXE sends it (colons URL-encoded) and as hexhyp", async () => {
    const ib = "80:00:02:08:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0a:bc:01";
    const r = await start();
    try {
      r.lookup.setMachine([ib], machineA);
      for (const mac of [ib.replaceAll(":", "%3A"), ib.replaceAll(":", "-"), ib.replaceAll(":", "%253A")]) {
        const res = await fetch(`${r.base}/ipxe?mac=${mac}`);
        expect(res.status, mac).toBe(200);
        expect(await res.text()).toBe(IPXE_A);
      }
    } finally {
      await r.app.close();
    }
  });

  it("400 without mac, with a malformed mac, with mac given twice", async () => {
    expect((await get("/ipxe")).status).toBe(400);
    expect(await (await get("/ipxe")).text()).toBe("missing query parameter mac\n");
    expect((await get("/ipxe?mac=nope")).status).toBe(400);
    expect((await get(`/ipxe?mac=${MAC_A}&mac=${MAC_B}`)).status).toBe(400);
  });

  it("404 for unknown MAC and for a machine without the output", async () => {
    expect((await get(`/ipxe?mac=${MAC_UNKNOWN}`)).status).toBe(404);
    expect((await get(`/ipxe?mac=${MAC_B}`)).status).toBe(404);
  });
});

describe("install.sh", () => {
  it.each(NOTATIONS)("GET /install.sh?mac=%s", async (mac) => {
    const res = await get(`/install.sh?mac=${mac}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe(CT_SHELL);
    expect(await res.text()).toBe(INSTALL_A);
  });

  it("400 without mac", async () => {
    expect((await get("/install.sh")).status).toBe(400);
  });
});

describe("NoCloud", () => {
  it.each(NOTATIONS)("meta-data and user-data under /nocloud/%s/", async (mac) => {
    const md = await get(`/nocloud/${mac}/meta-data`);
    expect(md.status).toBe(200);
    expect(md.headers.get("content-type")).toBe(CT_YAML);
    expect(await md.text()).toBe(META_DATA_A);
    const ud = await get(`/nocloud/${mac}/user-data`);
    expect(ud.status).toBe(200);
    expect(await ud.text()).toBe(CLOUD_CONFIG_A);
  });

  it("absent vendor-data and network-config of a known machine: empty 200", async () => {
    const vd = await get(`/nocloud/${MAC_A}/vendor-data`);
    expect(vd.status).toBe(200);
    expect(await vd.text()).toBe("");
    expect(vd.headers.get("content-length")).toBe("0");
    const nc = await get(`/nocloud/${MAC_A}/network-config`);
    expect(nc.status).toBe(200);
    expect(await nc.text()).toBe("");
  });

  it("a machine's own user-data, vendor-data and network-config win", async () => {
    expect(await (await get(`/nocloud/${MAC_B}/user-data`)).text()).toBe("#cloud-config\nhostname: b-user\n");
    expect(await (await get(`/nocloud/${MAC_B}/vendor-data`)).text()).toBe("#cloud-config\nruncmd: [true]\n");
    const nc = await get(`/nocloud/${MAC_B}/network-config`);
    expect(nc.headers.get("content-type")).toBe(CT_YAML);
    expect(await nc.text()).toBe("version: 2\nethernets: {}\n");
  });

  it("unknown MAC: 404 for every NoCloud file, also vendor-data", async () => {
    for (const f of ["meta-data", "user-data", "vendor-data", "network-config"]) {
      expect((await get(`/nocloud/${MAC_UNKNOWN}/${f}`)).status).toBe(404);
    }
  });

  it("400 for malformed MAC, 404 for other file names", async () => {
    expect((await get("/nocloud/xyz/meta-data")).status).toBe(400);
    expect((await get(`/nocloud/${MAC_A}/instance-data`)).status).toBe(404);
  });
});

describe("/machines/:mac/:output", () => {
  it("any output by name", async () => {
    for (const [output, doc] of machineA.documents) {
      const res = await get(`/machines/${MAC_A}/${output}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe(doc.contentType);
      expect(Buffer.from(await res.arrayBuffer())).toEqual(doc.body);
    }
  });

  it("404 for an output the machine does not have; 400 for a malformed MAC", async () => {
    const res = await get(`/machines/${MAC_A}/no-such-output`);
    expect(res.status).toBe(404);
    expect(await res.text()).toBe("no such document for this machine\n");
    expect((await get("/machines/nope/cloud-config")).status).toBe(400);
  });
});

describe("ETag and conditional requests", () => {
  it("sends a strong quoted ETag and answers If-None-Match with 304", async () => {
    const res = await get(`/cloud-config/${MAC_A}`);
    const etag = res.headers.get("etag");
    expect(etag).toBe(machineA.documents.get("cloud-config")!.etag);
    expect(etag).toMatch(/^"[^"]+"$/);
    expect(res.headers.get("cache-control")).toBe("no-cache");
    for (const inm of [etag!, `W/${etag}`, `"other", ${etag}`, "*"]) {
      const again = await get(`/cloud-config/${MAC_A}`, { headers: { "if-none-match": inm } });
      expect(again.status).toBe(304);
      expect(again.headers.get("etag")).toBe(etag);
      expect(await again.text()).toBe("");
    }
  });

  it("a different ETag gets the document", async () => {
    const res = await get(`/cloud-config/${MAC_A}`, { headers: { "if-none-match": '"stale"' } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(CLOUD_CONFIG_A);
  });

  it("documents of different outputs have different ETags", async () => {
    const a = (await get(`/ipxe?mac=${MAC_A}`)).headers.get("etag");
    const b = (await get(`/install.sh?mac=${MAC_A}`)).headers.get("etag");
    expect(a).not.toBe(b);
  });

  it("boot.ipxe has an ETag too", async () => {
    const etag = (await get("/boot.ipxe")).headers.get("etag")!;
    expect((await get("/boot.ipxe", { headers: { "if-none-match": etag } })).status).toBe(304);
  });
});

describe("HEAD", () => {
  it.each([
    `/cloud-config/${MAC_A}`,
    `/cloud-configs/${MAC_A}.yaml`,
    "/boot.ipxe",
    `/ipxe?mac=${MAC_A}`,
    `/install.sh?mac=${MAC_A}`,
    `/nocloud/${MAC_A}/meta-data`,
    `/machines/${MAC_A}/cloud-config`,
    "/healthz",
  ])("HEAD %s: headers of GET, no body", async (path) => {
    const g = await get(path);
    const body = Buffer.from(await g.arrayBuffer());
    const h = await get(path, { method: "HEAD" });
    expect(h.status).toBe(200);
    expect(h.headers.get("content-type")).toBe(g.headers.get("content-type"));
    expect(h.headers.get("content-length")).toBe(String(body.length));
    expect(h.headers.get("etag")).toBe(g.headers.get("etag"));
    expect(await h.text()).toBe("");
  });

  it("HEAD of an unknown MAC is 404", async () => {
    expect((await get(`/cloud-config/${MAC_UNKNOWN}`, { method: "HEAD" })).status).toBe(404);
  });
});

describe("health, readiness, errors", () => {
  it("/healthz", async () => {
    const res = await get("/healthz");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("ok\n");
  });

  it("404 for unknown routes, plain text, no echo", async () => {
    const res = await get("/no/such/route/secretword");
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await res.text()).toBe("not found\n");
  });

  it("other methods than GET/HEAD are not routed", async () => {
    const res = await get(`/cloud-config/${MAC_A}`, { method: "POST", body: "x" });
    expect(res.status).toBe(404);
  });

  it("a body larger than bodyLimit is refused without a stack trace", async () => {
    const res = await get(`/cloud-config/${MAC_A}`, { method: "POST", body: "x".repeat(100_000) });
    expect([404, 413]).toContain(res.status);
    expect(await res.text()).not.toMatch(/at .*\.js/);
  });
});

describe("a failing lookup", () => {
  it("500 with a short plain-text body, no stack trace, server keeps going", async () => {
    const broken = {
      machine(): never {
        throw new Error("index exploded at /secret/path");
      },
      ready: () => true,
    };
    const app = buildApp({ lookup: broken });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    try {
      const res = await fetch(`${base}/cloud-config/${MAC_A}`);
      expect(res.status).toBe(500);
      expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
      const body = await res.text();
      expect(body).toBe("internal server error\n");
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
    } finally {
      await app.close();
    }
  });
});

describe("readiness flip", () => {
  it("/readyz follows lookup.ready(); unknown MACs get 503 while not ready", async () => {
    const r = await start();
    try {
      const readyz = () => fetch(`${r.base}/readyz`);
      expect((await readyz()).status).toBe(200);
      r.lookup.setReady(false);
      const res = await readyz();
      expect(res.status).toBe(503);
      expect(await res.text()).toBe("not ready\n");
      const unknown = await fetch(`${r.base}/cloud-config/${MAC_UNKNOWN}`);
      expect(unknown.status).toBe(503);
      expect(unknown.headers.get("retry-after")).toBe("5");
      // What is known is served while not ready (e.g. from a disk cache before the watch syncs).
      expect((await fetch(`${r.base}/cloud-config/${MAC_A}`)).status).toBe(200);
      expect((await fetch(`${r.base}/healthz`)).status).toBe(200);
      r.lookup.setReady(true);
      expect((await readyz()).status).toBe(200);
      expect((await fetch(`${r.base}/cloud-config/${MAC_UNKNOWN}`)).status).toBe(404);
    } finally {
      await r.app.close();
    }
  });

  it("documents learned after start are served at once; deleted ones are gone", async () => {
    const r = await start();
    try {
      r.lookup.delete(MAC_A);
      expect((await fetch(`${r.base}/cloud-config/${MAC_A}`)).status).toBe(404);
      expect((await fetch(`${r.base}/cloud-config/${MAC_A2}`)).status).toBe(200);
      r.lookup.deleteMachine("default/a");
      expect((await fetch(`${r.base}/cloud-config/${MAC_A2}`)).status).toBe(404);
      r.lookup.set("52-54-00-12-34-01", machineA);
      expect((await fetch(`${r.base}/cloud-config/${MAC_A}`)).status).toBe(200);
    } finally {
      await r.app.close();
    }
  });
});

function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries(
      [...(m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]] as [string, string]),
    );
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

describe("/metrics", () => {
  it("counts requests by route and status, documents by output, unknown MACs", async () => {
    const r = await start();
    try {
      await fetch(`${r.base}/cloud-config/${MAC_A}`);
      await fetch(`${r.base}/cloud-config/${MAC_B}`);
      await fetch(`${r.base}/cloud-config/${MAC_UNKNOWN}`);
      await fetch(`${r.base}/cloud-config/bad`);
      await fetch(`${r.base}/ipxe?mac=${MAC_A}`);
      const etag = (await fetch(`${r.base}/install.sh?mac=${MAC_A}`)).headers.get("etag")!;
      await fetch(`${r.base}/install.sh?mac=${MAC_A}`, { headers: { "if-none-match": etag } });
      await fetch(`${r.base}/nowhere`);
      const res = await fetch(`${r.base}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      expect(sample(text, "ccts_http_requests_total", { route: "/cloud-config/:mac", status: "200" })).toBe(
        2,
      );
      expect(sample(text, "ccts_http_requests_total", { route: "/cloud-config/:mac", status: "404" })).toBe(
        1,
      );
      expect(sample(text, "ccts_http_requests_total", { route: "/cloud-config/:mac", status: "400" })).toBe(
        1,
      );
      expect(sample(text, "ccts_http_requests_total", { route: "/install.sh", status: "304" })).toBe(1);
      expect(sample(text, "ccts_http_requests_total", { route: "unmatched", status: "404" })).toBe(1);
      expect(sample(text, "ccts_documents_served_total", { output: "cloud-config" })).toBe(2);
      expect(sample(text, "ccts_documents_served_total", { output: "ipxe" })).toBe(1);
      expect(sample(text, "ccts_documents_served_total", { output: "install.sh" })).toBe(2);
      expect(sample(text, "ccts_unknown_mac_total")).toBe(1);
      expect(sample(text, "ccts_http_request_duration_seconds_count", { route: "/cloud-config/:mac" })).toBe(
        4,
      );
      expect(text).toContain("process_cpu_user_seconds_total");
      expect(text).toContain("nodejs_eventloop_lag_seconds");
      // No label carries request input.
      expect(text).not.toContain("nowhere");
      expect(text).not.toContain("bad");
    } finally {
      await r.app.close();
    }
  });

  it("apps with their own registries do not collide", async () => {
    const a = await start();
    const b = await start();
    try {
      await fetch(`${a.base}/cloud-config/${MAC_A}`);
      const tb = await (await fetch(`${b.base}/metrics`)).text();
      expect(sample(tb, "ccts_documents_served_total", { output: "cloud-config" })).toBeUndefined();
    } finally {
      await a.app.close();
      await b.app.close();
    }
  });
});
