// The cluster CA and the per-Machine certificates against the real API server, checked with
// openssl: generated and user-supplied CAs, SANs of a master and a worker, renewal with an
// injected clock, private keys only ever in Secrets (never a ConfigMap, never a log line), and the
// server serving documents and /ca.pem from them.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ANNOTATION_CONTENT_HASH } from "../../src/api/constants.js";
import type { ClusterDesc, Machine } from "../../src/api/types.js";
import { DiskCache } from "../../src/cache/disk-cache.js";
import { DocumentIndex } from "../../src/cache/document-index.js";
import type { SecretObject } from "../../src/controller/certificates.js";
import type { ConfigMapObject } from "../../src/controller/rendered-configmap.js";
import type { KubeClient } from "../../src/k8s/client.js";
import type { ControllerRuntime } from "../../src/k8s/controller-runtime.js";
import { ServedConfigMaps } from "../../src/k8s/served-configmaps.js";
import { buildApp } from "../../src/server/app.js";
import { MemoryLookup } from "../../src/server/memory-lookup.js";
import { create, exampleObjects, get, mergePatch, remove } from "../support/kube.js";
import { startTestRuntime } from "../support/runtime.js";
import { waitFor } from "../support/wait.js";

const run = promisify(execFile);
let client: KubeClient;
let ns: string;
let stop: () => Promise<void>;
let runtime: ControllerRuntime;
let clock = Date.now();
const logLines: string[] = [];
let dir: string;

const secret = (name: string) => get<SecretObject>(client, "Secret", ns, name);
const decoded = (s: SecretObject | undefined, key: string) =>
  Buffer.from(s?.data?.[key] ?? "", "base64").toString("utf8");
const machine = (name: string) => get<Machine>(client, "Machine", ns, name);
const reason = async (name: string) =>
  (await machine(name))?.status?.conditions?.find((c) => c.type === "Rendered")?.reason;

