// What the server keeps of one rendered ConfigMap: the Machine, its MACs and its documents.
// The same shape is read from the API server and written to and read from the disk cache.
import { ANNOTATION_ADDRESSES, ANNOTATION_CONTENT_HASH, ANNOTATION_CONTENT_TYPES } from "../api/constants.js";
import { macsFromLabels, owningMachine } from "../api/labels.js";
import { namespacedKey } from "../api/machine.js";

export interface RenderedEntry {
  /** `namespace/name` of the ConfigMap. */
  key: string;
  /** `namespace/name` of the Machine. */
  machine: string;
  /** Canonical MACs the entry is served under. */
  macs: string[];
  /** Addresses the Machine declares (for the opt-in authorization). */
  addresses: string[];
  hash: string;
  documents: Record<string, { contentType: string; content: string }>;
  /** Documents holding private keys (from a Secret): served under the Machine's public entry's MACs. */
  private?: boolean;
  /** Documents of a ClusterDesc (dnsmasq.conf), not of a Machine: `namespace/name` of the ClusterDesc. */
  cluster?: string;
}

export interface RenderedConfigMapLike {
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { name: string }[];
  };
  data?: Record<string, string>;
}

const FALLBACK_TYPE = "text/plain; charset=utf-8";
/** A media type that can stand in a Content-Type header as it is (no CR, LF or other controls). */
const HEADER_SAFE_TYPE = /^[\x21-\x7e][\x20-\x7e]{0,199}$/;

function contentTypeOf(declared: unknown): string {
  return typeof declared === "string" && HEADER_SAFE_TYPE.test(declared) ? declared : FALLBACK_TYPE;
}

export function entryFromConfigMap(cm: RenderedConfigMapLike): RenderedEntry {
  const ns = cm.metadata.namespace ?? "default";
  let types: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(cm.metadata.annotations?.[ANNOTATION_CONTENT_TYPES] ?? "{}");
    if (typeof parsed === "object" && parsed !== null) types = parsed as Record<string, unknown>;
  } catch {
    // a hand-edited annotation: serve everything as text rather than nothing
  }
  const macs = macsFromLabels(cm.metadata.labels);
  const documents: RenderedEntry["documents"] = {};
  for (const [output, content] of Object.entries(cm.data ?? {})) {
    // The annotation can be edited by hand; the server writes the type into a header verbatim.
    documents[output] = { contentType: contentTypeOf(types[output]), content };
  }
  const ownerKind = (cm.metadata.ownerReferences?.[0] as { kind?: string } | undefined)?.kind;
  return {
    ...(ownerKind === "ClusterDesc" ? { cluster: `${ns}/${cm.metadata.ownerReferences?.[0]?.name}` } : {}),
    key: namespacedKey(ns, cm.metadata.name),
    machine: namespacedKey(ns, cm.metadata.ownerReferences?.[0]?.name ?? cm.metadata.name),
    macs,
    addresses: jsonStrings(cm.metadata.annotations?.[ANNOTATION_ADDRESSES]),
    hash: cm.metadata.annotations?.[ANNOTATION_CONTENT_HASH] ?? "",
    documents,
  };
}

/** A JSON list of strings from an annotation; anything else (absent, hand-edited) is empty. */
function jsonStrings(text: string | undefined): string[] {
  try {
    const v: unknown = JSON.parse(text ?? "[]");
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
  } catch {
    return [];
  }
}

/**
 * A Secret of documents that hold private keys: values are base64; it carries no MAC labels and
 * names its Machine in an annotation (it may live in another namespace than the Machine).
 */
export function entryFromSecret(secret: RenderedConfigMapLike): RenderedEntry {
  const data = Object.fromEntries(
    Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]),
  );
  const entry = entryFromConfigMap({ ...secret, data });
  const machine = owningMachine(secret.metadata) ?? entry.machine;
  return { ...entry, machine, macs: [], private: true };
}
