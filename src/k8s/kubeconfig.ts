// How to reach the API server: a kubeconfig file (the given one, else $KUBECONFIG, else
// ~/.kube/config) or the in-cluster service account. The common cases (bearer token or token
// file, client certificate, basic auth, CA data or file) are read here; only users that need an
// exec plugin or an auth provider load @kubernetes/client-node, whose import alone costs ~100 MB
// of RSS and a second of start-up: too much for every controller and server process.
import { existsSync, readFileSync } from "node:fs";
import type https from "node:https";
import { homedir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import yaml from "js-yaml";

export interface KubeAccess {
  server: string;
  /** TLS options for the agent: CA, client certificate and key, verification. */
  tls: https.AgentOptions;
  /** Authentication headers of one request (a token file is re-read now and then). */
  authHeaders(): Promise<Record<string, string>>;
}

const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
/** Projected service-account tokens rotate; re-read the file at least this often. */
const TOKEN_FILE_TTL_MS = 60_000;

interface NamedEntry<T> {
  name: string;
  [key: string]: unknown;
  value?: T;
}

type Cluster = {
  server?: string;
  "certificate-authority-data"?: string;
  "certificate-authority"?: string;
  "insecure-skip-tls-verify"?: boolean;
  "tls-server-name"?: string;
};
type User = {
  token?: string;
  tokenFile?: string;
  "client-certificate-data"?: string;
  "client-certificate"?: string;
  "client-key-data"?: string;
  "client-key"?: string;
  username?: string;
  password?: string;
  exec?: unknown;
  "auth-provider"?: unknown;
};

function tokenFileReader(path: string): () => Promise<Record<string, string>> {
  let cached: { token: string; at: number } | undefined;
  return async () => {
    if (!cached || Date.now() - cached.at > TOKEN_FILE_TTL_MS) {
      cached = { token: readFileSync(path, "utf8").trim(), at: Date.now() };
    }
    return { Authorization: `Bearer ${cached.token}` };
  };
}

/** The Pod's service account, as the kubelet mounts it. */
export function inCluster(accountDir = SERVICE_ACCOUNT_DIR): KubeAccess | undefined {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT;
  if (!host || !port || !existsSync(join(accountDir, "token"))) return undefined;
  return {
    server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    tls: { ca: readFileSync(join(accountDir, "ca.crt")) },
    authHeaders: tokenFileReader(join(accountDir, "token")),
  };
}

function pick<T>(list: unknown, name: string | undefined, field: string, what: string): T {
  const entries = (Array.isArray(list) ? list : []) as NamedEntry<T>[];
  const found = entries.find((e) => e.name === name);
  if (!found) throw new Error(`kubeconfig: ${what} ${JSON.stringify(name)} not found`);
  return (found[field] ?? {}) as T;
}

/**
 * Reads one kubeconfig file; exec plugins and auth providers go to @kubernetes/client-node. Every
 * error names the file (a missing file, bad YAML, a certificate file it points to that is missing).
 */
async function fromFile(file: string): Promise<KubeAccess> {
  try {
    return await readAccess(file);
  } catch (e) {
    const message = (e as Error).message;
    if (message.startsWith(`kubeconfig ${file}:`)) throw e;
    throw new Error(`kubeconfig ${file}: ${message.replace(/^kubeconfig: /, "")}`, { cause: e });
  }
}

async function readAccess(file: string): Promise<KubeAccess> {
  const config = yaml.load(readFileSync(file, "utf8")) as Record<string, unknown>;
  if (typeof config !== "object" || config === null || Array.isArray(config))
    throw new Error("not a kubeconfig (a YAML mapping)");
  const contextName = config["current-context"] as string | undefined;
  if (!contextName) throw new Error("no current-context");
  const context = pick<{ cluster?: string; user?: string }>(
    config.contexts,
    contextName,
    "context",
    "context",
  );
  const cluster = pick<Cluster>(config.clusters, context.cluster, "cluster", "cluster");
  const user = context.user ? pick<User>(config.users, context.user, "user", "user") : ({} as User);
  if (!cluster.server) throw new Error(`kubeconfig ${file}: cluster ${context.cluster} has no server`);
  if (user.exec || user["auth-provider"]) return viaClientNode(file);
  const relativeTo = (p: string) => (isAbsolute(p) ? p : join(dirname(file), p));
  const data = (inline: string | undefined, path: string | undefined) =>
    inline ? Buffer.from(inline, "base64") : path ? readFileSync(relativeTo(path)) : undefined;
  const tls: https.AgentOptions = {
    ca: data(cluster["certificate-authority-data"], cluster["certificate-authority"]),
    cert: data(user["client-certificate-data"], user["client-certificate"]),
    key: data(user["client-key-data"], user["client-key"]),
    servername: cluster["tls-server-name"],
  };
  if (cluster["insecure-skip-tls-verify"]) tls.rejectUnauthorized = false;
  let authHeaders: KubeAccess["authHeaders"] = async () => ({});
  if (user.token) {
    const header = { Authorization: `Bearer ${user.token}` };
    authHeaders = async () => header;
  } else if (user.tokenFile) {
    authHeaders = tokenFileReader(relativeTo(user.tokenFile));
  } else if (user.username !== undefined) {
    const header = {
      Authorization: `Basic ${Buffer.from(`${user.username}:${user.password ?? ""}`).toString("base64")}`,
    };
    authHeaders = async () => header;
  }
  return { server: cluster.server, tls, authHeaders };
}

/** The full kubeconfig semantics (exec plugins, OIDC, cloud auth providers), at its memory cost. */
async function viaClientNode(file: string): Promise<KubeAccess> {
  const { KubeConfig } = await import("@kubernetes/client-node");
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error(`kubeconfig ${file}: no current cluster`);
  const opts: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const { ca, cert, key, rejectUnauthorized, servername } = opts;
  return {
    server,
    tls: { ca, cert, key, rejectUnauthorized, servername },
    authHeaders: async () => {
      const fresh: https.RequestOptions = {};
      await kc.applyToHTTPSOptions(fresh);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(fresh.headers ?? {})) if (typeof v === "string") headers[k] = v;
      return headers;
    },
  };
}

/** The given kubeconfig, else $KUBECONFIG (its first file), ~/.kube/config, or the in-cluster account. */
export async function loadKubeConfig(file?: string): Promise<KubeAccess> {
  if (file) return fromFile(file);
  const fromEnv = process.env.KUBECONFIG?.split(":").find((p) => p !== "");
  if (fromEnv) return fromFile(fromEnv);
  const home = join(homedir(), ".kube", "config");
  if (existsSync(home)) return fromFile(home);
  const cluster = inCluster();
  if (cluster) return cluster;
  throw new Error("no kubeconfig: give --kubeconfig, set KUBECONFIG, create ~/.kube/config, or run in a Pod");
}
