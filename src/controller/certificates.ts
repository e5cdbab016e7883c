// The cluster CA and each Machine's certificate. The CA comes from a Secret the user names, or is
// generated once into `ccts-ca-<cluster>`; its key never leaves that Secret (it is read here to
// sign, and never rendered). Each Machine gets a key and a certificate in its own Secret, owned
// by the Machine, reissued when its names change, when the CA changes, or after two thirds of
// its lifetime.
import { KIND_CLUSTER_DESC, KIND_MACHINE, LABEL_KIND, LABEL_MANAGED_BY } from "../api/constants.js";
import { objectKey } from "../api/machine.js";
import type { ClusterDesc, Machine, MachineCertificateStatus } from "../api/types.js";
import {
  DEFAULT_CA_LIFETIME_MS,
  DEFAULT_CERT_LIFETIME_MS,
  desiredNames,
  namesFingerprint,
  RENEW_AT,
  renewalDue,
} from "../pki/policy.js";
import {
  type CertificateAndKey,
  type CertificateInfo,
  certificateInfo,
  generateCA,
  issueCertificate,
  issuedBy,
  keyMatchesCertificate,
} from "../pki/x509.js";
import {
  controllerOwner,
  fitName,
  MANAGED_BY,
  type OwnedObjectMeta,
  type OwnerReference,
} from "./rendered-configmap.js";
import { shared, sharedTime } from "./shared-strings.js";

export const ANNOTATION_NAMES = "ccts.io/certificate-names";
const CLOCK_SKEW_MS = 5 * 60 * 1000;

export interface SecretObject {
  apiVersion: "v1";
  kind: "Secret";
  type?: string;
  metadata: OwnedObjectMeta;
  /** base64 values, as the API returns them. */
  data?: Record<string, string>;
  /**
   * Only in the controller's cache, in place of `data`, for a Machine's certificate Secret: its
   * tls.crt and tls.key decoded (withoutUnreadSecretData).
   */
  pem?: CertificateAndKey;
}

/** Secrets as the PKI needs them: the informer cache, a direct read, create-only and apply. */
export interface SecretPort {
  cached(namespace: string, name: string): SecretObject | undefined;
  get(namespace: string, name: string): Promise<SecretObject | undefined>;
  /** Creates the Secret unless one of that name exists ("exists"): a CA is never overwritten. */
  create(secret: SecretObject): Promise<"created" | "exists">;
  /** Resolves to the Secret's new resourceVersion, when the API server answered with one. */
  apply(secret: SecretObject): Promise<string | undefined>;
}

export type CAResult =
  | { ok: true; ca: CertificateAndKey; secretName: string }
  | { ok: false; reason: "CANotFound" | "InvalidCA"; message: string };

export interface MachineCertificate extends CertificateAndKey {
  status: MachineCertificateStatus;
  renewAfter: Date;
  /** Issued by this call: the version its Secret's write answered (the render memo's). */
  written?: string;
}

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const unb64 = (s: string | undefined) =>
  s === undefined ? undefined : Buffer.from(s, "base64").toString("utf8");

export function generatedCASecretName(cluster: string): string {
  return fitName(`ccts-ca-${cluster}`, 253);
}

export function machineCertSecretName(machine: string): string {
  return fitName(`ccts-machine-${machine}-tls`, 253);
}

/** `8760h` or `90m` in milliseconds; undefined for the default. */
export function lifetimeMs(value: string | undefined): number {
  const m = /^(\d+)(h|m)$/.exec(value ?? "");
  if (!m) return DEFAULT_CERT_LIFETIME_MS;
  return Number(m[1]) * (m[2] === "h" ? 3_600_000 : 60_000);
}

