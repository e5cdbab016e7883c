// MAC labels on rendered ConfigMaps: the controller writes them, the server indexes by them.
import { LABEL_MAC_PREFIX } from "./constants.js";
import { tryParseMac } from "./mac.js";

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
