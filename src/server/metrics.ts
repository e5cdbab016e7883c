// Prometheus metrics of the HTTP app. Each app registers into its own Registry unless handed one;
// registering twice into the same Registry reuses the metrics already there.
import { Counter, collectDefaultMetrics, Registry } from "prom-client";
import { TallyCounter, TallyHistogram } from "./tally-metrics.js";

export interface AppMetrics {
  registry: Registry;
  requests: TallyCounter<"route" | "status">;
  duration: TallyHistogram<"route">;
  documents: TallyCounter<"output">;
  unknownMac: Counter;
  /** Counts an answered request and its duration (per-label children kept: no label work per request). */
  answered(route: string, status: number, seconds: number): void;
  /** Counts a document answered with 200 or 304. */
  document(output: string): void;
}

/** The metric of that name already in the registry (a second app sharing it), else a new one. */
function reuse<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export function createMetrics(registry: Registry = new Registry()): AppMetrics {
  if (!registry.getSingleMetric("process_cpu_user_seconds_total")) {
    collectDefaultMetrics({ register: registry });
  }
  const metrics = {
    registry,
    // The per-request ones are tallies (tally-metrics.ts): prom-client's label handling per call
    // cost more than the rest of a document answer.
    requests: reuse(registry, "ccts_http_requests_total", () =>
      new TallyCounter(
        "ccts_http_requests_total",
        "HTTP requests answered, by route pattern and status code.",
        ["route", "status"] as const,
      ).register(registry),
    ),
    duration: reuse(registry, "ccts_http_request_duration_seconds", () =>
      new TallyHistogram(
        "ccts_http_request_duration_seconds",
        "Time from request to the end of the response, by route pattern.",
        "route",
        [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      ).register(registry),
    ),
    documents: reuse(registry, "ccts_documents_served_total", () =>
      new TallyCounter(
        "ccts_documents_served_total",
        "Boot documents answered with 200 or 304, by output name.",
        ["output"] as const,
      ).register(registry),
    ),
    unknownMac: reuse(
      registry,
      "ccts_unknown_mac_total",
      () =>
        new Counter({
          name: "ccts_unknown_mac_total",
          help: "Requests with a well-formed MAC that no Machine has.",
          registers: [registry],
        }),
    ),
  };
  // Children by label values, bounded: routes are patterns, statuses and outputs few. Per route
  // one entry, per status one function: two Map lookups per request, nothing allocated.
  const byRoute = new Map<
    string,
    { observe: (seconds: number) => void; byStatus: Map<number, () => void> }
  >();
  const documents = new Map<string, () => void>();
  return {
    ...metrics,
    answered: (route, status, seconds) => {
      let r = byRoute.get(route);
      if (r === undefined) {
        r = { observe: metrics.duration.child(route), byStatus: new Map() };
        byRoute.set(route, r);
      }
      let count = r.byStatus.get(status);
      if (count === undefined) {
        count = metrics.requests.child(route, String(status));
        r.byStatus.set(status, count);
      }
      count();
      r.observe(seconds);
    },
    document: (output) => {
      let count = documents.get(output);
      if (count === undefined) {
        count = metrics.documents.child(output);
        documents.set(output, count);
      }
      count();
    },
  };
}
