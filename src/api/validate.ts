// Checks that a decoded YAML/JSON document is a ClusterDesc or Machine we can work with. In cluster
// mode the API server enforces the CRD schema at admission; the embedded store (ccts serve --dir)
// has no API server, so it runs these checks on every file it loads: a few with friendlier messages
// first, then the CRD schema itself (structural.ts), so what `ccts serve --dir` accepts is what
// `kubectl apply` accepts.
import { API_VERSION, KIND_CLUSTER_DESC, KIND_MACHINE } from "./constants.js";
import { type MacError, parseMac } from "./mac.js";
import { clusterDescSchema, machineSchema } from "./schema.js";
import { objectMetaProblems, ruleProblems, schemaProblems } from "./structural.js";
import type { ClusterDesc, Machine } from "./types.js";

export type Checked =
  | { kind: "ClusterDesc"; object: ClusterDesc }
  | { kind: "Machine"; object: Machine }
  | {
      kind: "ConfigMap";
      object: { metadata: { name: string; namespace?: string }; data: Record<string, string> };
    };

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function requireString(obj: Record<string, unknown>, path: string, problems: string[]): void {
  let cur: unknown = obj;
  for (const part of path.split(".")) cur = isMap(cur) ? cur[part] : undefined;
  if (typeof cur !== "string" || cur === "") problems.push(`${path} is required`);
}

function checkMac(value: unknown, path: string, problems: string[]): void {
  if (typeof value !== "string") return;
  try {
    parseMac(value);
  } catch (e) {
    problems.push(`${path}: ${(e as MacError).message}`);
  }
}

/** A ConfigMap's top-level fields; the API server refuses others (kubectl's strict field validation). */
const CONFIGMAP_FIELDS = new Set(["apiVersion", "kind", "metadata", "data", "binaryData", "immutable"]);

/** The CRD schema's problems with `doc`, but for fields `found` already names. */
function crdProblems(kind: string, doc: Record<string, unknown>, found: string[]): string[] {
  const { schema } = kind === KIND_MACHINE ? machineSchema : clusterDescSchema;
  // A status in a file is dropped by the API server, which refuses only fields it does not know.
  const { status, ...object } = doc;
  const structural = [
    ...schemaProblems(schema, object),
    ...(status === undefined || !schema.properties?.status
      ? []
      : schemaProblems(schema.properties.status, status, "status", true)),
  ];
  const problems = structural.length || !isMap(doc.spec) ? structural : ruleProblems(kind, doc.spec);
  return problems
    .filter(({ path }) => !found.some((f) => f.startsWith(`${path} `) || f.startsWith(`${path}:`)))
    .map(({ path, message }) => `${path}: ${message}`);
}

/** Returns the typed object, or throws an Error listing every problem found. */
export function checkObject(doc: unknown): Checked {
  if (!isMap(doc)) throw new Error("not a mapping");
  const { apiVersion, kind } = doc;
  const problems: string[] = [];
  requireString(doc, "metadata.name", problems);
  for (const { path, message } of objectMetaProblems(doc.metadata)) problems.push(`${path}: ${message}`);
  if (kind === "ConfigMap" && apiVersion === "v1") {
    const data = doc.data ?? {};
    if (!isMap(data) || !Object.values(data).every((v) => typeof v === "string")) {
      problems.push("data must map keys to strings");
    }
    for (const key of Object.keys(doc))
      if (!CONFIGMAP_FIELDS.has(key)) problems.push(`${key}: unknown field`);
    if (problems.length) throw new Error(`ConfigMap: ${problems.join("; ")}`);
    return {
      kind,
      object: { metadata: doc.metadata as { name: string }, data: data as Record<string, string> },
    };
  }
  if (apiVersion !== API_VERSION)
    throw new Error(`apiVersion must be ${API_VERSION}, got ${String(apiVersion)}`);
  if (!isMap(doc.spec)) problems.push("spec is required");
  if (kind === KIND_CLUSTER_DESC) {
    for (const f of ["bootstrapperIP", "subnet", "netmask", "domain"])
      requireString(doc, `spec.network.${f}`, problems);
  } else if (kind === KIND_MACHINE) {
    requireString(doc, "spec.clusterDesc", problems);
    requireString(doc, "spec.mac", problems);
    const spec = isMap(doc.spec) ? doc.spec : {};
    checkMac(spec.mac, "spec.mac", problems);
    const interfaces = spec.interfaces ?? [];
    if (!Array.isArray(interfaces)) problems.push("spec.interfaces must be a list");
    else {
      for (const [n, i] of interfaces.entries()) {
        checkMac(isMap(i) ? i.mac : undefined, `spec.interfaces[${n}].mac`, problems);
      }
    }
    if (
      spec.roles !== undefined &&
      !(Array.isArray(spec.roles) && spec.roles.every((r) => typeof r === "string"))
    ) {
      problems.push("spec.roles must be a list of strings");
    }
  } else {
    throw new Error(`kind must be ${KIND_CLUSTER_DESC}, ${KIND_MACHINE} or ConfigMap, got ${String(kind)}`);
  }
  problems.push(...crdProblems(kind, doc, problems));
  if (problems.length)
    throw new Error(`${kind} ${String((doc.metadata as { name?: string })?.name)}: ${problems.join("; ")}`);
  return kind === KIND_MACHINE
    ? { kind: "Machine", object: doc as unknown as Machine }
    : { kind: "ClusterDesc", object: doc as unknown as ClusterDesc };
}
