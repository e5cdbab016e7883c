// The benchmark's table judges a ratio target from the figures it prints, not from the ratio
// rounded for display: 32,968 against 54,956 req/s is 0.59990x, shown as 0.6x, and misses 0.6x.
import { describe, expect, it } from "vitest";
import type { ClusterResult } from "../../bench/lib/cluster.ts";
import { targets } from "../../bench/lib/report.ts";
import type { ServingResult } from "../../bench/lib/serving.ts";

function serving(cctsRps: number, nginxRps: number): ServingResult {
  const load = (rps: number) => ({ rps, errors: 0, p50Ms: 1, p99Ms: 2, cpuUsPerRequest: 20 });
  return {
    mode: "cluster",
    machines: 10_000,
    connections: 50,
    ratio: Math.round((cctsRps / nginxRps) * 1000) / 1000,
    ccts: { best: load(cctsRps), at80: { ...load(cctsRps * 0.8), targetRps: cctsRps * 0.8 } },
    nginx: { best: load(nginxRps), at80: { ...load(nginxRps * 0.8), targetRps: nginxRps * 0.8 } },
    cpuPerRequest: { nginxUs: 15, cctsUs: 25, ratio: 0.6 },
    storm: { ccts: { errors: 0, p99Ms: 3 }, nginx: { errors: 0, p99Ms: 2 } },
  } as unknown as ServingResult;
}

const servingMet = (s: ServingResult) => targets(s, undefined)[0]!;

/**
 * The report's row whose figure starts with `figure`, for a cluster result with only `fields`
 * measured (the rest empty).
 */
function clusterRow(figure: string, fields: Record<string, unknown>) {
  return targets(undefined, {
    machines: 10_000,
    raw: {},
    fanout: {},
    noopResync: {},
    applyToServed: {},
    memory: { controller: {}, server: {}, serverJoining: {} },
    serving: serving(40_000, 60_000),
    ...fields,
  } as unknown as ClusterResult).find((t) => t.figure.startsWith(figure))!;
}

