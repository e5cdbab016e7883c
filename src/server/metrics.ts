// Prometheus metrics of the HTTP app. Each app registers into its own Registry unless handed one;
// registering twice into the same Registry reuses the metrics already there.
import { Counter, collectDefaultMetrics, Histogram, type Metric, Registry } from "prom-client";

export interface AppMetrics {
  registry: Registry;
  requests: Counter<"route" | "status">;
  duration: Histogram<"route">;
  documents: Counter<"output">;
  unknownMac: Counter;
}

function reuse<T extends Metric>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export function createMetrics(registry: Registry = new Registry()): AppMetrics {
  if (!registry.getSingleMetric("process_cpu_user_seconds_total")) {
    collectDefaultMetrics({ register: registry });
  }
  const registers = [registry];
  return {
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
}
