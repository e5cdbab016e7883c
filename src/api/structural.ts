// The CRD schemas of schema.ts applied to a decoded object, as the API server applies them at
// admission: types, required fields, unknown fields, patterns, lengths, formats, and the CEL rules
// (restated in TypeScript below). The embedded store (ccts serve --dir) has no API server, so it
// runs this on every file; test/api/crd-parity.test.ts holds the two to the same verdicts.
import { dottedToNumber } from "./ipv4.js";
import type { JSONSchemaProps } from "./schema.js";

export interface SchemaProblem {
  /** Field path as the API server names it: spec.interfaces[0].mac */
  path: string;
  message: string;
}

/** A dotted quad; the API server's parser (ParseIPSloppy) also takes leading zeros: 010.020.000.011. */
const OCTET = "0*(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
const IPV4 = new RegExp(`^${OCTET}(\\.${OCTET}){3}$`);

/** The string formats the schemas use, checked as the API server checks them. */
const FORMATS: Record<string, (s: string) => boolean> = {
  ipv4: (s) => IPV4.test(s),
  cidr: (s) => {
    const [ip, bits, ...rest] = s.split("/");
    return rest.length === 0 && IPV4.test(ip ?? "") && /^(3[0-2]|[12]?[0-9])$/.test(bits ?? "");
  },
  "date-time": (s) => !Number.isNaN(Date.parse(s)) && /^\d{4}-\d\d-\d\dT/i.test(s),
};

function typeOf(v: unknown): string {
  if (Array.isArray(v)) return "array";
  if (v === null) return "null";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

function hasType(v: unknown, type: NonNullable<JSONSchemaProps["type"]>): boolean {
  const t = typeOf(v);
  return t === type || (type === "number" && t === "integer");
}

/** Patterns compiled once: a folder of 10,000 Machines checks each MAC against the same one. */
const patterns = new Map<string, RegExp>();
function compiled(pattern: string): RegExp {
  let re = patterns.get(pattern);
  if (!re) {
    re = new RegExp(pattern, "u");
    patterns.set(pattern, re);
  }
  return re;
}

const UNKNOWN_FIELD = "unknown field";
const at = (path: string, key: string) => (path ? `${path}.${key}` : key);

/**
 * Every way `value` breaks `schema`; `path` names where it sits. With `unknownFieldsOnly`, only
 * fields the schema does not know: what the API server still refuses in a status it then drops.
 */
export function schemaProblems(
  schema: JSONSchemaProps,
  value: unknown,
  path = "",
  unknownFieldsOnly = false,
): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  const report = (message: string, where = path) => {
    if (!unknownFieldsOnly || message === UNKNOWN_FIELD) problems.push({ path: where, message });
  };
  if (schema.type && !hasType(value, schema.type)) {
    // YAML reads unquoted 0042, 1.10 or yes as a number or a bool: the fix is quotes.
    const quote = schema.type === "string" && typeof value !== "object" ? " (quote it in YAML)" : "";
    report(`must be of type ${schema.type}, got ${typeOf(value)}${quote}`);
    return problems;
  }
  if (typeof value === "string") {
    const length = [...value].length;
    if (schema.minLength !== undefined && length < schema.minLength)
      report(`should be at least ${schema.minLength} chars long`);
    if (schema.maxLength !== undefined && length > schema.maxLength)
      report(`may not be longer than ${schema.maxLength}`);
    if (schema.enum && !schema.enum.includes(value)) report(`must be one of ${schema.enum.join(", ")}`);
    const format = schema.format && FORMATS[schema.format];
    if (format && !format(value)) report(`must be of format ${schema.format}`);
    else if (schema.pattern && !compiled(schema.pattern).test(value))
      // On an address the pattern only adds "no leading zeros" to the format (see schema.ts).
      report(
        format
          ? `must be of format ${schema.format}, without leading zeros`
          : `should match '${schema.pattern}'`,
      );
  }
  if (typeof value === "number" && schema.minimum !== undefined && value < schema.minimum)
    report(`should be greater than or equal to ${schema.minimum}`);
  if (Array.isArray(value)) {
    if (schema.maxItems !== undefined && value.length > schema.maxItems)
      report(`must have at most ${schema.maxItems} items`);
    if (schema["x-kubernetes-list-type"] === "set") {
      value.forEach((item, i) => {
        if (value.indexOf(item) !== i) report(`Duplicate value: ${JSON.stringify(item)}`, `${path}[${i}]`);
      });
    }
    if (schema.items) {
      const items = schema.items;
      value.forEach((item, i) => {
        problems.push(...schemaProblems(items, item, `${path}[${i}]`, unknownFieldsOnly));
      });
    }
  }
  if (typeOf(value) === "object" && !schema["x-kubernetes-preserve-unknown-fields"]) {
    const object = value as Record<string, unknown>;
    for (const key of schema.required ?? [])
      if (object[key] === undefined || object[key] === null) report("Required value", at(path, key));
    for (const [key, item] of Object.entries(object)) {
      // The API server drops a null where the schema does not allow one, then validates.
      if (item === null) continue;
      const property = schema.properties?.[key] ?? schema.additionalProperties;
      if (property) problems.push(...schemaProblems(property, item, at(path, key), unknownFieldsOnly));
      else if (schema.properties) report(UNKNOWN_FIELD, at(path, key));
    }
  }
  return problems;
}

