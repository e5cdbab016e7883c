// The benchmark's cluster: one ClusterDesc (the example cluster's spec) and N Machines: three
// masters/etcd members and N-3 workers, each with its own MAC and hostname.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import yaml from "js-yaml";

export const CLUSTER = "bench";

export interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; [k: string]: unknown };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

export function clusterDesc(namespace: string, sshKey = "ops@bench"): Obj {
  return {
    apiVersion: "ccts.io/v1alpha1",
    kind: "ClusterDesc",
    metadata: { name: CLUSTER, namespace },
    spec: {
      network: {
        bootstrapperIP: "10.20.0.2",
        subnet: "10.20.0.0",
        netmask: "255.255.0.0",
        dhcpRange: { start: "10.20.100.1", end: "10.20.200.254" },
        routers: ["10.20.0.1"],
        broadcast: "10.20.255.255",
        nameservers: ["10.20.0.2"],
        upstreamNameservers: ["9.9.9.9"],
        domain: "bench.example.org",
        lease: "12h",
        pxe: true,
        ntp: true,
      },
      kubernetes: {
        serviceClusterIPRange: "10.96.0.0/16",
        clusterDNS: "10.96.0.10",
        masterIPs: ["10.96.0.1", "10.20.0.11", "10.20.0.12", "10.20.0.13"],
        masterDNSNames: ["k8s-api.bench.example.org"],
        flannelBackend: "vxlan",
      },
      os: {
        name: "flatcar",
        channel: "stable",
        version: "4152.2.0",
        updates: { rebootStrategy: "etcd-lock", windowStart: "03:00", windowLength: "3h" },
      },
      serverURL: "http://10.20.0.2:8080",
      sshAuthorizedKeys: [
        `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBenchKeyOnlyForBenchmarksDoNotUse000001 ${sshKey}`,
      ],
      images: { pause: "registry.k8s.io/pause:3.10" },
      variables: { timezone: "Europe/Berlin", ntpServers: ["10.20.0.2"] },
    },
  };
}

/** MAC of machine i under a two-byte prefix: 02:cc:00:00:00:00 + i. */
export function macOf(i: number, prefix = "02:cc"): string {
  const hex = i.toString(16).padStart(8, "0");
  return `${prefix}:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}:${hex.slice(6, 8)}`;
}

export function machineName(i: number, prefix = "m"): string {
  return `${prefix}-${String(i).padStart(5, "0")}`;
}

export function machine(namespace: string, i: number, prefix = "m", macPrefix = "02:cc"): Obj {
  const name = machineName(i, prefix);
  const master = prefix === "m" && i < 3;
  return {
    apiVersion: "ccts.io/v1alpha1",
    kind: "Machine",
    metadata: { name, namespace },
    spec: {
      clusterDesc: CLUSTER,
      mac: macOf(i, macPrefix),
      hostname: name,
      ...(master ? { ip: `10.20.0.${11 + i}`, roles: ["master", "etcd"] } : { roles: ["worker"] }),
    },
  };
}

/** Writes the embedded-mode folder: cluster.yaml and machines-NN.yaml (1,000 Machines a file). */
export function writeFolder(dir: string, count: number, namespace = "default"): string[] {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "cluster.yaml"), yaml.dump(clusterDesc(namespace)));
  const macs: string[] = [];
  for (let start = 0, file = 0; start < count; start += 1000, file++) {
    const docs: string[] = [];
    for (let i = start; i < Math.min(count, start + 1000); i++) {
      const m = machine(namespace, i);
      macs.push(String(m.spec!.mac));
      docs.push(yaml.dump(m));
    }
    writeFileSync(join(dir, `machines-${String(file).padStart(2, "0")}.yaml`), docs.join("---\n"));
  }
  return macs;
}
