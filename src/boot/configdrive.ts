// OpenStack ConfigDrive (config-2) images built from a machine's rendered documents. The layout is
// pure (configDriveLayout); the ISO9660 image (Rock Ridge + Joliet, volume id `config-2`) is made by
// `xorriso -as mkisofs` or `genisoimage` in a temp dir: no maintained pure-JS ISO writer exists.
// ConfigDriveBuilder caches images by key (the machine's content hash), builds one image per key at
// a time, and bounds how many builds run at once.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Output names the image is made of (see configDriveLayout). */
export const CONFIGDRIVE_META = "configdrive-meta_data.json";
export const CONFIGDRIVE_NETWORK = "configdrive-network_data.json";

export interface ConfigDriveFile {
  /** Path inside the image, `openstack/latest/meta_data.json`. */
  path: string;
  content: Buffer;
}

/** The rendered documents are not a usable config drive (a template problem, not a server one). */
export class ConfigDriveLayoutError extends Error {
  override name = "ConfigDriveLayoutError";
}

/**
 * The files of a config-2 drive from a machine's documents (output name -> bytes):
 * - `openstack/latest/meta_data.json` from `configdrive-meta_data.json`; each `files[]` entry that
 *   carries `content` (a string) has it written to `openstack/content/NNNN` and replaced by
 *   `content_path: "/content/NNNN"`, as OpenStack lays it out;
 * - `openstack/latest/user_data` from `user-data`, else `cloud-config` (absent when neither exists);
 * - `openstack/latest/vendor_data.json` = `{"cloud-init": <vendor-data>}` when `vendor-data` exists;
 * - `openstack/latest/network_data.json` from `configdrive-network_data.json` when it exists.
 * Returns undefined when the machine has no `configdrive-meta_data.json`.
 */