describe("benchmark targets", () => {
  it("a serving ratio shown as 0.6x but below it misses; at or above it is met", () => {
    const below = servingMet(serving(32_968, 54_956));
    expect(below.value).toContain("(0.6x nginx)");
    expect(below.met).toBe(false);
    expect(servingMet(serving(32_974, 54_956)).met).toBe(true);
    expect(servingMet(serving(30_000, 50_000)).met).toBe(true);
  });

  it("a fan-out ratio rounded up to 0.8x misses", () => {
    const cluster = (configMapsSeconds: number, rawPerSecond: number) =>
      ({
        machines: 10_000,
        writeConcurrency: 8,
        // Judged against both passes together, not the first alone (here much faster).
        raw: {
          updatePerSecond: rawPerSecond * 1.5,
          updateAfterPerSecond: rawPerSecond * 0.75,
          referencePerSecond: rawPerSecond,
        },
        fanout: {
          configMapsSeconds,
          servedSeconds: configMapsSeconds + 2,
          configMapWritesPerSecond: Math.round(10_000 / configMapsSeconds),
          ratioToRaw: Math.round((10_000 / configMapsSeconds / rawPerSecond) * 1000) / 1000,
        },
        noopResync: { totalWrites: 0, reconciles: 10_000 },
        applyToServed: { samples: 50, p50Ms: 40, p99Ms: 150, failures: 0 },
        memory: {
          controller: { peakRssMiB: 200 },
          server: { peakRssMiB: 120 },
          serverJoining: { peakRssMiB: 130, servedSeconds: 9 },
        },
        serving: serving(40_000, 60_000),
      }) as unknown as ClusterResult;
    const ratioRow = (c: ClusterResult) => targets(undefined, c).find((t) => t.target === ">= 0.8x raw")!;
    // 10,000 / 41.675 s = 239.95/s, 0.79981x of 300/s: printed as 0.8x.
    const below = ratioRow(cluster(41.675, 300));
    expect(below.value).toContain("(0.8x)");
    expect(below.met).toBe(false);
    expect(ratioRow(cluster(41.6, 300)).met).toBe(true);
  });

  it("the fan-out on separate cores is a diagnostic: its figures, or why it was skipped", () => {
    const row = (separateCores: unknown) => clusterRow("fan-out on separate cores", { separateCores });
    const measured = row({
      rawUpdatePerSecond: 153,
      rawUpdateAfterPerSecond: 165,
      referencePerSecond: 159,
      configMapsSeconds: 61,
      configMapWritesPerSecond: 164,
      ratioToRaw: 1.035,
    });
    expect(measured).toMatchObject({
      value: "164/s (1.035x), 61 s",
      reference: "raw 159/s (153/s before, 165/s after)",
      target: "(diagnostic)",
      met: undefined,
    });
    expect(row({ skipped: "1 CPU: nothing to separate" })).toMatchObject({
      value: "skipped: 1 CPU: nothing to separate",
      met: undefined,
    });
  });

  it("the fan-out against raw applies made as the controller makes them is a diagnostic", () => {
    const row = (asController: unknown) =>
      clusterRow("fan-out: writes/s vs raw applies as the controller makes them", {
        raw: { controlPlaneCpuMsPerWrite: 4.45, ...(asController ? { asController } : {}) },
        fanout: { configMapsSeconds: 32.62, configMapWritesPerSecond: 307, controlPlaneCpuMsPerWrite: 4.25 },
      });
    expect(row({ perSecond: 380, controlPlaneCpuMsPerWrite: 4.02 })).toMatchObject({
      // 10,000 / 32.62 s / 380/s
      value: "307/s (0.807x)",
      reference: "raw 380/s; kube-apiserver + etcd 4.02 ms per write (plain 4.45, fan-out 4.25)",
      target: "(diagnostic)",
      met: undefined,
    });
    expect(row(undefined)).toMatchObject({ value: "not measured", met: undefined });
  });

  it("a controller started again must write nothing, as a no-op resync", () => {
    const row = (restartPass: unknown) => clusterRow("a controller started again", { restartPass });
    const pass = { machines: 10_050, seconds: 41.2, renders: 10_050, writes: {}, totalWrites: 0 };
    expect(row(pass)).toMatchObject({
      figure:
        "a controller started again: writes in its first pass (10050 Machines, 10050 rendered, 41.2 s from its start)",
      value: "0",
      met: true,
    });
    // Before 2026-12-03: a status patch per Machine.
    expect(row({ ...pass, writes: { status: 10_050 }, totalWrites: 10_050 })).toMatchObject({
      value: "10050",
      met: false,
    });
    expect(row(undefined)).toMatchObject({ value: "not measured", met: undefined });
  });

  it("a peak RSS is shown to 0.1 MB and judged unrounded: 249.8 MB meets < 250 MB", () => {
    const memory = (controller: number, server: number, joining: number) => ({
      memory: {
        controller: { peakRssMiB: controller },
        server: { peakRssMiB: server },
        serverJoining: { peakRssMiB: joining, servedSeconds: 9 },
      },
    });
    // 238.2 MiB is 249.77 MB: printed as "250 MB" and MISSED until 2026-12-03 16:58.
    expect(clusterRow("controller peak RSS", memory(238.2, 120, 130))).toMatchObject({
      value: "249.8 MB",
      met: true,
    });
    expect(clusterRow("controller peak RSS", memory(238.5, 120, 130))).toMatchObject({
      value: "250.1 MB",
      met: false,
    });
    // 142.8 MiB is 149.74 MB, 143.1 MiB 150.05 MB.
    expect(clusterRow("server peak RSS, joining", memory(200, 120, 142.8)).met).toBe(true);
    expect(clusterRow("server peak RSS, joining", memory(200, 120, 143.1)).met).toBe(false);
  });
});
