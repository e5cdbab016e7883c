// A small REST client for the Kubernetes API on node:http(s), with our own watches: the 2.0.x
// @kubernetes/client-node Watch aborts any watch that is quiet for 30 s and its informer then
// backs off for up to 30 s, so a quiet cluster could miss a change for that long. How to reach the
// API server (kubeconfig, in-cluster account) is kubeconfig.ts's job.
import http from "node:http";
import https from "node:https";
import type { KubeAccess } from "./kubeconfig.js";

export { loadKubeConfig } from "./kubeconfig.js";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  /** Accept header; default application/json. See METADATA_ONLY. */
  accept?: string;
  signal?: AbortSignal;
}

/**
 * Accept header that makes the API server answer a write with the object's metadata only
 * (PartialObjectMetadata): the caller needs its resourceVersion, not the documents back. It spares
 * the server encoding and the client decoding the whole object (~10 KB per rendered ConfigMap).
 */
export const METADATA_ONLY = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";

/** The same for a list: its items are the objects' metadata (PartialObjectMetadataList). */
export const METADATA_ONLY_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";

/** The byte that ends each JSON object of a watch stream. */
const NEWLINE = 0x0a;

/**
 * Cuts a watch stream into its JSON lines: the lines are cut from the bytes and decoded whole.
 * Appending each chunk to a string and searching that copied a long line once per chunk: a 400 KB
 * event (the dnsmasq ConfigMap of 10,000 Machines, ~25 chunks) made ~5 MB of large strings, which
 * only a full GC frees.
 */
export class JsonLines {
  private readonly partial: Buffer[] = [];

  /** Takes the next chunk; calls onObject for every line it completes (blank lines skipped). */
  push(chunk: Buffer, onObject: (obj: unknown) => void): void {
    let start = 0;
    for (let nl = chunk.indexOf(NEWLINE); nl >= 0; nl = chunk.indexOf(NEWLINE, start)) {
      const end = chunk.subarray(start, nl);
      const line =
        this.partial.length === 0
          ? end.toString("utf8")
          : Buffer.concat([...this.partial, end]).toString("utf8");
      this.partial.length = 0;
      if (line.trim()) onObject(JSON.parse(line));
      start = nl + 1;
    }
    if (start < chunk.length) this.partial.push(chunk.subarray(start));
  }
}

export class KubeClient {
  private readonly server: URL;
  private readonly agent: http.Agent;
  private readonly transport: typeof http | typeof https;
  /** Where every request goes, as node:http options: built once, not parsed from a URL per request. */
  private readonly target: { protocol: string; hostname: string; port: string; basePath: string };

  private constructor(private readonly access: KubeAccess) {
    const tls = access.tls;
    this.server = new URL(access.server);
    const isHttps = this.server.protocol === "https:";
    this.transport = isHttps ? https : http;
    this.agent = isHttps
      ? new https.Agent({ ...tls, keepAlive: true, maxSockets: 64 })
      : new http.Agent({ keepAlive: true, maxSockets: 64 });
    this.target = {
      protocol: this.server.protocol,
      // URL keeps an IPv6 literal's brackets; node:http wants the bare address.
      hostname: this.server.hostname.replace(/^\[(.*)\]$/, "$1"),
      port: this.server.port,
      basePath: this.server.pathname.replace(/\/$/, ""),
    };
  }

  static async create(access: KubeAccess | Promise<KubeAccess>): Promise<KubeClient> {
    return new KubeClient(await access);
  }

  get serverURL(): string {
    return this.server.toString();
  }

  /** The request path with its query string; the controller's writes go through here thousands of times. */
  private path(path: string, query?: RequestOptions["query"]): string {
    let out = this.target.basePath + path;
    let sep = "?";
    for (const k in query) {
      const v = query[k];
      if (v === undefined) continue;
      out += `${sep}${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`;
      sep = "&";
    }
    return out;
  }

  // Options instead of a URL, and the answer read by events instead of an async iterator: measured
  // on server-side applies of rendered ConfigMaps (bench/README.md), ~0.1 ms less CPU per request.
  private async open(method: string, path: string, options: RequestOptions): Promise<http.IncomingMessage> {
    const body =
      options.body === undefined
        ? undefined
        : typeof options.body === "string"
          ? options.body
          : JSON.stringify(options.body);
    const headers: Record<string, string> = {
      Accept: options.accept ?? "application/json",
      ...(await this.access.authHeaders()),
    };
    if (body !== undefined) {
      headers["Content-Type"] = options.contentType ?? "application/json";
      headers["Content-Length"] = String(Buffer.byteLength(body));
    }
    const { protocol, hostname, port } = this.target;
    return new Promise((resolve, reject) => {
      const req = this.transport.request(
        {
          protocol,
          hostname,
          port,
          path: this.path(path, options.query),
          method,
          headers,
          agent: this.agent,
          signal: options.signal,
        },
        resolve,
      );
      req.on("error", reject);
      req.end(body);
    });
  }

  /** One request; resolves to the decoded JSON body, or rejects with ApiError for a non-2xx status. */
  async request<T = unknown>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.open(method, path, options);
    const text = await readText(res);
    const status = res.statusCode ?? 0;
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (status < 200 || status >= 300) {
      const s = json as { reason?: string; message?: string } | undefined;
      throw new ApiError(
        status,
        s?.reason ?? String(status),
        `${method} ${path}: ${status} ${s?.message ?? text.slice(0, 300)}`,
      );
    }
    return json as T;
  }

  /**
   * A streaming GET (a watch): calls onObject for every JSON line (decoded) until the server ends the
   * response, the signal aborts, or the connection fails. Resolves on a clean end. `accept`: the
   * events' objects whole (default) or their metadata only (METADATA_ONLY).
   */
  async stream(
    path: string,
    query: RequestOptions["query"],
    onObject: (obj: unknown) => void,
    signal: AbortSignal,
    accept?: string,
  ): Promise<void> {
    const res = await this.open("GET", path, { query, signal, accept });
    const status = res.statusCode ?? 0;
    if (status !== 200) {
      const text = await readText(res);
      let reason = String(status);
      try {
        reason = (JSON.parse(text) as { reason?: string }).reason ?? reason;
      } catch {
        // not JSON
      }
      throw new ApiError(status, reason, `watch ${path}: ${status} ${text.slice(0, 300)}`);
    }
    const lines = new JsonLines();
    for await (const chunk of res as AsyncIterable<Buffer>) lines.push(chunk, onObject);
  }

  close(): void {
    this.agent.destroy();
  }
}

/** The whole body of an answer as text. */
function readText(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let ended = false;
    res.on("data", (chunk: Buffer) => chunks.push(chunk));
    res.on("end", () => {
      ended = true;
      resolve(Buffer.concat(chunks).toString("utf8"));
    });
    res.on("error", reject);
    // A connection lost mid-answer closes the response without an end (a settled promise ignores this).
    res.on("close", () => {
      if (!ended) reject(new Error("the API server's answer was cut off"));
    });
  });
}
