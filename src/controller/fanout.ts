// Which Machines to re-reconcile when something they depend on changes. Pure; the k8s wiring
// calls these from informer events and puts the returned keys on the work queue.
import { machineMacs, objectKey } from "../api/machine.js";
import type { ClusterDesc, Machine } from "../api/types.js";
import { namesMachineList, templateConfigMapNames } from "../render/index.js";
import { clusterDocumentsKey } from "./cluster-documents.js";

export interface FanoutIndex {
  members(namespace: string, cluster: string): Machine[];
  clusters(namespace: string): ClusterDesc[];
  claimants(mac: string): string[];
}

function safeMacs(m: Machine | undefined): string[] {
  if (!m) return [];
  try {
    return machineMacs(m);
  } catch {
    return [];
  }
}

const isPeerFact = (m: Machine | undefined) =>
  (m?.spec.roles ?? []).some((r) => r === "master" || r === "etcd");

/** The facts of a Machine that other Machines' documents can depend on. */
function peerFacts(m: Machine | undefined): string {
  if (!m) return "";
  const { mac, hostname, ip, roles, interfaces, clusterDesc } = m.spec;
  return JSON.stringify([mac, hostname, ip, roles, interfaces, clusterDesc]);
}

/** A template that mentions `machines` may list every machine: any member change re-renders all. */
function usesMachineList(
  cluster: ClusterDesc | undefined,
  templateTexts: (c: ClusterDesc) => string[],
): boolean {
  return cluster ? templateTexts(cluster).some(namesMachineList) : false;
}

export function machineChanged(
  index: FanoutIndex,
  old: Machine | undefined,
  next: Machine | undefined,
  clusterOf: (m: Machine) => ClusterDesc | undefined,
  templateTexts: (c: ClusterDesc) => string[],
): string[] {
  const keys = new Set<string>();
  if (next) keys.add(objectKey(next));
  // Machines that share (or shared) a MAC with this one: a duplicate may have appeared or cleared.
  for (const mac of new Set([...safeMacs(old), ...safeMacs(next)]))
    for (const k of index.claimants(mac)) keys.add(k);
  if (peerFacts(old) !== peerFacts(next)) {
    for (const machine of [old, next]) {
      if (!machine) continue;
      const cluster = clusterOf(machine);
      if (isPeerFact(old) || isPeerFact(next) || usesMachineList(cluster, templateTexts)) {
        for (const peer of index.members(machine.metadata.namespace ?? "default", machine.spec.clusterDesc)) {
          keys.add(objectKey(peer));
        }
      }
    }
  }
  return [...keys];
}

export function clusterChanged(index: FanoutIndex, cluster: ClusterDesc): string[] {
  return index.members(cluster.metadata.namespace ?? "default", cluster.metadata.name).map(objectKey);
}

/**
 * For every ClusterDesc in the namespace that takes templates from this ConfigMap: its Machines
 * when Machine templates come from it, its own documents when its `dnsmasq.conf` template does.
 */
export function templateConfigMapChanged(index: FanoutIndex, namespace: string, configMap: string): string[] {
  return index
    .clusters(namespace)
    .flatMap((c) => [
      ...(templateConfigMapNames(c, "machines").includes(configMap) ? clusterChanged(index, c) : []),
      ...(templateConfigMapNames(c, "dnsmasq").includes(configMap)
        ? [clusterDocumentsKey(namespace, c.metadata.name)]
        : []),
    ]);
}
