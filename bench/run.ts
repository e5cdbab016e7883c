// `npm run bench [-- --quick] [-- --only serving|cluster] [-- --out DIR]`: the ccts benchmarks,
// each against a reference measured in the same run (nginx for serving, raw API writes for the
// fan-out). Prints a table and writes bench/results/latest.json (or DIR/latest.json). See
// bench/README.md.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { type ClusterConfig, type ClusterResult, clusterBench } from "./lib/cluster.ts";
import { ROOT } from "./lib/procs.ts";
import { renderTable, targets } from "./lib/report.ts";
import { type ServingConfig, type ServingResult, servingBench } from "./lib/serving.ts";
import { machineInfo, round } from "./lib/util.ts";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    keep: { type: "boolean", default: false },
    out: { type: "string" },
  },
});
const quick = values.quick ?? false;
const only = values.only;
if (only !== undefined && only !== "serving" && only !== "cluster") {
  process.stderr.write("--only takes serving or cluster\n");
  process.exit(2);
}

const serving: ServingConfig = quick
  ? {
      machines: 1000,
      connections: 50,
      seconds: 3,
      warmupSeconds: 1,
      rounds: 1,
      stormRequests: 500,
      stormWindowMs: 1000,
      restartedRuns: false,
    }
  : {
      machines: 10_000,
      connections: 50,
      seconds: 10,
      warmupSeconds: 3,
      rounds: 2,
      stormRequests: 5000,
      stormWindowMs: 10_000,
      restartedRuns: true,
    };
const cluster: ClusterConfig = quick
  ? { machines: 500, writeConcurrency: 8, applySamples: 10, resync: "10s", serving }
  : { machines: 10_000, writeConcurrency: 8, applySamples: 50, resync: "60s", serving };

// Every section is bounded; this is the last resort for the whole run.
const limitMinutes = quick ? 10 : 40;
const watchdog = setTimeout(() => {
  process.stderr.write(`bench: still running after ${limitMinutes} minutes; giving up\n`);
  process.exit(3);
}, limitMinutes * 60_000);
watchdog.unref();

const started = Date.now();
const say = (s: string) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${s}\n`);
const machine = machineInfo();
const tmp = mkdtempSync(join(tmpdir(), "ccts-bench-"));
const resultsDir = values.out ? resolve(values.out) : join(ROOT, "bench", "results");
const logDir = join(resultsDir, "logs");
rmSync(logDir, { recursive: true, force: true });
mkdirSync(logDir, { recursive: true });
say(`machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}`);
say(`mode: ${quick ? "quick" : "full"}; temp dir ${tmp}; logs in ${logDir}`);

let servingResult: ServingResult | undefined;
let clusterResult: ClusterResult | undefined;
let failure: string | undefined;
try {
  if (only !== "cluster") servingResult = await servingBench(serving, join(tmp, "serving"), logDir, say);
  if (only !== "serving") clusterResult = await clusterBench(cluster, join(tmp, "cluster"), logDir, say);
} catch (e) {
  failure = (e as Error).stack ?? String(e);
  say(`FAILED: ${failure}`);
} finally {
  if (!values.keep) rmSync(tmp, { recursive: true, force: true });
}

const result = {
  mode: quick ? "quick" : "full",
  ...(only ? { only } : {}),
  startedAt: new Date(started).toISOString(),
  runSeconds: round((Date.now() - started) / 1000, 1),
  machine: { ...machine, loadavgAtEnd: loadavg().map((x) => round(x)) },
  config: { serving, cluster },
  serving: servingResult,
  cluster: clusterResult,
  targets: targets(servingResult, clusterResult),
  ...(failure ? { failure } : {}),
};
mkdirSync(resultsDir, { recursive: true });
const json = `${JSON.stringify(result, null, 2)}\n`;
writeFileSync(join(resultsDir, "latest.json"), json);
// A run of one section keeps the whole run's files: full.json, full-cluster.json, quick-serving.json.
const name = only ? `${result.mode}-${only}` : result.mode;
writeFileSync(join(resultsDir, `${name}.json`), json);
const table = renderTable(result);
writeFileSync(join(resultsDir, `${name}.md`), table);
process.stdout.write(table);
say(`wrote ${join(resultsDir, "latest.json")}`);
process.exit(failure ? 1 : 0);
