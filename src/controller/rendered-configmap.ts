// The ConfigMap that holds one Machine's rendered documents: its name, labels and annotations are
// the contract between the controller (writer) and the server (reader, which indexes by MAC label).
import { createHash } from "node:crypto";
import {
  ANNOTATION_ADDRESSES,
  ANNOTATION_CONTENT_HASH,
  ANNOTATION_CONTENT_TYPES,
  ANNOTATION_MACHINE,
  API_VERSION,
  KIND_MACHINE,
  LABEL_CLUSTER,
  LABEL_KIND,
  LABEL_MACHINE,
  LABEL_MANAGED_BY,
} from "../api/constants.js";
import { macLabel, macsFromLabels } from "../api/labels.js";
import { machineAddresses, objectKey } from "../api/machine.js";
import type { Machine } from "../api/types.js";
import type { RenderedDocument } from "../render/types.js";
import type { SecretObject } from "./certificates.js";
import { shared } from "./shared-strings.js";

export const MANAGED_BY = "ccts";

/** Metadata of the objects the controller writes (ConfigMaps, Secrets), owned by a Machine or ClusterDesc. */
export interface OwnedObjectMeta {
  name: string;
  namespace: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: {
    apiVersion: string;
    kind: string;
    name: string;
    uid: string;
    controller?: boolean;
    blockOwnerDeletion?: boolean;
  }[];
}

export type OwnerReference = NonNullable<OwnedObjectMeta["ownerReferences"]>[number];

/** The owner reference that makes the controller's object go with its Machine or ClusterDesc. */
export function controllerOwner(
  kind: "Machine" | "ClusterDesc",
  owner: { metadata: { name: string; uid?: string } },
): OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid ?? "",
    controller: true,
    blockOwnerDeletion: true,
  };
}

export interface ConfigMapObject {
  apiVersion: "v1";
  kind: "ConfigMap";
  metadata: OwnedObjectMeta;
  data?: Record<string, string>;
  /**
   * Only in the controller's cache, which keeps metadata only (see renderedConfigMapEntry): the
   * data is what the controller's last apply wrote, so the content-hash annotation describes it.
   */
  dataUntouched?: boolean;
}

/** One entry of metadata.managedFields, as far as it is read here. */
export interface FieldsEntry {
  manager?: string;
  fieldsV1?: Record<string, unknown>;
}

function shortHash(s: string): string {
  return createHash("sha256").update(s).digest("hex").slice(0, 10);
}

/** Fits a name into `max` characters, keeping it unique with a hash suffix when it must be cut. */
export function fitName(name: string, max: number): string {
  if (name.length <= max) return name;
  return `${name.slice(0, max - 11).replace(/[-.]+$/, "")}-${shortHash(name)}`;
}

/** Output added to every Machine's documents in cluster mode: the cluster CA certificate. */
export const CA_OUTPUT = "ca.pem";

/**
 * Where a Machine's documents Secret lives: beside the Machine, or in the documents namespace
 * (`--documents-namespace`) that only the controller and the server may read Secrets in. There
 * Secrets of Machines from several namespaces meet, so the name carries the Machine's namespace.
 */
export function documentsSecretRef(
  machine: { namespace: string; name: string },
  documentsNamespace: string | undefined,
): { namespace: string; name: string } {
  if (!documentsNamespace || documentsNamespace === machine.namespace) {
    return { namespace: machine.namespace, name: fitName(`ccts-machine-${machine.name}-documents`, 253) };
  }
  return {
    namespace: documentsNamespace,
    name: fitName(`ccts-machine-${machine.namespace}.${machine.name}-documents`, 253),
  };
}

/**
 * The Secret for documents that contain private key material. It carries no MAC labels: the
 * server joins it to the Machine's ConfigMap through the Machine named in its annotation. In
 * another namespace it has no owner reference (those cannot cross namespaces): the controller
 * deletes it when the Machine goes.
 */
