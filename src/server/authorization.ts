// Opt-in per-machine fetch authorization: a machine's documents go only to a request whose client
// address is one the Machine declares (spec.ip, spec.interfaces[].ip). The client address is the
// socket's peer, or, from a trusted proxy, the address that proxy reports in X-Forwarded-For
// (Fastify's trustProxy decides which proxies are trusted; others' headers are ignored).

/** `::ffff:10.0.0.5` (an IPv4 client on a dual-stack socket) is `10.0.0.5`. */
export function normalizeAddress(address: string): string {
  const lower = address.toLowerCase();
  return lower.startsWith("::ffff:") && lower.includes(".") ? lower.slice("::ffff:".length) : lower;
}

export function addressAllowed(client: string, declared: readonly string[] | undefined): boolean {
  if (!declared || declared.length === 0) return false;
  const c = normalizeAddress(client);
  return declared.some((a) => normalizeAddress(a) === c);
}
