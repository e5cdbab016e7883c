// Prometheus metrics of the HTTP app. Each app registers into its own Registry unless handed one;
// registering twice into the same Registry reuses the metrics already there.
import { Counter, collectDefaultMetrics, Histogram, type Metric, Registry } from "prom-client";

export interface AppMetrics {
  registry: Registry;
  requests: Counter<"route" | "status">;
  duration: Histogram<"route">;
  documents: Counter<"output">;
  unknownMac: Counter;
  /** Counts an answered request and its duration (per-label children kept: no label hashing per request). */
  answered(route: string, status: number, seconds: number): void;
  /** Counts a document answered with 200 or 304. */
  document(output: string): void;
}

/** The labelled child of a metric per label values, made once. */
function childrenOf<C>(make: (...values: string[]) => C): (...values: string[]) => C {
  const children = new Map<string, C>();
  return (...values) => {
    const key = values.join("\0");
    let child = children.get(key);
    if (!child) {
      child = make(...values);
      children.set(key, child);
    }
    return child;
  };
}

function reuse<T extends Metric>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export function createMetrics(registry: Registry = new Registry()): AppMetrics {
  if (!registry.getSingleMetric("process_cpu_user_seconds_total")) {
    collectDefaultMetrics({ register: registry });
  }
  const registers = [registry];
  const metrics = {
    registry,
    requests: reuse(
      registry,
      "ccts_http_requests_total",
      () =>
        new Counter({
          name: "ccts_http_requests_total",
          help: "HTTP requests answered, by route pattern and status code.",
          labelNames: ["route", "status"] as const,
          registers,
        }),
    ),
    duration: reuse(
      registry,
      "ccts_http_request_duration_seconds",
      () =>
        new Histogram({
          name: "ccts_http_request_duration_seconds",
          help: "Time from request to the end of the response, by route pattern.",
          labelNames: ["route"] as const,
          buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
          registers,
        }),
    ),
    documents: reuse(
      registry,
      "ccts_documents_served_total",
      () =>
        new Counter({
          name: "ccts_documents_served_total",
          help: "Boot documents answered with 200 or 304, by output name.",
          labelNames: ["output"] as const,
          registers,
        }),
    ),
    unknownMac: reuse(
      registry,
      "ccts_unknown_mac_total",
      () =>
        new Counter({
          name: "ccts_unknown_mac_total",
          help: "Requests with a well-formed MAC that no Machine has.",
          registers,
        }),
    ),
  };
  // Children by label values, bounded: routes are patterns, statuses and outputs few.
  const requests = childrenOf((route, status) => metrics.requests.labels(route!, status!));
  const duration = childrenOf((route) => metrics.duration.labels(route!));
  const documents = childrenOf((output) => metrics.documents.labels(output!));
  return {
    ...metrics,
    answered: (route, status, seconds) => {
      requests(route, String(status)).inc();
      duration(route).observe(seconds);
    },
    document: (output) => documents(output).inc(),
  };
}
