// The tallies give a scrape the text prom-client's own Counter and Histogram give for the same
// observations (the same registry formatting, so Prometheus cannot tell them apart).
import { Counter, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { TallyCounter, TallyHistogram } from "../../src/server/tally-metrics.js";

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const OBSERVED = [0, 0.0004, 0.0005, 0.0007, 0.003, 0.02, 0.2, 0.9, 4, 29.9, 30, 31, 1e6];

describe("tally metrics", () => {
  it("expose what prom-client's Counter and Histogram expose", async () => {
    const theirs = new Registry();
    const counter = new Counter({
      name: "c_total",
      help: "c.",
      labelNames: ["route", "status"],
      registers: [theirs],
    });
    const histogram = new Histogram({
      name: "h_seconds",
      help: "h.",
      labelNames: ["route"],
      buckets: BUCKETS,
      registers: [theirs],
    });
    const ours = new Registry();
    const tallyCounter = new TallyCounter("c_total", "c.", ["route", "status"] as const).register(ours);
    const tallyHistogram = new TallyHistogram("h_seconds", "h.", "route", BUCKETS).register(ours);

    const requests: [route: string, status: string, seconds: number][] = OBSERVED.map((s, i) => [
      i % 3 === 0 ? "/ipxe" : '/cloud-config/:mac"\\\n',
      i % 4 === 0 ? "304" : "200",
      s,
    ]);
    for (const [route, status, seconds] of requests) {
      counter.labels(route, status).inc();
      histogram.labels(route).observe(seconds);
      tallyCounter.child(route, status)();
      tallyHistogram.child(route)(seconds);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    // And after more of them (the children made before keep counting).
    counter.labels("/ipxe", "200").inc();
    tallyCounter.child("/ipxe", "200")();
    histogram.labels("/ipxe").observe(0.002);
    const observeIpxe = tallyHistogram.child("/ipxe");
    observeIpxe(0.002);
    expect(await ours.metrics()).toBe(await theirs.metrics());
    // A child made and not yet counted with is no series yet, in either.
    counter.labels("/unused", "200");
    tallyCounter.child("/unused", "200");
    histogram.labels("/unused");
    tallyHistogram.child("/unused");
    expect(await ours.metrics()).toBe(await theirs.metrics());
    // Registry.resetMetrics() zeroes both alike; children made before count on from zero.
    theirs.resetMetrics();
    ours.resetMetrics();
    expect(await ours.metrics()).toBe(await theirs.metrics());
    histogram.labels("/ipxe").observe(0.7);
    observeIpxe(0.7);
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });
});
