// Flags that `serve` (embedded) and `server` (cluster mode) share: where to listen, what to serve
// besides documents, and how the HTTP app protects itself.
import { resolve } from "node:path";
import { type AppDeps, BOOT_RETRY, type BootRetry } from "../server/app.js";
import { durationMs, port, UsageError } from "./usage.js";

export const HTTP_FLAGS = {
  port: { type: "string" },
  host: { type: "string", default: "0.0.0.0" },
  assets: { type: "string" },
  "authorize-by-address": { type: "boolean", default: false },
  "trusted-proxies": { type: "string" },
  "rate-limit": { type: "string" },
  "rate-burst": { type: "string", default: "100" },
  // /boot.ipxe's own defaults (the commands that take these flags load the app anyway).
  "boot-retry-every": { type: "string", default: `${BOOT_RETRY.seconds}s` },
  "boot-retry-tries": { type: "string", default: String(BOOT_RETRY.tries) },
} as const;

interface HttpFlagValues {
  port?: string;
  host?: string;
  assets?: string;
  "authorize-by-address"?: boolean;
  "trusted-proxies"?: string;
  "rate-limit"?: string;
  "rate-burst"?: string;
  "boot-retry-every"?: string;
  "boot-retry-tries"?: string;
}

function count(value: string | undefined, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new UsageError(`${flag} must be a whole number >= 0, got ${value}`);
  return n;
}

/** /boot.ipxe's retries: whole seconds (iPXE's sleep), at least one try. */
function bootRetry(values: HttpFlagValues): BootRetry {
  const every = values["boot-retry-every"] ?? HTTP_FLAGS["boot-retry-every"].default;
  const ms = durationMs(every);
  if (ms < 1000 || ms % 1000 !== 0)
    throw new UsageError(`--boot-retry-every must be whole seconds, at least 1s, got ${every}`);
  const tries = count(
    values["boot-retry-tries"] ?? HTTP_FLAGS["boot-retry-tries"].default,
    "--boot-retry-tries",
  );
  if (tries < 1) throw new UsageError("--boot-retry-tries must be at least 1 (1: no retry)");
  return { seconds: ms / 1000, tries };
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
  app: Pick<AppDeps, "assetsDir" | "authorizeByAddress" | "trustProxy" | "rateLimit" | "bootRetry">;
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
      bootRetry: bootRetry(values),
    },
  };
}
