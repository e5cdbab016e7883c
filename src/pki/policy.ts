// What a Machine's certificate must say, and when it is due for renewal. Pure.

import { macHostname, parseMac } from "../api/mac.js";
import { machineAddresses } from "../api/machine.js";
import type { ClusterDesc, Machine } from "../api/types.js";
import type { CertificateInfo } from "./x509.js";

export const DEFAULT_CA_LIFETIME_MS = 10 * 365 * 24 * 3600 * 1000;
export const DEFAULT_CERT_LIFETIME_MS = 365 * 24 * 3600 * 1000;
/** Renew once this share of the lifetime has passed. */
export const RENEW_AT = 2 / 3;

/** Names of the in-cluster API service, valid on every master certificate. */
const KUBERNETES_SERVICE_NAMES = [
  "kubernetes",
  "kubernetes.default",
  "kubernetes.default.svc",
  "kubernetes.default.svc.cluster.local",
];

/** The first address of a service CIDR: the `kubernetes` service IP (10.96.0.0/16 -> 10.96.0.1). */
export function firstServiceIP(cidr: string | undefined): string | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr ?? "");
  if (!m) return undefined;
  const n = ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
  const mask = Number(m[5]) === 0 ? 0 : (0xffffffff << (32 - Number(m[5]))) >>> 0;
  const first = ((n & mask) + 1) >>> 0;
  return [first >>> 24, (first >>> 16) & 255, (first >>> 8) & 255, first & 255].join(".");
}

export interface DesiredNames {
  commonName: string;
  dnsNames: string[];
  ipAddresses: string[];
}

/**
 * Subject alternative names as the legacy bootstrapper gave them: hostname, FQDN and the
 * machine's IPs; masters also the Kubernetes service IP, the master IPs and DNS names.
 */
export function desiredNames(cluster: ClusterDesc, machine: Machine): DesiredNames {
  const hostname = machine.spec.hostname ?? macHostname(parseMac(machine.spec.mac));
  const domain = cluster.spec.network.domain;
  const dns = [hostname, ...(domain ? [`${hostname}.${domain}`] : [])];
  const ips = machineAddresses(machine);
  if ((machine.spec.roles ?? []).includes("master")) {
    const k8s = cluster.spec.kubernetes ?? {};
    dns.push(...(k8s.masterDNSNames ?? []), ...KUBERNETES_SERVICE_NAMES);
    const serviceIP = firstServiceIP(k8s.serviceClusterIPRange);
    ips.push(...(serviceIP ? [serviceIP] : []), ...(k8s.masterIPs ?? []));
  }
  return { commonName: hostname, dnsNames: [...new Set(dns)], ipAddresses: [...new Set(ips)] };
}

export function namesFingerprint(names: DesiredNames): string {
  return JSON.stringify([names.commonName, [...names.dnsNames].sort(), [...names.ipAddresses].sort()]);
}

export function renewalDue(info: Pick<CertificateInfo, "notBefore" | "notAfter">, now: Date): boolean {
  const start = info.notBefore.getTime();
  return now.getTime() >= start + (info.notAfter.getTime() - start) * RENEW_AT;
}