/** A MAC reduced to its hex digits, so two notations of one address compare equal. */
function macHex(mac: unknown): string {
  return String(mac).toLowerCase().replace(/[:.-]/g, "");
}

/**
 * The schemas' x-kubernetes-validations (CEL), restated. For a spec the structural checks passed
 * (validate.ts runs them first), so each field has its type. A null field counts as absent: the
 * API server drops it before the rules see the object.
 */
export function ruleProblems(kind: string, spec: Record<string, unknown>): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  if (kind === "ClusterDesc") {
    const range = (spec.network as Record<string, unknown> | undefined)?.dhcpRange as
      | { start: string; end: string }
      | undefined;
    // Both addresses passed format ipv4 and the pattern, so both are numbers.
    if (range && (dottedToNumber(range.start) as number) > (dottedToNumber(range.end) as number))
      problems.push({
        path: "spec.network.dhcpRange",
        message: "dhcpRange.start must not be after dhcpRange.end",
      });
    const templates = (spec.templates ?? []) as Record<string, unknown>[];
    templates.forEach((t, i) => {
      if ((t.configMapKeyRef != null) === (t.inline != null))
        problems.push({
          path: `spec.templates[${i}]`,
          message: "a template takes its text from exactly one of configMapKeyRef and inline",
        });
    });
    const outputs = templates.map((t) => t.output);
    if (new Set(outputs).size !== outputs.length)
      problems.push({ path: "spec.templates", message: "each template output name may appear only once" });
    if (spec.git != null && templates.length > 0)
      problems.push({ path: "spec", message: "spec.git and spec.templates exclude each other" });
  } else if (kind === "Machine" && Array.isArray(spec.interfaces)) {
    const own = macHex(spec.mac);
    const others = spec.interfaces.map((i: { mac?: unknown }) => macHex(i.mac));
    if (others.some((m, i) => m === own || others.indexOf(m) !== i))
      problems.push({
        path: "spec.interfaces",
        message: "interface MACs must differ from spec.mac and from each other",
      });
  }
  return problems;
}

/** ObjectMeta's fields: the API server refuses any other under metadata (strict decoding). */
const OBJECT_META_FIELDS = new Set([
  "name",
  "generateName",
  "namespace",
  "selfLink",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "labels",
  "annotations",
  "ownerReferences",
  "finalizers",
  "managedFields",
]);
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
/** What the API server takes as an object name or a key prefix: a lowercase RFC 1123 subdomain. */
const DNS1123_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A label or annotation key: an optional DNS subdomain prefix and `/`, then a name of <= 63. */
function isQualifiedName(key: string): boolean {
  const slash = key.lastIndexOf("/");
  const name = key.slice(slash + 1);
  const prefixOk = slash < 0 || DNS1123_SUBDOMAIN.test(key.slice(0, slash));
  return prefixOk && name.length <= 63 && QUALIFIED_NAME.test(name);
}

/** What the API server checks of metadata: the name's form, known fields, labels, annotations. */
export function objectMetaProblems(metadata: unknown): SchemaProblem[] {
  if (typeOf(metadata) !== "object") return [];
  const problems: SchemaProblem[] = [];
  const { name } = metadata as { name?: unknown };
  if (typeof name === "string" && name !== "" && !DNS1123_SUBDOMAIN.test(name))
    problems.push({
      path: "metadata.name",
      message: `${JSON.stringify(name)} is not a lowercase RFC 1123 subdomain (a-z, 0-9, '-', '.')`,
    });
  for (const [key, value] of Object.entries(metadata as Record<string, unknown>)) {
    const path = `metadata.${key}`;
    if (!OBJECT_META_FIELDS.has(key)) problems.push({ path, message: UNKNOWN_FIELD });
    if ((key !== "labels" && key !== "annotations") || value === null || value === undefined) continue;
    if (typeOf(value) !== "object") {
      problems.push({ path, message: "must be a mapping of strings" });
      continue;
    }
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (typeof v !== "string") problems.push({ path: `${path}.${k}`, message: "must be a string" });
      else if (!isQualifiedName(k)) problems.push({ path, message: `invalid key ${JSON.stringify(k)}` });
      else if (key === "labels" && v !== "" && !(v.length <= 63 && QUALIFIED_NAME.test(v)))
        problems.push({ path: `${path}.${k}`, message: `invalid label value ${JSON.stringify(v)}` });
    }
  }
  return problems;
}
