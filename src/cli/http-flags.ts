// Flags that `serve` (embedded) and `server` (cluster mode) share: where to listen, what to serve
// besides documents, and how the HTTP app protects itself.
import { resolve } from "node:path";
import type { AppDeps } from "../server/app.js";
import { port, UsageError } from "./usage.js";

export const HTTP_FLAGS = {
  port: { type: "string" },
  host: { type: "string", default: "0.0.0.0" },
  assets: { type: "string" },
  "authorize-by-address": { type: "boolean", default: false },
  "trusted-proxies": { type: "string" },
  "rate-limit": { type: "string" },
  "rate-burst": { type: "string", default: "100" },
} as const;

interface HttpFlagValues {
  port?: string;
  host?: string;
  assets?: string;
  "authorize-by-address"?: boolean;
  "trusted-proxies"?: string;
  "rate-limit"?: string;
  "rate-burst"?: string;
}

function count(value: string | undefined, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new UsageError(`${flag} must be a whole number >= 0, got ${value}`);
  return n;
}

/**
 * The listen address and the AppDeps that come from the command line. `defaultRateLimit` is the
 * command's own: `serve` runs on a host and sees each machine's address (20/s); `server` runs
 * behind a Service or a proxy, which may show it a node or the proxy for every machine (0: off).
 */
export function httpSettings(
  values: HttpFlagValues,
  defaultRateLimit: number,
): {
  listen: { port: number; host: string };
  app: Pick<AppDeps, "assetsDir" | "authorizeByAddress" | "trustProxy" | "rateLimit">;
} {
  const trusted = values["trusted-proxies"]
    ?.split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return {
    listen: { port: port(values.port, 8080), host: values.host ?? "0.0.0.0" },
    app: {
      assetsDir: values.assets ? resolve(values.assets) : undefined,
      authorizeByAddress: values["authorize-by-address"] ?? false,
      trustProxy: trusted && trusted.length > 0 ? trusted : false,
      rateLimit: {
        perSecond: count(values["rate-limit"] ?? String(defaultRateLimit), "--rate-limit"),
        burst: Math.max(1, count(values["rate-burst"], "--rate-burst")),
      },
    },
  };
}