export function documentsSecret(
  machine: Machine,
  documents: RenderedDocument[],
  hash: string,
  documentsNamespace?: string,
): SecretObject {
  const cm = renderedConfigMap(machine, documents, hash, []);
  const ref = documentsSecretRef(
    { namespace: cm.metadata.namespace, name: machine.metadata.name },
    documentsNamespace,
  );
  const { ownerReferences, ...meta } = cm.metadata;
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "Opaque",
    metadata: {
      ...meta,
      ...ref,
      labels: { ...cm.metadata.labels, [LABEL_KIND]: "documents" },
      annotations: { ...cm.metadata.annotations, [ANNOTATION_MACHINE]: objectKey(machine) },
      ...(ref.namespace === cm.metadata.namespace ? { ownerReferences } : {}),
    },
    data: Object.fromEntries(
      documents.map((d) => [d.output, Buffer.from(d.content, "utf8").toString("base64")]),
    ),
  };
}

export function renderedConfigMapName(machineName: string): string {
  return fitName(`ccts-machine-${machineName}`, 253);
}

/** Label values are at most 63 characters. */
export function labelValue(value: string): string {
  return fitName(value, 63);
}

export function renderedConfigMap(
  machine: Machine,
  documents: RenderedDocument[],
  hash: string,
  servedMacs: string[],
): ConfigMapObject {
  const labels: Record<string, string> = {
    [LABEL_MANAGED_BY]: MANAGED_BY,
    [LABEL_MACHINE]: labelValue(machine.metadata.name),
    [LABEL_CLUSTER]: labelValue(machine.spec.clusterDesc),
  };
  for (const mac of servedMacs) labels[macLabel(mac)] = "true";
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: renderedConfigMapName(machine.metadata.name),
      namespace: machine.metadata.namespace ?? "default",
      labels,
      annotations: {
        [ANNOTATION_CONTENT_HASH]: hash,
        [ANNOTATION_ADDRESSES]: JSON.stringify(machineAddresses(machine)),
        [ANNOTATION_CONTENT_TYPES]: JSON.stringify(
          Object.fromEntries(documents.map((d) => [d.output, d.contentType])),
        ),
      },
      ownerReferences: [controllerOwner(KIND_MACHINE, machine)],
    },
    data: Object.fromEntries(documents.map((d) => [d.output, d.content])),
  };
}

/**
 * One digest of a ConfigMap's data (names and texts): what WriteMemory remembers of a written
 * ConfigMap's documents, and how a whole ConfigMap is compared (sameRendered).
 */
export function dataDigest(data: Record<string, string> | undefined): string {
  const hash = createHash("sha256");
  for (const name of Object.keys(data ?? {}).sort()) {
    const text = data![name]!;
    hash.update(`${name}\0${Buffer.byteLength(text)}\0`).update(text);
  }
  return hash.digest("base64");
}

/**
 * What the controller's cache keeps of a rendered ConfigMap, from its metadata alone (the
 * controller watches rendered ConfigMaps as PartialObjectMetadata: a fan-out's 10,000 watch events
 * of ~9 KB each were parsed only to be digested). Kept: what reconcile compares (sameRendered) and
 * reads (the document names, from the content-types annotation); whether the data is still what
 * this controller applied is told by the managedFields (see dataUntouchedBy). Labels and owner
 * references equal to those of `previous` (the ConfigMap's last version in the cache) are that
 * version's objects, and the document names one object for every ConfigMap with the same outputs:
 * a fan-out replaces all 10,000 entries, and these parts were ~5.7 of their 9.2 MiB.
 */
export function renderedConfigMapEntry(
  object: { metadata: OwnedObjectMeta },
  previous: ConfigMapObject | undefined,
  managedFields: FieldsEntry[] | undefined,
  fieldManager: string,
): ConfigMapObject {
  const { name, namespace, resourceVersion, labels, annotations, ownerReferences } = object.metadata;
  const owner = ownerReferences?.[0];
  const before = previous?.metadata;
  const sharing = (values: Record<string, string> | undefined, keys: string[]) =>
    values &&
    Object.fromEntries(Object.entries(values).map(([k, v]) => [k, keys.includes(k) ? shared(v) : v]));
  const names = outputNames(annotations?.[ANNOTATION_CONTENT_TYPES]);
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name,
      namespace,
      resourceVersion,
      labels: sameEntries(before?.labels, labels)
        ? before!.labels
        : sharing(labels, [LABEL_MANAGED_BY, LABEL_CLUSTER]),
      annotations: sharing(annotations, [ANNOTATION_CONTENT_TYPES]),
      ownerReferences:
        owner &&
        (sameOwner(before?.ownerReferences?.[0], owner)
          ? before!.ownerReferences
          : [
              {
                apiVersion: shared(owner.apiVersion),
                kind: shared(owner.kind),
                name: owner.name,
                uid: owner.uid,
              },
            ]),
    },
    // The names stay (status lists a Machine's outputs from them); the texts were never fetched.
    data: documentNames(names ?? []),
    dataUntouched: names !== undefined && dataUntouchedBy(fieldManager, names, managedFields),
  };
}

