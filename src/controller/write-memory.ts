// Remembers what this controller last wrote, so a reconcile that runs before the informer cache
// has caught up with our own previous write does not write the same thing again (a no-op resync
// stays at zero writes). A change someone else makes is reported by the informer; the runtime then
// calls forget() so the next reconcile writes the desired state back.
import { createHash } from "node:crypto";
import { namespacedKey, objectKey } from "../api/machine.js";
import type { Machine, MachineStatus } from "../api/types.js";
import type { SecretObject } from "./certificates.js";
import type { ClusterWrites, WrittenVersion } from "./reconcile.js";
import { type ConfigMapObject, dataDigest } from "./rendered-configmap.js";

export type WriteKind = "configmap" | "secret" | "status" | "event";

/** The last thing written to one object, and what the API server answered the write with. */
interface LastWrite<A> {
  fingerprint: string;
  answer?: A;
}

/**
 * One kind's last writes, by `namespace/name`. A forget() that comes while a write of that object
 * is in flight wins: the write's answer is not remembered when it arrives. (The watch can tell of
 * someone else's change before our write's response is read; remembering it then would skip the
 * write that puts the object back.)
 */
class LastWrites<A> {
  private readonly last = new Map<string, LastWrite<A>>();
  /** Per object with writes in flight: how many, and whether forget() came meanwhile. */
  private readonly inFlight = new Map<string, { writes: number; forgotten: boolean }>();

  get(key: string): LastWrite<A> | undefined {
    return this.last.get(key);
  }

  async write(key: string, fingerprint: string, write: () => Promise<A | undefined>): Promise<A | undefined> {
    const flight = this.inFlight.get(key) ?? { writes: 0, forgotten: false };
    this.inFlight.set(key, flight);
    flight.writes++;
    try {
      const answer = await write();
      if (!flight.forgotten) this.last.set(key, { fingerprint, answer });
      return answer;
    } finally {
      if (--flight.writes === 0) this.inFlight.delete(key);
    }
  }

  forget(key: string): void {
    this.last.delete(key);
    const flight = this.inFlight.get(key);
    if (flight) flight.forgotten = true;
  }
}

export class WriteMemory implements ClusterWrites {
  private readonly configMaps = new LastWrites<string>();
  private readonly statuses = new LastWrites<WrittenVersion>();
  /** A Secret's fingerprint is "deleted" after our delete of it. */
  private readonly secrets = new LastWrites<string>();

  constructor(
    private readonly inner: ClusterWrites,
    private readonly onWrite: (kind: WriteKind) => void = () => {},
  ) {}

  /**
   * Writes unless the last write of `key` had this fingerprint. A write not made again answers
   * with the version the write it skips got: a reconcile that read the object before the cache
   * had that version takes it, so the render memo does not render again.
   */
  private async once<A>(
    memory: LastWrites<A>,
    key: string,
    fingerprint: string,
    kind: WriteKind,
    write: () => Promise<A | undefined>,
  ): Promise<A | undefined> {
    const last = memory.get(key);
    if (last?.fingerprint === fingerprint) return last.answer;
    const answer = await memory.write(key, fingerprint, write);
    this.onWrite(kind);
    return answer;
  }

  async applyConfigMap(cm: ConfigMapObject): Promise<string | undefined> {
    // The documents' digest is the one reconcile computed to compare (not the documents again).
    const fingerprint = digest(cm.metadata, dataDigest(cm.data));
    return this.once(
      this.configMaps,
      namespacedKey(cm.metadata.namespace, cm.metadata.name),
      fingerprint,
      "configmap",
      () => this.inner.applyConfigMap(cm),
    );
  }

  async applySecret(secret: SecretObject): Promise<string | undefined> {
    const key = namespacedKey(secret.metadata.namespace, secret.metadata.name);
    return this.once(this.secrets, key, digest(secret), "secret", () => this.inner.applySecret(secret));
  }

  async deleteSecret(namespace: string, name: string): Promise<void> {
    await this.once(this.secrets, namespacedKey(namespace, name), "deleted", "secret", async () => {
      await this.inner.deleteSecret(namespace, name);
      return undefined;
    });
  }

  async patchMachineStatus(machine: Machine, status: MachineStatus): Promise<WrittenVersion | undefined> {
    return this.once(this.statuses, objectKey(machine), digest(status), "status", () =>
      this.inner.patchMachineStatus(machine, status),
    );
  }

  async event(machine: Machine, type: "Normal" | "Warning", reason: string, message: string): Promise<void> {
    await this.inner.event(machine, type, reason, message);
    this.onWrite("event");
  }

  /** Someone else changed or deleted this ConfigMap (`namespace/name`): write it again when due. */
  forgetConfigMap(key: string): void {
    this.configMaps.forget(key);
  }

  /** Someone else changed or deleted this Secret (`namespace/name`). */
  forgetSecret(key: string): void {
    this.secrets.forget(key);
  }

  /** The Machine (`namespace/name`) is gone, or its status was changed by someone else. */
  forgetMachine(key: string): void {
    this.statuses.forget(key);
  }
}

/**
 * A short digest of what was written (and of `more`, a digest of the rest): 10,000 Machines'
 * documents need not be kept twice. 128 bits of SHA-256 as one flat 22-character string: three
 * per Machine are kept, and the whole digest, or two joined, took ~2 MiB more at 10,000 Machines.
 */
function digest(value: unknown, more = ""): string {
  return createHash("sha256")
    .update(JSON.stringify(value))
    .update(more)
    .digest()
    .toString("base64url", 0, 16);
}
