// A per-client token bucket: each client address may make `burst` requests at once and
// `perSecond` more every second. A boot storm of thousands of machines is thousands of clients,
// each far below its own limit; one client hammering the server gets 429s. Behind a proxy the
// client address is the one the trusted proxy reports (Fastify trustProxy), not the proxy's.

export interface RateLimitOptions {
  /** Sustained requests per second per client address; 0 disables the limit. */
  perSecond: number;
  /** Requests a client may make at once. */
  burst: number;
  /** Clients remembered at most; the least recently seen are forgotten first. */
  maxClients?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxClients: number;

  constructor(
    private readonly options: RateLimitOptions,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.maxClients = options.maxClients ?? 100_000;
  }

  /** Takes one token for `client`; false when its bucket is empty. */
  take(client: string): boolean {
    const { perSecond, burst } = this.options;
    if (perSecond <= 0) return true;
    const now = this.now();
    let bucket = this.buckets.get(client);
    if (bucket) {
      // Re-insert so the Map's order stays least-recently-seen first.
      this.buckets.delete(client);
      bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
      bucket.at = now;
    } else {
      bucket = { tokens: burst, at: now };
      if (this.buckets.size >= this.maxClients) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
    }
    this.buckets.set(client, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Seconds until `client` has a token again (for Retry-After). */
  retryAfter(client: string): number {
    const bucket = this.buckets.get(client);
    if (!bucket || this.options.perSecond <= 0) return 0;
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.options.perSecond));
  }

  get clients(): number {
    return this.buckets.size;
  }
}
