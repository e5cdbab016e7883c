// MAC labels on rendered ConfigMaps: the controller writes them, the server indexes by them; and
// how an object of the controller names the Machine it belongs to.
import { ANNOTATION_MACHINE, KIND_MACHINE, LABEL_MAC_PREFIX } from "./constants.js";
import { tryParseMac } from "./mac.js";
import { namespacedKey } from "./machine.js";

/** `mac.ccts.io/aa-bb-cc-dd-ee-ff` for a canonical MAC (label keys may not contain ":"). */
export function macLabel(canonicalMac: string): string {
  return `${LABEL_MAC_PREFIX}${canonicalMac.replaceAll(":", "-")}`;
}

/** The canonical MACs in a set of labels, sorted. */
export function macsFromLabels(labels: Record<string, string> | undefined): string[] {
  return Object.keys(labels ?? {})
    .filter((k) => k.startsWith(LABEL_MAC_PREFIX))
    .map((k) => tryParseMac(k.slice(LABEL_MAC_PREFIX.length)))
    .filter((m): m is string => m !== undefined)
    .sort();
}

/**
 * `namespace/name` of the Machine an object of the controller belongs to: its ccts.io/machine
 * annotation (a documents Secret in another namespace), else its owner reference to a Machine.
 */
export function owningMachine(metadata: {
  namespace?: string;
  annotations?: Record<string, string>;
  ownerReferences?: { kind?: string; name: string }[];
}): string | undefined {
  const annotated = metadata.annotations?.[ANNOTATION_MACHINE];
  if (annotated) return annotated;
  const owner = metadata.ownerReferences?.[0];
  return owner?.kind === KIND_MACHINE
    ? namespacedKey(metadata.namespace ?? "default", owner.name)
    : undefined;
}
