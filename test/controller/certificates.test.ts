// ClusterPKI keeps one copy of each Machine's certificate: what it issued is held only until the
// informer shows the Secret carrying it. Secrets here are an in-memory SecretPort (the e2e tests in
// test/pki run the same class against the real API server); the informer's lag is what is tested,
// and only an in-memory port can hold it still.
import { describe, expect, it } from "vitest";
import { objectKey } from "../../src/api/machine.js";
import {
  ClusterPKI,
  machineCertSecretName,
  type SecretObject,
  type SecretPort,
  withoutUnreadSecretData,
} from "../../src/controller/certificates.js";
import { generateCA } from "../../src/pki/x509.js";
import { exampleObjects } from "../support/kube.js";

const NOW = new Date("2026-11-30T12:00:00Z");

/** The API side (`stored`) and the informer's view of it (`informer`), moved by `sync`. */
function secretPort(options: { watchBeforeAnswer?: boolean } = {}) {
  const stored = new Map<string, SecretObject>();
  const informer = new Map<string, SecretObject>();
  let rv = 0;
  let applies = 0;
  const key = (ns: string, name: string) => `${ns}/${name}`;
  const port: SecretPort = {
    cached: (ns, name) => informer.get(key(ns, name)),
    get: async (ns, name) => stored.get(key(ns, name)),
    create: async () => "created",
    apply: async (secret) => {
      applies++;
      const written = { ...secret, metadata: { ...secret.metadata, resourceVersion: String(++rv) } };
      const k = key(secret.metadata.namespace ?? "default", secret.metadata.name);
      stored.set(k, written);
      if (options.watchBeforeAnswer) informer.set(k, withoutUnreadSecretData(written));
      return written.metadata.resourceVersion;
    },
  };
  return {
    port,
    applies: () => applies,
    /** The informer catches up (its cache keeps what the controller's keeps); returns the Secret. */
    sync(ns: string, name: string): SecretObject {
      const secret = stored.get(key(ns, name))!;
      informer.set(key(ns, name), withoutUnreadSecretData(secret));
      return secret;
    },
    cached: (ns: string, name: string) => informer.get(key(ns, name)),
  };
}

async function setUp(options: { watchBeforeAnswer?: boolean } = {}) {
  const { cluster, machines } = exampleObjects("pki");
  const machine = machines[0]!;
  const ca = await generateCA(
    "test CA",
    new Date(NOW.getTime() - 3600_000),
    new Date(NOW.getTime() + 86_400_000 * 3650),
  );
  const secrets = secretPort(options);
  const pki = new ClusterPKI(secrets.port);
  return { cluster, machine, ca, secrets, pki };
}

describe("ClusterPKI's copy of an issued certificate", () => {
  it("is dropped when the informer shows the Secret, and the certificate is not issued again", async () => {
    const { cluster, machine, ca, secrets, pki } = await setUp();
    const first = await pki.machineCertificate(cluster, machine, ca, NOW);
    expect(pki.issuedAheadOfInformer).toBe(1);

    const secret = secrets.sync("pki", machineCertSecretName(machine.metadata.name));
    pki.informerHas(objectKey(machine), secret);
    expect(pki.issuedAheadOfInformer).toBe(0);

    const again = await pki.machineCertificate(cluster, machine, ca, NOW);
    expect(again.certPem).toBe(first.certPem);
    expect(again.keyPem).toBe(first.keyPem);
    expect(secrets.applies()).toBe(1);
    // The issue says which version its write made (the render memo's); taking it again, none.
    expect(first.written).toBe(secret.metadata.resourceVersion);
    expect(again.written).toBeUndefined();
  });

  it("is read from the cache as decoded text: the cache keeps neither the base64 data nor the CA copy", async () => {
    const { cluster, machine, ca, secrets, pki } = await setUp();
    const first = await pki.machineCertificate(cluster, machine, ca, NOW);
    const name = machineCertSecretName(machine.metadata.name);
    const stored = secrets.sync("pki", name);
    expect(Object.keys(stored.data ?? {}).sort()).toEqual(["ca.crt", "tls.crt", "tls.key"]);
    const cached = secrets.cached("pki", name);
    expect(cached?.pem).toEqual({ certPem: first.certPem, keyPem: first.keyPem });
    expect(cached?.data).toBeUndefined();
    expect(cached?.metadata).toEqual(stored.metadata);
    // A Secret of another kind, a CA's, is kept whole.
    const caSecret = {
      ...stored,
      metadata: { ...stored.metadata, labels: { ...stored.metadata.labels, "ccts.io/kind": "ca" } },
    };
    expect(withoutUnreadSecretData(caSecret)).toBe(caSecret);
  });

  it("is not kept when the watch brought the Secret back before the apply answered", async () => {
    const { cluster, machine, ca, secrets, pki } = await setUp({ watchBeforeAnswer: true });
    await pki.machineCertificate(cluster, machine, ca, NOW);
    expect(pki.issuedAheadOfInformer).toBe(0);
    expect(secrets.applies()).toBe(1);
  });

  it("is kept while the informer shows another certificate in that Secret", async () => {
    const { cluster, machine, ca, secrets, pki } = await setUp();
    await pki.machineCertificate(cluster, machine, ca, NOW);
    const other = secrets.sync("pki", machineCertSecretName(machine.metadata.name));
    const stale = { ...other, data: { ...other.data, "tls.crt": Buffer.from("another").toString("base64") } };
    pki.informerHas(objectKey(machine), stale);
    expect(pki.issuedAheadOfInformer).toBe(1);
  });
});