/** The output names of a content-types annotation (`{"output": "type", ...}`); undefined if unreadable. */
function outputNames(contentTypes: string | undefined): string[] | undefined {
  try {
    const parsed: unknown = JSON.parse(contentTypes ?? "");
    return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? Object.keys(parsed) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * True when the managedFields say the data holds exactly `names` as `fieldManager` last applied
 * them: that manager owns every one of those keys and no other, and no other manager owns a data
 * key. Any other writer of a document (kubectl edit, patch, another apply) takes or shares its
 * ownership; a removed key leaves the manager's set. So an edit the content-hash annotation does
 * not show is still seen. Two managers with the same value count as a change (one write too many,
 * never a repair missed).
 */
export function dataUntouchedBy(
  fieldManager: string,
  names: readonly string[],
  managedFields: readonly FieldsEntry[] | undefined,
): boolean {
  const ours = new Set<string>();
  for (const entry of managedFields ?? []) {
    const keys = dataKeys(entry.fieldsV1);
    if (entry.manager !== fieldManager) {
      if (keys.length > 0) return false;
    } else for (const k of keys) ours.add(k);
  }
  return ours.size === names.length && names.every((n) => ours.has(`f:${n}`));
}

/** The data keys an entry's fieldsV1 owns (`f:<key>`; "." is the map itself, no key). */
function dataKeys(fieldsV1: Record<string, unknown> | undefined): string[] {
  const data = fieldsV1?.["f:data"];
  return data && typeof data === "object" ? Object.keys(data).filter((k) => k !== ".") : [];
}

function sameEntries(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  const keys = Object.keys(b);
  return keys.length === Object.keys(a).length && keys.every((k) => a[k] === b[k]);
}

/** The fields of an owner reference the cache keeps (apiVersion, kind, name, uid) are equal. */
function sameOwner(a: OwnerReference | undefined, b: OwnerReference): boolean {
  return (
    a !== undefined &&
    a.uid === b.uid &&
    a.name === b.name &&
    a.kind === b.kind &&
    a.apiVersion === b.apiVersion
  );
}

/** One frozen `{ name: "" }` object per list of document names (bounded like shared strings). */
const namesObjects = new Map<string, Record<string, string>>();

function documentNames(names: string[]): Record<string, string> {
  const key = names.join("\0");
  let known = namesObjects.get(key);
  if (!known) {
    if (namesObjects.size >= 64) namesObjects.clear();
    known = Object.freeze(Object.fromEntries(names.map((n) => [n, ""])));
    namesObjects.set(key, known);
  }
  return known;
}

/**
 * True when `existing` already carries what `desired` would write (so the write can be skipped).
 * `existing` comes from the controller's cache (renderedConfigMapEntry) or is a whole ConfigMap.
 * A cache entry's documents are the ones its content-hash and content-types annotations describe
 * while they are untouched; those annotations are compared here like the rest.
 */
export function sameRendered(existing: ConfigMapObject | undefined, desired: ConfigMapObject): boolean {
  if (!existing) return false;
  const a = existing.metadata;
  const b = desired.metadata;
  return (
    a.annotations?.[ANNOTATION_CONTENT_HASH] === b.annotations?.[ANNOTATION_CONTENT_HASH] &&
    a.annotations?.[ANNOTATION_CONTENT_TYPES] === b.annotations?.[ANNOTATION_CONTENT_TYPES] &&
    a.annotations?.[ANNOTATION_ADDRESSES] === b.annotations?.[ANNOTATION_ADDRESSES] &&
    JSON.stringify(macsFromLabels(a.labels)) === JSON.stringify(macsFromLabels(b.labels)) &&
    // Every label it writes (a managed-by label removed by hand: the server no longer saw it).
    Object.entries(b.labels ?? {}).every(([k, v]) => a.labels?.[k] === v) &&
    a.ownerReferences?.[0]?.uid === b.ownerReferences?.[0]?.uid &&
    (existing.dataUntouched ?? dataDigest(existing.data) === dataDigest(desired.data))
  );
}
