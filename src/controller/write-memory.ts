// Remembers what this controller last wrote, so a reconcile that runs before the informer cache
// has caught up with our own previous write does not write the same thing again (a no-op resync
// stays at zero writes). A change someone else makes is reported by the informer; the runtime then
// calls forget() so the next reconcile writes the desired state back.
import { createHash } from "node:crypto";
import { objectKey } from "../api/machine.js";
import type { Machine, MachineStatus } from "../api/types.js";
import type { SecretObject } from "./certificates.js";
import type { ClusterWrites, WrittenVersion } from "./reconcile.js";
import { type ConfigMapObject, dataDigest } from "./rendered-configmap.js";

export type WriteKind = "configmap" | "secret" | "status" | "event";

export class WriteMemory implements ClusterWrites {
  /** Each ConfigMap's last content written, and the version the API server answered it with. */
  private readonly configMaps = new Map<string, { fingerprint: string; version?: string }>();
  /** Each Machine's last status written, and the version the API server answered it with. */
  private readonly statuses = new Map<string, { fingerprint: string; written?: WrittenVersion }>();
  /** Each Secret's last content written ("deleted" after our delete), with its answered version. */
  private readonly secrets = new Map<string, { fingerprint: string; version?: string }>();

  constructor(
    private readonly inner: ClusterWrites,
    private readonly onWrite: (kind: WriteKind) => void = () => {},
  ) {}

  async applyConfigMap(cm: ConfigMapObject): Promise<string | undefined> {
    const key = `${cm.metadata.namespace}/${cm.metadata.name}`;
    // The documents' digest is the one reconcile computed to compare (not the documents again).
    const fingerprint = `${digest(cm.metadata)} ${dataDigest(cm.data)}`;
    const last = this.configMaps.get(key);
    // Not written again: answered with the version it was written at, as a skipped status is.
    if (last?.fingerprint === fingerprint) return last.version;
    const version = await this.inner.applyConfigMap(cm);
    this.configMaps.set(key, { fingerprint, version });
    this.onWrite("configmap");
    return version;
  }

  async applySecret(secret: SecretObject): Promise<string | undefined> {
    const key = `${secret.metadata.namespace}/${secret.metadata.name}`;
    const fingerprint = digest(secret);
    const last = this.secrets.get(key);
    if (last?.fingerprint === fingerprint) return last.version;
    const version = await this.inner.applySecret(secret);
    this.secrets.set(key, { fingerprint, version });
    this.onWrite("secret");
    return version;
  }

  async deleteSecret(namespace: string, name: string): Promise<void> {
    const key = `${namespace}/${name}`;
    if (this.secrets.get(key)?.fingerprint === "deleted") return;
    await this.inner.deleteSecret(namespace, name);
    this.secrets.set(key, { fingerprint: "deleted" });
    this.onWrite("secret");
  }

  async patchMachineStatus(machine: Machine, status: MachineStatus): Promise<WrittenVersion | undefined> {
    const key = objectKey(machine);
    const fingerprint = digest(status);
    const last = this.statuses.get(key);
    // Not written again: the version it was written at is still ours (a reconcile that read the
    // Machine before the cache had that version takes it, so the render memo does not render again).
    if (last?.fingerprint === fingerprint) return last.written;
    const written = await this.inner.patchMachineStatus(machine, status);
    this.statuses.set(key, { fingerprint, written });
    this.onWrite("status");
    return written;
  }

  async event(machine: Machine, type: "Normal" | "Warning", reason: string, message: string): Promise<void> {
    await this.inner.event(machine, type, reason, message);
    this.onWrite("event");
  }

  /** Someone else changed or deleted this ConfigMap (`namespace/name`): write it again when due. */
  forgetConfigMap(key: string): void {
    this.configMaps.delete(key);
  }

  /** Someone else changed or deleted this Secret (`namespace/name`). */
  forgetSecret(key: string): void {
    this.secrets.delete(key);
  }

  /** The Machine (`namespace/name`) is gone, or its status was changed by someone else. */
  forgetMachine(key: string): void {
    this.statuses.delete(key);
  }
}

/** A short digest of what was written: 10,000 Machines' documents need not be kept twice. */
function digest(value: unknown): string {
  return createHash("sha256").update(JSON.stringify(value)).digest("base64");
}