function tlsSecret(
  name: string,
  namespace: string,
  kind: string,
  owner: OwnerReference,
  pair: CertificateAndKey,
  ca: string,
  annotations: Record<string, string> = {},
): SecretObject {
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "kubernetes.io/tls",
    metadata: {
      name,
      namespace,
      labels: { [LABEL_MANAGED_BY]: MANAGED_BY, [LABEL_KIND]: kind },
      annotations,
      ownerReferences: [owner],
    },
    data: { "tls.crt": b64(pair.certPem), "tls.key": b64(pair.keyPem), "ca.crt": b64(ca) },
  };
}

/**
 * What the controller's cache keeps of a Secret: a Machine certificate as its certificate and key
 * decoded (`pem`: a render reads them as text, and base64 took a third more of the heap, 12 of ~93
 * MiB at 10,000 Machines) without its copy of the CA certificate (signing and rendering read the
 * CA from the CA Secret), a documents Secret without its documents (reconcile only asks whether
 * it exists); a CA Secret and any other one whole.
 */
export function withoutUnreadSecretData<T extends SecretObject>(secret: T): T {
  if (secret.metadata.labels?.[LABEL_MANAGED_BY] !== MANAGED_BY || !secret.data) return secret;
  const kind = secret.metadata.labels[LABEL_KIND];
  if (kind === "certificate") {
    // What each Machine's certificate Secret repeats is kept once: its type, our labels' values, the
    // owner reference's apiVersion and kind, and the creation time (a second's worth share one).
    const { data: _data, ...rest } = secret;
    const metadata = rest.metadata as OwnedObjectMeta & { creationTimestamp?: string };
    const cached: SecretObject = {
      ...rest,
      type: rest.type && shared(rest.type),
      metadata: {
        ...metadata,
        creationTimestamp: sharedTime(metadata.creationTimestamp),
        labels: Object.fromEntries(Object.entries(metadata.labels ?? {}).map(([k, v]) => [k, shared(v)])),
        ownerReferences: metadata.ownerReferences?.map((o) => ({
          ...o,
          apiVersion: shared(o.apiVersion),
          kind: shared(o.kind),
        })),
      },
      pem: decodedPair(secret.data),
    };
    return cached as T;
  }
  if (kind === "documents")
    return { ...secret, data: Object.fromEntries(Object.keys(secret.data).map((k) => [k, ""])) };
  return secret;
}

/** The certificate and key of a Secret, as the cache keeps them or as the API returns them. */
function pairFrom(secret: SecretObject | undefined): CertificateAndKey | undefined {
  return secret?.pem ?? decodedPair(secret?.data);
}

function decodedPair(data: Record<string, string> | undefined): CertificateAndKey | undefined {
  const certPem = unb64(data?.["tls.crt"]);
  const keyPem = unb64(data?.["tls.key"]);
  return certPem && keyPem ? { certPem, keyPem } : undefined;
}

export class ClusterPKI {
  /** Parsed CAs by `namespace/secret`, with the resourceVersion they were read at. */
  private readonly cas = new Map<string, { rv: string | undefined; result: CAResult }>();
  /** One CA generation at a time per cluster, so concurrent reconciles agree on one CA. */
  private readonly generating = new Map<string, Promise<CAResult>>();
  /** Per Machine: the Secret (resourceVersion) and CA its certificate was checked against. */
  private readonly checked = new Map<
    string,
    { rv?: string; certPem?: string; caPem: string; notBefore: number; notAfter: number }
  >();
  /** Certificates this process issued, ahead of the informer cache. */
  private readonly issued = new Map<string, { pair: CertificateAndKey; names: string }>();

  constructor(private readonly secrets: SecretPort) {}

