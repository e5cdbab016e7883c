// Which ccts this is: the version in its package.json (beside dist/ in the repo and in the image),
// for `ccts version`, the start-up log line and the ccts_build_info metric.
import { readFileSync } from "node:fs";
import { Gauge, type Registry } from "prom-client";

export const VERSION: string = (
  JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
).version;

/** `ccts_build_info{version="..."} 1`, the Prometheus convention for telling builds apart in scrapes. */
export function registerBuildInfo(registry: Registry): void {
  new Gauge({
    name: "ccts_build_info",
    help: "Always 1; the version label names the running ccts (Node's version is nodejs_version_info).",
    labelNames: ["version"],
    registers: [registry],
  }).set({ version: VERSION }, 1);
}
