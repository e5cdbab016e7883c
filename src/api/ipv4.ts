// Dotted IPv4 addresses as numbers, for ordering and masks. Pure; the render helpers and the
// embedded checks of the CRDs' dhcpRange rule both use it.

/** A dotted quad as a 32-bit number, or undefined when it is not one (four 0-255 parts). */
export function dottedToNumber(ip: string): number | undefined {
  const parts = ip.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}