async function pem(name: string, text: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

async function openssl(args: string[]): Promise<string> {
  return (await run("openssl", args)).stdout;
}

/** A CA of the user's own (openssl, RSA): its certificate file and PEM, and a TLS Secret's data. */
async function userCA(
  name: string,
): Promise<{ cert: string; certPem: string; data: Record<string, string> }> {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.pem`);
  await openssl(
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "30"].concat([
      "-subj",
      `/CN=${name}`,
    ]),
  );
  const [certPem, keyPem] = await Promise.all([readFile(cert, "utf8"), readFile(key, "utf8")]);
  const data = {
    "tls.crt": Buffer.from(certPem).toString("base64"),
    "tls.key": Buffer.from(keyPem).toString("base64"),
  };
  return { cert, certPem, data };
}

function machineIn(
  cluster: string,
  name: string,
  mac: string,
  extra: Partial<Machine["spec"]> = {},
): Machine {
  return {
    apiVersion: "ccts.io/v1alpha1",
    kind: "Machine",
    metadata: { name, namespace: ns },
    spec: { clusterDesc: cluster, mac, hostname: name, roles: ["worker"], ...extra },
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ccts-pki-"));
  ({ ns, client, runtime, stop } = await startTestRuntime("pki", {
    logger: pino({ level: "debug" }, { write: (line: string) => logLines.push(line) }),
    now: () => new Date(clock),
  }));
  const { cluster, machines } = exampleObjects(ns);
  await create(client, cluster);
  for (const m of machines) await create(client, m);
  for (const m of machines)
    await waitFor(`${m.metadata.name} rendered`, async () => (await reason(m.metadata.name)) === "Rendered");
});

afterAll(() => stop?.());

describe("cluster CA and machine certificates", () => {
  it("generates the cluster CA once into a Secret owned by the ClusterDesc", async () => {
    const ca = (await secret("ccts-ca-lab"))!;
    expect(ca.type).toBe("kubernetes.io/tls");
    expect(ca.metadata.ownerReferences?.[0]).toEqual(
      expect.objectContaining({ kind: "ClusterDesc", name: "lab" }),
    );
    const text = await openssl([
      "x509",
      "-noout",
      "-text",
      "-in",
      await pem("ca.pem", decoded(ca, "tls.crt")),
    ]);
    expect(text).toMatch(/CA:TRUE/);
    expect(text).toMatch(/Certificate Sign/);
  });

  it("issues every Machine a certificate that openssl verifies against the CA", async () => {
    const caFile = await pem("ca.pem", decoded(await secret("ccts-ca-lab"), "tls.crt"));
    for (const m of exampleObjects(ns).machines) {
      const tls = (await secret(`ccts-machine-${m.metadata.name}-tls`))!;
      expect(tls.metadata.ownerReferences?.[0]).toEqual(
        expect.objectContaining({ kind: "Machine", name: m.metadata.name }),
      );
      const out = await openssl([
        "verify",
        "-CAfile",
        caFile,
        await pem(`${m.metadata.name}.pem`, decoded(tls, "tls.crt")),
      ]);
      expect(out).toMatch(/: OK/);
      const status = (await machine(m.metadata.name))?.status?.certificate;
      expect(status?.secretName).toBe(`ccts-machine-${m.metadata.name}-tls`);
      expect(Date.parse(status?.notAfter ?? "")).toBeGreaterThan(clock + 300 * 24 * 3600 * 1000);
    }
  });

  it("gives a master the API server names and a worker only its own", async () => {
    const text = async (name: string) =>
      openssl([
        "x509",
        "-noout",
        "-text",
        "-in",
        await pem(`${name}.pem`, decoded(await secret(`ccts-machine-${name}-tls`), "tls.crt")),
      ]);
    const master = await text("master-1");
    for (const san of [
      "DNS:master-1",
      "DNS:master-1.lab.example.org",
      "DNS:k8s-api.lab.example.org",
      "DNS:kubernetes.default.svc",
      "IP Address:10.20.0.11",
      "IP Address:10.96.0.1",
      "IP Address:10.20.0.12",
    ]) {
      expect(master).toContain(san);
    }
    expect(master).toMatch(/TLS Web Server Authentication, TLS Web Client Authentication/);
    const worker = await text("worker-1");
    for (const san of [
      "DNS:worker-1",
      "DNS:worker-1.lab.example.org",
      "IP Address:10.20.0.21",
      "IP Address:192.168.100.21",
    ]) {
      expect(worker).toContain(san);
    }
    expect(worker).not.toContain("k8s-api");
    expect(worker).not.toContain("10.96.0.1");
  });

  it("keeps documents with private keys in a Secret, serves them, and never writes a key to a ConfigMap or a log", async () => {
    await create(client, {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "tls-templates", namespace: ns },
      data: {
        "cloud-config":
          "#cloud-config\nhostname: {{machine.hostname}}\nwrite_files:\n  - path: /etc/ssl/node.key\n    permissions: '0600'\n    content: |\n{{indent 6 tls.key}}\n  - path: /etc/ssl/node.pem\n    content: |\n{{indent 6 tls.cert}}\n",
        "meta-data": "instance-id: {{machine.name}}\nlocal-hostname: {{machine.hostname}}\n",
      },
    });
    await mergePatch(client, "ClusterDesc", ns, "lab", {
      spec: {
        templates: [
          { output: "cloud-config", configMapKeyRef: { name: "tls-templates", key: "cloud-config" } },
          { output: "meta-data", configMapKeyRef: { name: "tls-templates", key: "meta-data" } },
        ],
      },
    });
    const docs = await waitFor("the documents Secret", () => secret("ccts-machine-worker-2-documents"));
    expect(decoded(docs, "cloud-config")).toContain("BEGIN PRIVATE KEY");
    expect(decoded(docs, "cloud-config")).toContain(
      decoded(await secret("ccts-machine-worker-2-tls"), "tls.key")
        .trim()
        .split("\n")[1],
    );
    const status = await waitFor("status to name the Secret", async () => {
      const m = await machine("worker-2");
      return m?.status?.secret ? m.status : undefined;
    });
    expect(status.outputs).toEqual(["ca.pem", "cloud-config", "meta-data"]);
    const cm = (await get<ConfigMapObject>(client, "ConfigMap", ns, "ccts-machine-worker-2"))!;
    expect(Object.keys(cm.data ?? {}).sort()).toEqual(["ca.pem", "meta-data"]);

    // The server joins the Secret to the Machine's ConfigMap and serves both.
    const lookup = new MemoryLookup();
    const index = new DocumentIndex(lookup);
    const served = new ServedConfigMaps(
      client,
      index,
      new DiskCache(await mkdtemp(join(tmpdir(), "ccts-pki-cache-"))),
      pino({ level: "silent" }),
      { namespace: ns },
    );
    await served.start();
    lookup.setReady(true);
    const app = buildApp({ lookup });
    await app.listen({ host: "127.0.0.1", port: 0 });
    try {
      const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      const cloudConfig = await waitFor("the key-bearing cloud-config to be served", async () => {
        const text = await (await fetch(`${base}/cloud-config/52:54:00:12:34:12`)).text();
        return text.includes("PRIVATE KEY") ? text : undefined;
      });
      expect(cloudConfig).toContain("hostname: worker-2");
      expect((await fetch(`${base}/nocloud/52:54:00:12:34:12/meta-data`)).status).toBe(200);
      const ca = await (await fetch(`${base}/ca.pem`)).text();
      expect(ca).toBe(decoded(await secret("ccts-ca-lab"), "tls.crt"));
      expect(await (await fetch(`${base}/ca.pem?mac=52-54-00-12-34-01`)).text()).toBe(ca);
    } finally {
      await app.close();
      await served.stop();
    }

    const all = await client.request<{ items: ConfigMapObject[] }>(
      "GET",
      `/api/v1/namespaces/${ns}/configmaps`,
    );
    expect(all.items.length).toBeGreaterThan(5);
    for (const c of all.items)
      expect(JSON.stringify(c.data ?? {}), c.metadata.name).not.toMatch(/PRIVATE KEY/);
  });

  it("keeps key material out of status, events and logs when a template misplaces it", async () => {
    const keyLine = decoded(await secret("ccts-machine-worker-2-tls"), "tls.key")
      .trim()
      .split("\n")[1]!;
    // The key as bare YAML: not a mapping, so the output fails validation on the key's own lines.
    await mergePatch(client, "ConfigMap", ns, "tls-templates", {
      data: { "cloud-config": "#cloud-config\n{{tls.key}}\n" },
    });
    const failed = await waitFor("InvalidOutput", async () => {
      const m = await machine("worker-2");
      const c = m?.status?.conditions?.find((x) => x.type === "Rendered");
      return c?.reason === "InvalidOutput" ? c : undefined;
    });
    // Status is written before the event and the log line: wait for both, or the scan is vacuous.
    const events = await waitFor("the InvalidOutput event", async () => {
      const list = await client.request<{ items: { reason: string; message: string }[] }>(
        "GET",
        `/api/v1/namespaces/${ns}/events`,
      );
      return list.items.some((e) => e.reason === "InvalidOutput") ? list : undefined;
    });
    await waitFor("the InvalidOutput log line", () => logLines.some((l) => l.includes("InvalidOutput")));
    const everything = [failed.message, ...events.items.map((e) => e.message), ...logLines].join("\n");
    expect(everything).not.toMatch(/PRIVATE KEY/);
    expect(everything).not.toContain(keyLine.slice(0, 24));
    // Put the good template back for the tests that follow.
    await mergePatch(client, "ConfigMap", ns, "tls-templates", {
      data: { "cloud-config": "#cloud-config\nhostname: {{machine.hostname}}\n" },
    });
    await waitFor("worker-2 rendered again", async () => (await reason("worker-2")) === "Rendered");
  });

  it("uses a user-supplied CA as given", async () => {
    const { cert, certPem, data } = await userCA("user-ca");
    await create(client, {
      apiVersion: "v1",
      kind: "Secret",
      type: "kubernetes.io/tls",
      metadata: { name: "user-ca", namespace: ns },
      data,
    });
    const { cluster } = exampleObjects(ns);
    const byo: ClusterDesc = {
      ...cluster,
      metadata: { name: "byo", namespace: ns },
      spec: { ...cluster.spec, pki: { caSecretName: "user-ca" } },
    };
    await create(client, byo);
    await create(client, machineIn("byo", "byo-1", "52:54:00:77:00:01", { ip: "10.20.0.71" }));
    await waitFor("byo-1 rendered", async () => (await reason("byo-1")) === "Rendered");
    const leaf = await pem("byo-1.pem", decoded(await secret("ccts-machine-byo-1-tls"), "tls.crt"));
    expect(await openssl(["verify", "-CAfile", cert, leaf])).toMatch(/: OK/);
    expect(await secret("ccts-ca-byo")).toBeUndefined();
    expect(decoded(await secret("ccts-machine-byo-1-tls"), "ca.crt")).toBe(certPem);
  });

  it("re-issues a Machine's certificate when its CA is replaced", async () => {
    // The controller remembers that a certificate was checked against its CA; a new CA must undo that.
    const { cert, certPem, data } = await userCA("user-ca-2");
    const before = decoded(await secret("ccts-machine-byo-1-tls"), "tls.crt");
    // Reconciles that find the certificate valid (and remember so) before the CA changes.
    for (let i = 0; i < 2; i++) {
      runtime.resync();
      await runtime.queue.idle();
    }
    expect(decoded(await secret("ccts-machine-byo-1-tls"), "tls.crt")).toBe(before);
    const documents = () => get<ConfigMapObject>(client, "ConfigMap", ns, "ccts-machine-byo-1");
    const hashBefore = (await documents())?.metadata.annotations?.[ANNOTATION_CONTENT_HASH];
    await mergePatch(client, "Secret", ns, "user-ca", { data });
    await waitFor("byo-1's certificate from the new CA", async () => {
      const now = decoded(await secret("ccts-machine-byo-1-tls"), "tls.crt");
      return now !== before && now !== "";
    });
    const leaf = await pem("byo-1-new.pem", decoded(await secret("ccts-machine-byo-1-tls"), "tls.crt"));
    expect(await openssl(["verify", "-CAfile", cert, leaf])).toMatch(/: OK/);
    expect(decoded(await secret("ccts-machine-byo-1-tls"), "ca.crt")).toBe(certPem);
    // The served ca.pem is the new CA, and the content hash (the server's ETags and disk cache
    // go by it) changed with it, though no template reads the CA.
    await waitFor(
      "byo-1's ca.pem from the new CA",
      async () => (await documents())?.data?.["ca.pem"] === certPem,
    );
    expect((await documents())?.metadata.annotations?.[ANNOTATION_CONTENT_HASH]).not.toBe(hashBefore);
  });

  it("keeps no data of the Secrets it did not make, the named CA's included", async () => {
    await create(client, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "unrelated", namespace: ns },
      stringData: { password: "not for ccts" },
    });
    const cached = await waitFor("the unrelated Secret in the cache", async () =>
      runtime.cache.secret(ns, "unrelated"),
    );
    expect(cached.data).toBeUndefined();
    expect(JSON.stringify(cached)).not.toContain("not for ccts");
    // The named CA was read (byo-1 is Rendered with a certificate from it) but is not kept.
    expect(await reason("byo-1")).toBe("Rendered");
    expect(runtime.cache.secret(ns, "user-ca")?.metadata.name).toBe("user-ca");
    expect(runtime.cache.secret(ns, "user-ca")?.data).toBeUndefined();
    // Its own Secrets it keeps, the certificate and key decoded, without the CA copy it never reads.
    const own = runtime.cache.secret(ns, "ccts-machine-byo-1-tls");
    expect(own?.pem?.certPem).toBe(decoded(await secret("ccts-machine-byo-1-tls"), "tls.crt"));
    expect(own?.data).toBeUndefined();
  });

  it("reports a named CA Secret that does not exist", async () => {
    const { cluster } = exampleObjects(ns);
    await create(client, {
      ...cluster,
      metadata: { name: "noca", namespace: ns },
      spec: { ...cluster.spec, pki: { caSecretName: "missing" } },
    });
    await create(client, machineIn("noca", "noca-1", "52:54:00:77:00:02"));
    await waitFor("CANotFound", async () => (await reason("noca-1")) === "CANotFound");
  });

  it("renews a certificate after two thirds of its lifetime (injected clock)", async () => {
    const { cluster } = exampleObjects(ns);
    await create(client, {
      ...cluster,
      metadata: { name: "short", namespace: ns },
      spec: { ...cluster.spec, pki: { certificateLifetime: "90m" } },
    });
    await create(client, machineIn("short", "short-1", "52:54:00:77:00:03"));
    const first = await waitFor(
      "a first certificate",
      async () => (await machine("short-1"))?.status?.certificate,
    );
    const serial = async () =>
      openssl([
        "x509",
        "-noout",
        "-serial",
        "-in",
        await pem("short.pem", decoded(await secret("ccts-machine-short-1-tls"), "tls.crt")),
      ]);
    const firstSerial = await serial();
    expect(Date.parse(first.renewAfter!) - Date.parse(first.notAfter!)).toBeLessThan(0);
    // Due within the day: a timer of its own. A certificate due in months (byo-1, the default
    // lifetime) gets none; a resync finds it once it is within the day.
    expect(runtime.queue.scheduled(`${ns}/short-1`)).toBe(true);
    expect((await machine("byo-1"))?.status?.certificate?.renewAfter).toBeDefined();
    expect(runtime.queue.scheduled(`${ns}/byo-1`)).toBe(false);

    // Two thirds of the span from notBefore (issue - 5 min, for clock skew) to notAfter (issue + 90 min).
    clock += 55 * 60 * 1000; // before: 55 < 58.3 minutes after issue
    runtime.resync();
    await runtime.queue.idle();
    expect(await serial()).toBe(firstSerial);

    clock += 10 * 60 * 1000; // past: 65 minutes after issue
    runtime.resync();
    const renewed = await waitFor("a renewed certificate", async () => {
      const c = (await machine("short-1"))?.status?.certificate;
      return c && c.notAfter !== first.notAfter ? c : undefined;
    });
    expect(await serial()).not.toBe(firstSerial);
    expect(Date.parse(renewed.notAfter!)).toBeGreaterThan(Date.parse(first.notAfter!));
  });

  it("deletes a Machine's certificate Secret with the Machine", async () => {
    expect(await secret("ccts-machine-short-1-tls")).toBeDefined();
    await remove(client, "Machine", ns, "short-1");
    await waitFor(
      "garbage collection of the Secret",
      async () => (await secret("ccts-machine-short-1-tls")) === undefined,
      30_000,
    );
  });
});
