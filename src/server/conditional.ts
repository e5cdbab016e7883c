// Conditional requests (RFC 9110 13.1.2): every route with an ETag answers If-None-Match alike.

/**
 * If-None-Match against a strong ETag, with the weak comparison RFC 9110 prescribes for it. `*`
 * counts only alone, as the RFC's grammar allows it.
 */
export function notModified(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  if (ifNoneMatch.trim() === "*") return true;
  for (const part of ifNoneMatch.split(",")) {
    const tag = part.trim();
    if (tag === etag || (tag.startsWith("W/") && tag.slice(2) === etag)) return true;
  }
  return false;
}
