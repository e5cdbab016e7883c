// `node bench/tools/controller-core.ts [MACHINES] [PASSES] [OUT.cpuprofile]`: the controller's CPU
// per fan-out reconcile without an API server, and optionally a CPU profile of it. The reconciles
// run on in-memory ports (informer caches, the API's writes) with the controller's own write
// memory, render memo and certificates in front, as ControllerRuntime wires them; each pass edits
// the ClusterDesc's SSH key, so every Machine renders and writes its ConfigMap. A full benchmark
// cannot tell a few percent of the controller's CPU from the host's noise; one process doing only
// this, profiled, can say where the CPU of a render goes (bench/README.md, 2026-12-03 14:00).
// Run `npm run build` first: it loads the compiled controller (dist/).
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { ClusterDesc, Machine } from "../../src/api/types.ts";
import type * as CertificatesModule from "../../src/controller/certificates.ts";
import type { SecretObject } from "../../src/controller/certificates.ts";
import type * as ReconcileModule from "../../src/controller/reconcile.ts";
import type { ClusterState, ClusterWrites } from "../../src/controller/reconcile.ts";
import type * as RenderMemoModule from "../../src/controller/render-memo.ts";
import type { ConfigMapObject } from "../../src/controller/rendered-configmap.ts";
import type * as WriteMemoryModule from "../../src/controller/write-memory.ts";
import { clusterDesc, machine } from "../lib/generate.ts";
import { ROOT } from "../lib/procs.ts";

const load = async <T>(path: string) => (await import(pathToFileURL(join(ROOT, "dist", path)).href)) as T;
const { reconcileMachine } = await load<typeof ReconcileModule>("controller/reconcile.js");
const { ClusterPKI } = await load<typeof CertificatesModule>("controller/certificates.js");
const { WriteMemory } = await load<typeof WriteMemoryModule>("controller/write-memory.js");
const { RenderMemo } = await load<typeof RenderMemoModule>("controller/render-memo.js");

const [machinesArg = "2000", passesArg = "12", profileOut] = process.argv.slice(2);
const count = Number(machinesArg);
const passes = Number(passesArg);
if (!(count > 0 && passes > 0)) {
  process.stderr.write("usage: node bench/tools/controller-core.ts [MACHINES] [PASSES] [OUT.cpuprofile]\n");
  process.exit(2);
}

const NS = "core";
let version = 0;
const nextVersion = () => String(++version);

const machines = new Map<string, Machine>();
for (let i = 0; i < count; i++) {
  const m = machine(NS, i) as unknown as Machine;
  m.metadata = { ...m.metadata, resourceVersion: nextVersion(), generation: 1, uid: `uid-${i}` };
  machines.set(m.metadata.name, m);
}
const members = [...machines.values()];
const claimants = new Map(members.map((m) => [m.spec.mac!, [`${NS}/${m.metadata.name}`]]));
let cluster!: ClusterDesc;
/** The ClusterDesc as an informer would hold it after an edit of its SSH key: a new object. */
const editKey = (key: string) => {
  cluster = clusterDesc(NS, key) as unknown as ClusterDesc;
  cluster.metadata = { ...cluster.metadata, resourceVersion: nextVersion(), generation: version, uid: "c" };
};
editKey("ops@core");

const secrets = new Map<string, SecretObject>();
const configMaps = new Map<string, ConfigMapObject>();
const at = (namespace: string, name: string) => `${namespace}/${name}`;
const state: ClusterState = {
  secret: (ns, name) => secrets.get(at(ns, name)),
  machine: (_ns, name) => machines.get(name),
  cluster: () => cluster,
  configMap: (ns, name) => configMaps.get(at(ns, name)),
  members: () => members,
  claimants: (mac) => claimants.get(mac) ?? [],
};
const storeSecret = async (secret: SecretObject) => {
  const resourceVersion = nextVersion();
  secrets.set(at(NS, secret.metadata.name), { ...secret, metadata: { ...secret.metadata, resourceVersion } });
  return resourceVersion;
};
// The API's answers, and the informers at once: ConfigMaps as the controller caches them
// (metadata, its documents known to be what it wrote), statuses on a new Machine version.
const api: ClusterWrites = {
  applyConfigMap: async (cm) => {
    const resourceVersion = nextVersion();
    configMaps.set(at(NS, cm.metadata.name), {
      ...cm,
      metadata: { ...cm.metadata, resourceVersion },
      data: undefined,
      dataUntouched: true,
    });
    return resourceVersion;
  },
  patchMachineStatus: async (m, status) => {
    const resourceVersion = nextVersion();
    machines.set(m.metadata.name, { ...m, status, metadata: { ...m.metadata, resourceVersion } });
    return { resourceVersion, generation: m.metadata.generation };
  },
  applySecret: storeSecret,
  deleteSecret: async () => {},
  event: async () => {},
};
const deps = {
  state,
  writes: new WriteMemory(api),
  now: () => new Date(),
  pki: new ClusterPKI({
    cached: (ns, name) => secrets.get(at(ns, name)),
    get: async (ns, name) => secrets.get(at(ns, name)),
    create: async (secret) => {
      await storeSecret(secret);
      return "created";
    },
    apply: storeSecret,
  }),
  memo: new RenderMemo(),
};

/** One reconcile per Machine, one at a time; resolves to the ConfigMaps written. */
const pass = async () => {
  let written = 0;
  for (const m of members) if ((await reconcileMachine(deps, NS, m.metadata.name))?.wroteConfigMap) written++;
  return written;
};

// The first pass issues the certificates; the second finds them in the cache (as a fan-out does).
await pass();
await pass();
// An inspector session only when a profile is asked for, kept with the file it goes to.
const profiling = profileOut ? { session: new Session(), out: profileOut } : undefined;
if (profiling) {
  const { session } = profiling;
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
}
const perReconcileMs: number[] = [];
for (let p = 0; p < passes; p++) {
  editKey(`ops@pass${p}`);
  const before = process.cpuUsage();
  const written = await pass();
  const used = process.cpuUsage(before);
  if (written !== count) throw new Error(`pass ${p}: ${written} of ${count} ConfigMaps written`);
  perReconcileMs.push((used.user + used.system) / 1000 / count);
}
if (profiling) {
  const { session, out } = profiling;
  const { profile } = await session.post("Profiler.stop");
  writeFileSync(out, JSON.stringify(profile));
  session.disconnect();
}
const sorted = [...perReconcileMs].sort((a, b) => a - b);
const fixed = (x: number) => x.toFixed(3);
process.stdout.write(
  `controller core, ${count} Machines, ${passes} fan-out passes: CPU per reconcile median ${fixed(sorted[sorted.length >> 1]!)} ms, min ${fixed(sorted[0]!)}, max ${fixed(sorted.at(-1)!)}${profileOut ? `; profile ${profileOut}` : ""}\n`,
);
