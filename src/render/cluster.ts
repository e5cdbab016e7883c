// Documents per ClusterDesc (not per Machine): the dnsmasq configuration of the provisioning
// network. Pure, like renderMachine: (ClusterDesc, its Machines, a template) -> document or failure.
import { machineMacs } from "../api/machine.js";
import type { ClusterDesc, Machine } from "../api/types.js";
import { clusterTemplateData, namespaceOf, ofCluster } from "./data.js";
import { renderText, TemplateError } from "./engine.js";
import { CONTENT_TYPES } from "./format.js";
import { contentHash } from "./render.js";
import { compareText, indexIn } from "./sorted.js";
import { makeStrict } from "./strict.js";
import { builtinDnsmasqTemplate } from "./templates.js";
import type { RenderedDocument, TemplateSource } from "./types.js";

export type ClusterRenderFailureReason =
  | "TemplateError"
  | "InvalidOutput"
  | "DuplicateIP"
  | "TemplateNotFound";

export interface ClusterRenderFailure {
  reason: ClusterRenderFailureReason;
  /** `namespace/name` of the ClusterDesc. */
  cluster: string;
  output?: string;
  origin?: string;
  /** 1-based line in the template (TemplateError) or in the output (InvalidOutput), when known. */
  line?: number;
  message: string;
}

export type ClusterRenderResult =
  | { ok: true; documents: RenderedDocument[]; hash: string }
  | { ok: false; failure: ClusterRenderFailure };

/**
 * A dnsmasq configuration line: blank, a comment, a bare option or `option=value`. Catches a
 * template that emits a stray line or a value starting with white space.
 */
const DNSMASQ_LINE = /^(|#.*|[a-z][a-z0-9-]*(=[^\s].*)?)$/;

/**
 * The dnsmasq configuration of one ClusterDesc: DHCP range and options, a `dhcp-host` reservation
 * per Machine (boot MAC, fixed IP, hostname), PXE/iPXE chaining to the ccts server, and DNS records.
 * `machines` may hold Machines of other ClusterDescs (they are skipped). Machines whose boot MAC is
 * claimed twice get no reservation (as they get no documents); two Machines with one IP fail it.
 * The template sees `cluster`, `etcd`, `masters`, `machines` (as in machine templates) and
 * `variables` (the ClusterDesc's); `template` defaults to the built-in one.
 */
export function renderDnsmasq(
  cluster: ClusterDesc,
  machines: readonly Machine[],
  template: TemplateSource = builtinDnsmasqTemplate(),
): ClusterRenderResult {
  const key = `${namespaceOf(cluster)}/${cluster.metadata.name}`;
  const fail = (f: Omit<ClusterRenderFailure, "cluster" | "output" | "origin">): ClusterRenderResult => ({
    ok: false,
    failure: { cluster: key, output: template.output, origin: template.origin, ...f },
  });
  const facts = clusterTemplateData(cluster, machines);
  // Duplicates found by sorting arrays rather than counting in Maps: a Map of 10,000 keys is a
  // large object that outlived the young collections the render itself causes (two of them:
  // 0.45 MiB more promoted per render, measured).
  const twice = claimedTwice(
    facts.machines.map((m) => m.mac),
    interfaceMacs(cluster, machines),
  );
  const served = twice.size === 0 ? facts.machines : facts.machines.filter((m) => !twice.has(m.mac));
  const byIp = served.filter((m) => m.ip).sort((a, b) => compareText(a.ip!, b.ip!));
  for (let i = 1; i < byIp.length; i++) {
    const other = byIp[i - 1]!;
    const m = byIp[i]!;
    if (other.ip === m.ip) {
      return fail({
        reason: "DuplicateIP",
        message: `ClusterDesc ${key}: machines ${other.namespace}/${other.name} and ${m.namespace}/${m.name} both have IP ${m.ip}`,
      });
    }
  }
  const data = makeStrict({ ...facts, machines: served, variables: facts.cluster.variables }, "");
  let content: string;
  try {
    content = renderText(template.text, data);
  } catch (err) {
    if (!(err instanceof TemplateError)) throw err;
    const at = err.line === undefined ? "" : ` line ${err.line}`;
    return fail({
      reason: "TemplateError",
      ...(err.line === undefined ? {} : { line: err.line }),
      message: `ClusterDesc ${key}: template ${template.output} (${template.origin})${at}: ${err.message}`,
    });
  }
  const lines = content.split("\n");
  const bad = lines.findIndex((l) => !DNSMASQ_LINE.test(l));
  if (bad >= 0) {
    return fail({
      reason: "InvalidOutput",
      line: bad + 1,
      message: `ClusterDesc ${key}: template ${template.output} (${template.origin}) output line ${bad + 1}: not a dnsmasq option line: ${JSON.stringify(lines[bad]!.slice(0, 80))}`,
    });
  }
  const documents: RenderedDocument[] = [
    { output: template.output, format: "text", contentType: CONTENT_TYPES.text, content },
  ];
  return { ok: true, documents, hash: contentHash(documents) };
}

/** The valid interface MACs of the cluster's Machines (an invalid one fails its own render). */
function interfaceMacs(cluster: ClusterDesc, machines: readonly Machine[]): string[] {
  const macs: string[] = [];
  for (const m of machines) {
    if (!ofCluster(m, cluster) || !m.spec.interfaces?.length) continue;
    try {
      // machineMacs: each of the Machine's MACs once, its boot MAC first.
      macs.push(...machineMacs(m).slice(1));
    } catch {
      // Reported on that Machine's own render.
    }
  }
  return macs;
}

/**
 * Boot MACs claimed more than once: by two Machines, or by one Machine's boot MAC and an
 * interface of another Machine. The same rule as the server's (a MAC on two Machines' ConfigMaps
 * is served to neither; a Machine repeating its own boot MAC on an interface is served).
 * Interface MACs claimed only by interfaces are not boot MACs and do not matter here.
 */
function claimedTwice(bootMacs: string[], interfaceMacs: string[]): Set<string> {
  const boot = bootMacs.sort(); // in place: the caller hands over an array of its own
  const twice = new Set<string>();
  for (let i = 1; i < boot.length; i++) if (boot[i] === boot[i - 1]) twice.add(boot[i]!);
  for (const mac of interfaceMacs) if (indexIn(boot, (b) => compareText(b, mac)) >= 0) twice.add(mac);
  return twice;
}