  async clusterCA(cluster: ClusterDesc, now: Date): Promise<CAResult> {
    const ns = cluster.metadata.namespace ?? "default";
    const named = cluster.spec.pki?.caSecretName;
    const secretName = named ?? generatedCASecretName(cluster.metadata.name);
    const key = `${ns}/${secretName}`;
    const cached = this.secrets.cached(ns, secretName);
    const known = this.cas.get(key);
    if (known && (cached === undefined ? !named : known.rv === cached.metadata.resourceVersion))
      return known.result;
    // A Secret the controller did not make is cached as metadata only: its data is fetched.
    if (cached)
      return this.remember(
        key,
        cached.data ? cached : ((await this.secrets.get(ns, secretName)) ?? cached),
        secretName,
      );
    if (named) {
      return {
        ok: false,
        reason: "CANotFound",
        message: `CA Secret ${key} (spec.pki.caSecretName) not found`,
      };
    }
    let flight = this.generating.get(key);
    if (!flight) {
      flight = this.generate(cluster, ns, secretName, now).finally(() => this.generating.delete(key));
      this.generating.set(key, flight);
    }
    return flight;
  }

  private remember(key: string, secret: SecretObject, secretName: string): CAResult {
    const pair = pairFrom(secret);
    let result: CAResult;
    if (!pair)
      result = { ok: false, reason: "InvalidCA", message: `CA Secret ${key} lacks tls.crt or tls.key` };
    else if (!keyMatchesCertificate(pair)) {
      result = {
        ok: false,
        reason: "InvalidCA",
        message: `CA Secret ${key}: tls.key does not belong to tls.crt`,
      };
    } else result = { ok: true, ca: pair, secretName };
    this.cas.set(key, { rv: secret.metadata.resourceVersion, result });
    return result;
  }

  private async generate(cluster: ClusterDesc, ns: string, secretName: string, now: Date): Promise<CAResult> {
    const key = `${ns}/${secretName}`;
    const ca = await generateCA(
      `ccts ${ns}/${cluster.metadata.name} CA`,
      new Date(now.getTime() - CLOCK_SKEW_MS),
      new Date(now.getTime() + DEFAULT_CA_LIFETIME_MS),
    );
    const owner = controllerOwner(KIND_CLUSTER_DESC, cluster);
    const created = await this.secrets.create(tlsSecret(secretName, ns, "ca", owner, ca, ca.certPem));
    if (created === "created") {
      const result: CAResult = { ok: true, ca, secretName };
      this.cas.set(key, { rv: undefined, result });
      return result;
    }
    // Someone (another replica, an earlier run) made it first: use theirs.
    const existing = await this.secrets.get(ns, secretName);
    if (!existing) throw new Error(`CA Secret ${key} exists but cannot be read`);
    return this.remember(key, existing, secretName);
  }

  async machineCertificate(
    cluster: ClusterDesc,
    machine: Machine,
    ca: CertificateAndKey,
    now: Date,
  ): Promise<MachineCertificate> {
    const ns = machine.metadata.namespace ?? "default";
    const key = objectKey(machine);
    const secretName = machineCertSecretName(machine.metadata.name);
    const names = desiredNames(cluster, machine);
    const fingerprint = namesFingerprint(names);
    const mine = this.issued.get(key);
    const cachedSecret = this.secrets.cached(ns, secretName);
    const candidates = [
      mine,
      { pair: pairFrom(cachedSecret), names: cachedSecret?.metadata.annotations?.[ANNOTATION_NAMES] ?? "" },
    ];
    for (const [i, c] of candidates.entries()) {
      if (!c?.pair || c.names !== fingerprint) continue;
      const fromCache = i === 1 || c.pair.certPem === candidates[1]?.pair?.certPem;
      const info = this.checkedValidity(
        key,
        c.pair.certPem,
        ca.certPem,
        fromCache ? cachedSecret : undefined,
      );
      if (!info || renewalDue(info, now)) continue;
      if (mine && cachedSecret) this.informerHas(key, cachedSecret);
      return this.result(c.pair, secretName, info.notBefore, info.notAfter);
    }
    const lifetime = lifetimeMs(cluster.spec.pki?.certificateLifetime);
    const notBefore = new Date(now.getTime() - CLOCK_SKEW_MS);
    const notAfter = new Date(now.getTime() + lifetime);
    const pair = await issueCertificate(ca, { ...names, notBefore, notAfter });
    const owner = controllerOwner(KIND_MACHINE, machine);
    const written = await this.secrets.apply(
      tlsSecret(secretName, ns, "certificate", owner, pair, ca.certPem, { [ANNOTATION_NAMES]: fingerprint }),
    );
    this.issued.set(key, { pair, names: fingerprint });
    this.checked.set(key, {
      certPem: pair.certPem,
      caPem: ca.certPem,
      notBefore: notBefore.getTime(),
      notAfter: notAfter.getTime(),
    });
    // The watch may have brought the Secret back before the apply answered.
    const arrived = this.secrets.cached(ns, secretName);
    if (arrived) this.informerHas(key, arrived);
    return { ...this.result(pair, secretName, notBefore, notAfter), written };
  }