export function configDriveLayout(docs: ReadonlyMap<string, Buffer>): ConfigDriveFile[] | undefined {
  const metaRaw = docs.get(CONFIGDRIVE_META);
  if (metaRaw === undefined) return undefined;
  let meta: unknown;
  try {
    meta = JSON.parse(metaRaw.toString("utf8"));
  } catch (err) {
    throw new ConfigDriveLayoutError(`${CONFIGDRIVE_META} is not JSON: ${(err as Error).message}`);
  }
  if (meta === null || typeof meta !== "object" || Array.isArray(meta)) {
    throw new ConfigDriveLayoutError(`${CONFIGDRIVE_META} must be a JSON object`);
  }
  const m = meta as Record<string, unknown>;
  if (typeof m.uuid !== "string" || m.uuid === "") {
    throw new ConfigDriveLayoutError(`${CONFIGDRIVE_META} needs a "uuid" (the instance-id)`);
  }
  const files: ConfigDriveFile[] = [];
  if (m.files !== undefined) {
    if (!Array.isArray(m.files))
      throw new ConfigDriveLayoutError(`${CONFIGDRIVE_META}: "files" must be a list`);
    m.files = m.files.map((entry: unknown, i: number) => {
      const e = entry as Record<string, unknown> | null;
      if (e === null || typeof e !== "object" || typeof e.path !== "string") {
        throw new ConfigDriveLayoutError(`${CONFIGDRIVE_META}: files[${i}] needs a "path"`);
      }
      if (e.content === undefined) return e;
      if (typeof e.content !== "string") {
        throw new ConfigDriveLayoutError(`${CONFIGDRIVE_META}: files[${i}].content must be a string`);
      }
      const name = String(files.length).padStart(4, "0");
      files.push({ path: `openstack/content/${name}`, content: Buffer.from(e.content, "utf8") });
      const { content: _content, ...rest } = e;
      return { ...rest, content_path: `/content/${name}` };
    });
  }
  files.push({
    path: "openstack/latest/meta_data.json",
    content: Buffer.from(`${JSON.stringify(m, null, 2)}\n`),
  });
  const userData = docs.get("user-data") ?? docs.get("cloud-config");
  if (userData !== undefined) files.push({ path: "openstack/latest/user_data", content: userData });
  const vendorData = docs.get("vendor-data");
  if (vendorData !== undefined) {
    const json = JSON.stringify({ "cloud-init": vendorData.toString("utf8") });
    files.push({ path: "openstack/latest/vendor_data.json", content: Buffer.from(`${json}\n`) });
  }
  const network = docs.get(CONFIGDRIVE_NETWORK);
  if (network !== undefined) files.push({ path: "openstack/latest/network_data.json", content: network });
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export interface IsoOptions {
  /** `xorriso` (run as `xorriso -as mkisofs`) or `genisoimage`, or a path to either. Default xorriso. */
  tool?: string;
  /** Kill the tool after this long. Default 30 s. */
  timeoutMs?: number;
}

/** Volume id cloud-init looks for. */
export const CONFIG_DRIVE_LABEL = "config-2";

/** Writes the files into a temp dir and makes an ISO9660 image (Rock Ridge, Joliet, `config-2`). */
export async function buildIso(files: readonly ConfigDriveFile[], options: IsoOptions = {}): Promise<Buffer> {
  const tool = options.tool ?? "xorriso";
  const work = await mkdtemp(join(tmpdir(), "ccts-configdrive-"));
  try {
    const root = join(work, "root");
    await mkdir(root);
    for (const f of files) {
      if (f.path.split("/").some((p) => p === "" || p === "." || p === "..")) {
        throw new ConfigDriveLayoutError(`bad path in config drive: ${JSON.stringify(f.path)}`);
      }
      const path = join(root, f.path);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, f.content);
    }
    const out = join(work, "config-2.iso");
    const mkisofs = ["-quiet", "-R", "-J", "-V", CONFIG_DRIVE_LABEL, "-o", out, root];
    const args = /(^|\/)xorriso$/.test(tool) ? ["-as", "mkisofs", ...mkisofs] : mkisofs;
    await run(tool, args, {
      timeout: options.timeoutMs ?? 30_000,
      killSignal: "SIGKILL",
      maxBuffer: 1024 * 1024,
    });
    return await readFile(out);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export interface ConfigDriveBuilderOptions extends IsoOptions {
  /** Builds running at once; further requests wait. Default 2. */
  concurrency?: number;
  /** Images kept in memory (least recently used dropped first). Default 64. */
  maxEntries?: number;
  /** Bytes kept in memory. Default 64 MiB. */
  maxBytes?: number;
}

/**
 * Builds config drive images on demand and keeps them by key. One build per key at a time
 * (concurrent requests for it share it); at most `concurrency` builds at once; a failed build is
 * not cached (the next request tries again).
 */
export class ConfigDriveBuilder {
  private readonly cache = new Map<string, Buffer>();
  private readonly inFlight = new Map<string, Promise<Buffer>>();
  private readonly waiting: (() => void)[] = [];
  private running = 0;
  private cachedBytes = 0;
  /** Number of images built (not served from the cache); for tests and logs. */
  builds = 0;

  constructor(private readonly options: ConfigDriveBuilderOptions = {}) {}

  /** The image for `key`, from the cache or built from `files()`. */
  get(key: string, files: () => readonly ConfigDriveFile[]): Promise<Buffer> {
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      return Promise.resolve(hit);
    }
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const build = this.limited(async () => {
      const iso = await buildIso(files(), this.options);
      this.builds++;
      this.remember(key, iso);
      return iso;
    }).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, build);
    return build;
  }

  get size(): number {
    return this.cache.size;
  }

  private remember(key: string, iso: Buffer): void {
    const maxEntries = this.options.maxEntries ?? 64;
    const maxBytes = this.options.maxBytes ?? 64 * 1024 * 1024;
    if (iso.length > maxBytes) return;
    this.cache.set(key, iso);
    this.cachedBytes += iso.length;
    while (this.cache.size > maxEntries || this.cachedBytes > maxBytes) {
      const [oldest, buf] = this.cache.entries().next().value as [string, Buffer];
      this.cache.delete(oldest);
      this.cachedBytes -= buf.length;
    }
  }

  private async limited<T>(task: () => Promise<T>): Promise<T> {
    const limit = Math.max(1, this.options.concurrency ?? 2);
    while (this.running >= limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      return await task();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}
