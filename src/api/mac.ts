// The one MAC parser. Accepts what the legacy server accepted through Go's net.ParseMAC
// (colon, hyphen and Cisco dot notation; 6-, 8- and 20-byte addresses), plus bare hex digits
// (`aabbccddeeff`) and URL-encoded colons (`%3A`, as iPXE sends `${net0/mac}` in a query).
// Canonical form: lower case hex pairs joined by colons.

/** Byte lengths Go's net.ParseMAC accepts: EUI-48, EUI-64 and 20-byte IP over InfiniBand. */
const VALID_LENGTHS = new Set([6, 8, 20]);
/**
 * The longest accepted form: a 20-byte address with URL-encoded colons (iPXE's `${net0/mac}` of an
 * InfiniBand port, sent in a query), 40 hex digits and 19 `%3A`. Longer input is refused unread.
 */
const MAX_INPUT = 20 * 2 + 19 * "%3A".length;
/** How much of a refused input an error message repeats. */
const SHOWN_INPUT = 64;

export class MacError extends Error {
  constructor(
    readonly input: string,
    reason: string,
  ) {
    super(
      `invalid MAC address ${JSON.stringify(input.length > SHOWN_INPUT ? `${input.slice(0, SHOWN_INPUT)}…` : input)}: ${reason}`,
    );
    this.name = "MacError";
  }
}

const HEX_PAIR = /^[0-9a-fA-F]{2}$/;
const HEX_QUAD = /^[0-9a-fA-F]{4}$/;
const HEX_ONLY = /^[0-9a-fA-F]+$/;

function splitPairs(hex: string): string[] {
  const pairs: string[] = [];
  for (let i = 0; i < hex.length; i += 2) pairs.push(hex.slice(i, i + 2));
  return pairs;
}

function bytesFrom(input: string): string[] {
  if (input.length > MAX_INPUT) throw new MacError(input, "too long");
  const s = input.replace(/%3a/gi, ":");
  if (s.includes(":") || s.includes("-")) {
    const sep = s.includes(":") ? ":" : "-";
    const groups = s.split(sep);
    if (!groups.every((g) => HEX_PAIR.test(g))) {
      throw new MacError(input, `expected two hex digits between each "${sep}"`);
    }
    return groups;
  }
  if (s.includes(".")) {
    const groups = s.split(".");
    if (!groups.every((g) => HEX_QUAD.test(g))) {
      throw new MacError(input, 'expected four hex digits between each "."');
    }
    return groups.flatMap(splitPairs);
  }
  if (HEX_ONLY.test(s) && s.length % 2 === 0) return splitPairs(s);
  throw new MacError(input, "expected aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff, aabb.ccdd.eeff or aabbccddeeff");
}

/** A 6-byte MAC already in canonical form: the common case (iPXE, cloud-init, the bench), no work. */
const CANONICAL_EUI48 = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/;

/** Parses any accepted notation; returns the canonical form or throws MacError. */
export function parseMac(input: string): string {
  if (CANONICAL_EUI48.test(input)) return input;
  const bytes = bytesFrom(input);
  if (!VALID_LENGTHS.has(bytes.length)) {
    throw new MacError(input, `${bytes.length} bytes; a MAC has 6 (or 8 or 20 for EUI-64 and InfiniBand)`);
  }
  return bytes.join(":").toLowerCase();
}

/** Like parseMac, but returns undefined for anything that is not a MAC. */
export function tryParseMac(input: string): string | undefined {
  try {
    return parseMac(input);
  } catch {
    return undefined;
  }
}

/** The legacy default hostname: the canonical MAC with hyphens (`00-25-90-c0-f7-80`). */
export function macHostname(canonicalMac: string): string {
  return canonicalMac.replaceAll(":", "-");
}