  /**
   * The informer holds `secret`, the certificate Secret of Machine `key`: once it carries the
   * certificate this process issued, that copy is dropped and the check is remembered by the
   * Secret's resourceVersion. Otherwise a Machine's key and certificate can be held twice from a
   * first render until its next reconcile (heap snapshot after rendering 10,000: 84 against 88 MiB).
   */
  informerHas(key: string, secret: SecretObject): void {
    const mine = this.issued.get(key);
    if (!mine || pairFrom(secret)?.certPem !== mine.pair.certPem) return;
    this.issued.delete(key);
    const known = this.checked.get(key);
    const rv = secret.metadata.resourceVersion;
    if (known?.certPem === mine.pair.certPem && rv !== undefined) {
      const { caPem, notBefore, notAfter } = known;
      this.checked.set(key, { rv, caPem, notBefore, notAfter });
    }
  }

  /** How many issued certificates are held because the informer has not shown them yet. */
  get issuedAheadOfInformer(): number {
    return this.issued.size;
  }

  forgetMachine(key: string): void {
    this.issued.delete(key);
    this.checked.delete(key);
  }

  /**
   * Validity of a Machine's certificate if `caPem` issued it, remembered until the certificate or
   * the CA changes: checking the signature and parsing the certificate took ~120 us per reconcile,
   * a tenth of the controller's CPU per Machine in a fan-out. A certificate is known by the
   * informer's Secret (its resourceVersion) or, until the informer has it, by its text (the one
   * `issued` holds; no copy is kept of a text read from the cache).
   */
  private checkedValidity(
    key: string,
    certPem: string,
    caPem: string,
    secret: SecretObject | undefined,
  ): Pick<CertificateInfo, "notBefore" | "notAfter"> | undefined {
    const rv = secret?.metadata.resourceVersion;
    const known = this.checked.get(key);
    const hit =
      known !== undefined &&
      known.caPem === caPem &&
      ((rv !== undefined && known.rv === rv) || (known.certPem !== undefined && known.certPem === certPem));
    let validity: { notBefore: number; notAfter: number };
    if (hit) validity = { notBefore: known.notBefore, notAfter: known.notAfter };
    else {
      if (!issuedBy(certPem, caPem)) return undefined;
      const info = certificateInfo(certPem);
      validity = { notBefore: info.notBefore.getTime(), notAfter: info.notAfter.getTime() };
    }
    // Checked now, or known by its text and now found in the informer's Secret: remember by that.
    if (!hit || (rv !== undefined && known.rv !== rv)) {
      this.checked.set(key, rv !== undefined ? { rv, caPem, ...validity } : { certPem, caPem, ...validity });
    }
    return { notBefore: new Date(validity.notBefore), notAfter: new Date(validity.notAfter) };
  }

  private result(
    pair: CertificateAndKey,
    secretName: string,
    notBefore: Date,
    notAfter: Date,
  ): MachineCertificate {
    const renewAfter = new Date(notBefore.getTime() + (notAfter.getTime() - notBefore.getTime()) * RENEW_AT);
    const iso = (d: Date) => d.toISOString().replace(/\.\d+Z$/, "Z");
    return {
      ...pair,
      renewAfter,
      status: { secretName, notAfter: iso(notAfter), renewAfter: iso(renewAfter) },
    };
  }
}
