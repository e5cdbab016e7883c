// Writes of the controller: server-side apply with one fixed field manager, so ownership of every
// field is clear and a re-apply of the same content is a no-op on the server too.
import { randomBytes } from "node:crypto";
import { API_VERSION, KIND_MACHINE } from "../api/constants.js";
import type { ClusterDesc, Machine, MachineStatus } from "../api/types.js";
import type { SecretObject } from "../controller/certificates.js";
import { RefusedWrite, type WrittenVersion } from "../controller/reconcile.js";
import type { ConfigMapObject } from "../controller/rendered-configmap.js";
import { ApiError, type KubeClient, METADATA_ONLY } from "./client.js";
import { paths } from "./paths.js";

export const FIELD_MANAGER = "ccts-controller";

/**
 * Answers that refuse the object for good: bad request, forbidden (RBAC, admission policies and
 * webhooks, a terminating namespace), namespace not found, too large, invalid. Not 401, 408, 409,
 * 429 or 5xx: those pass with time or a retry.
 */
const REFUSALS = new Set([400, 403, 404, 413, 422]);
const APPLY = "application/apply-patch+yaml";
/**
 * The query of every apply. fieldValidation=Ignore: under the default (Warn) the API server parses
 * an apply's body twice, the second time only to find unknown or duplicate fields for a Warning
 * header this client never reads; our bodies are built by code and have neither. Measured on the
 * test control plane: ~0.5 ms (10%) less API server + etcd CPU per ConfigMap apply.
 */
export const APPLY_QUERY = { fieldManager: FIELD_MANAGER, force: true, fieldValidation: "Ignore" };

export class ApiWrites {
  constructor(
    private readonly client: KubeClient,
    private readonly component = "ccts-controller",
  ) {}

  /**
   * Server-side apply of one object; resolves to the resourceVersion the server gave it. A refusal
   * of the object itself rejects with a RefusedWrite (reconcile reports it in the Machine's status).
   */
  private async apply(collection: string, obj: ConfigMapObject | SecretObject): Promise<string | undefined> {
    try {
      const written = await this.client.request<{ metadata: { resourceVersion?: string } }>(
        "PATCH",
        paths.one(collection, obj.metadata.name),
        {
          query: APPLY_QUERY,
          contentType: APPLY,
          accept: METADATA_ONLY,
          body: obj,
        },
      );
      return written?.metadata.resourceVersion;
    } catch (e) {
      if (e instanceof ApiError && REFUSALS.has(e.status)) throw new RefusedWrite(e.message, { cause: e });
      throw e;
    }
  }

  applyConfigMap(cm: ConfigMapObject): Promise<string | undefined> {
    return this.apply(paths.configMaps(cm.metadata), cm);
  }

  applySecret(secret: SecretObject): Promise<string | undefined> {
    return this.apply(paths.secrets(secret.metadata), secret);
  }

  /** Creates the Secret; "exists" when one of that name is there already (it is left alone). */
  async createSecret(secret: SecretObject): Promise<"created" | "exists"> {
    try {
      await this.client.request("POST", paths.secrets(secret.metadata), {
        query: { fieldManager: FIELD_MANAGER },
        accept: METADATA_ONLY,
        body: secret,
      });
      return "created";
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) return "exists";
      throw e;
    }
  }

  async getSecret(namespace: string, name: string): Promise<SecretObject | undefined> {
    try {
      return await this.client.request<SecretObject>("GET", paths.one(paths.secrets({ namespace }), name));
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return undefined;
      throw e;
    }
  }

  async deleteSecret(namespace: string, name: string): Promise<void> {
    try {
      await this.client.request("DELETE", paths.one(paths.secrets({ namespace }), name));
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) throw e;
    }
  }

  async patchMachineStatus(machine: Machine, status: MachineStatus): Promise<WrittenVersion | undefined> {
    const ns = machine.metadata.namespace ?? "default";
    const written = await this.client.request<{ metadata: WrittenVersion }>(
      "PATCH",
      `${paths.one(paths.machines({ namespace: ns }), machine.metadata.name)}/status`,
      {
        query: APPLY_QUERY,
        contentType: APPLY,
        accept: METADATA_ONLY,
        body: {
          apiVersion: API_VERSION,
          kind: KIND_MACHINE,
          metadata: { name: machine.metadata.name, namespace: ns },
          status,
        },
      },
    );
    // Only the version: WriteMemory keeps this answer for every Machine, and the rest of the
    // metadata (managedFields above all) was ~2 KB per Machine of the controller's heap.
    if (!written?.metadata) return undefined;
    const { resourceVersion, generation } = written.metadata;
    return { resourceVersion, generation };
  }

  /** An Event on a Machine (default) or a ClusterDesc. */
  async event(
    machine: Machine | ClusterDesc,
    type: "Normal" | "Warning",
    reason: string,
    message: string,
    kind: "Machine" | "ClusterDesc" = KIND_MACHINE,
  ): Promise<void> {
    const ns = machine.metadata.namespace ?? "default";
    const now = new Date().toISOString();
    await this.client.request("POST", paths.events(ns), {
      accept: METADATA_ONLY,
      body: {
        apiVersion: "v1",
        kind: "Event",
        metadata: { name: `${machine.metadata.name}.${randomBytes(8).toString("hex")}`, namespace: ns },
        involvedObject: {
          apiVersion: API_VERSION,
          kind,
          name: machine.metadata.name,
          namespace: ns,
          uid: machine.metadata.uid,
          resourceVersion: machine.metadata.resourceVersion,
        },
        type,
        reason,
        message: message.slice(0, 1024),
        source: { component: this.component },
        reportingComponent: this.component,
        reportingInstance: process.env.HOSTNAME ?? this.component,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      },
    });
  }
}
