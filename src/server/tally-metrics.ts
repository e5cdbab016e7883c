// Counters and a histogram for the per-request metrics, counted in plain numbers and handed to
// prom-client's Registry only when it is scraped. prom-client's own Counter and Histogram check,
// copy and hash the label values on every inc/observe, also through a labels() child: with the
// socket front that was ~15-20% of the server's CPU per request (bench/README.md). The text a
// scrape gets is the text prom-client's Counter and Histogram give for the same observations
// (test/server/tally-metrics.test.ts compares them).
import type { Metric, Registry } from "prom-client";

/** What a Registry asks of a metric when it is scraped (prom-client's MetricObjectWithValues). */
interface Exposition {
  name: string;
  help: string;
  type: "counter" | "histogram";
  aggregator: "sum";
  values: { labels: Record<string, string | number>; value: number; metricName?: string }[];
}

abstract class TallyMetric {
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  /** The series counted since the start or the last reset (prom-client keeps no others). */
  abstract get(): Promise<Exposition>;
  /**
   * Zeroes every series (Registry.resetMetrics): like prom-client's, a scrape then shows none of
   * them until it counts again; the children handed out keep counting into them.
   */
  abstract reset(): void;
  /** Registers with the registry, as prom-client's metrics do with `registers: [registry]`. */
  register(registry: Registry): this {
    registry.registerMetric(this as unknown as Metric);
    return this;
  }
}

/** A counter with fixed label names; each distinct label-value tuple is one series. */
export class TallyCounter<L extends string> extends TallyMetric {
  private readonly series = new Map<string, { labels: Record<L, string>; value: number }>();

  constructor(
    name: string,
    help: string,
    private readonly labelNames: readonly L[],
  ) {
    super(name, help);
  }

  /** A function that adds 1 to the series of these label values (looked up once, here). */
  child(...values: string[]): () => void {
    const key = values.join("\0");
    let series = this.series.get(key);
    if (series === undefined) {
      const labels = Object.fromEntries(this.labelNames.map((n, i) => [n, values[i] ?? ""])) as Record<
        L,
        string
      >;
      series = { labels, value: 0 };
      this.series.set(key, series);
    }
    const s = series;
    return () => {
      s.value++;
    };
  }

  async get(): Promise<Exposition> {
    return {
      name: this.name,
      help: this.help,
      type: "counter",
      aggregator: "sum",
      values: [...this.series.values()]
        .filter((s) => s.value > 0)
        .map((s) => ({ labels: { ...s.labels }, value: s.value })),
    };
  }

  reset(): void {
    for (const s of this.series.values()) s.value = 0;
  }
}

/** A histogram with one label; buckets are upper bounds in ascending order (+Inf added). */
export class TallyHistogram<L extends string> extends TallyMetric {
  private readonly series = new Map<string, { counts: Float64Array; sum: number; count: number }>();

  constructor(
    name: string,
    help: string,
    private readonly labelName: L,
    private readonly buckets: readonly number[],
  ) {
    super(name, help);
  }

  /** A function that records one observation in the series of this label value. */
  child(value: string): (observed: number) => void {
    let series = this.series.get(value);
    if (series === undefined) {
      series = { counts: new Float64Array(this.buckets.length), sum: 0, count: 0 };
      this.series.set(value, series);
    }
    const s = series;
    const { buckets } = this;
    return (observed) => {
      // Counts per bucket, not cumulative: exposition adds them up.
      for (let i = 0; i < buckets.length; i++) {
        if (observed <= buckets[i]!) {
          s.counts[i]!++;
          break;
        }
      }
      s.sum += observed;
      s.count++;
    };
  }

  async get(): Promise<Exposition> {
    const values: Exposition["values"] = [];
    for (const [label, s] of this.series) {
      if (s.count === 0) continue;
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += s.counts[i]!;
        values.push({
          labels: { le, [this.labelName]: label },
          value: cumulative,
          metricName: `${this.name}_bucket`,
        });
      });
      values.push({
        labels: { le: "+Inf", [this.labelName]: label },
        value: s.count,
        metricName: `${this.name}_bucket`,
      });
      values.push({ labels: { [this.labelName]: label }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { [this.labelName]: label }, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: "histogram", aggregator: "sum", values };
  }

  reset(): void {
    for (const s of this.series.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}
