// Routes for the boot formats beyond cloud-config and iPXE: Ignition (`/ignition/:mac`), OpenStack
// ConfigDrive images (`/configdrive/:mac.iso`, built on request and cached by content hash) and
// per-ClusterDesc documents (`/dnsmasq.conf`). buildApp registers them with its own helpers, so MAC
// parsing, authorization, readiness, ETags and the access log work as for every other document.
import { createHash } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { DNSMASQ_OUTPUT } from "../api/constants.js";
import { ConfigDriveBuilder, ConfigDriveLayoutError, configDriveLayout } from "../boot/configdrive.js";
import { notModified } from "./conditional.js";
import type { DocumentLookup, MachineDocuments, DocumentPick as Pick, ServedDocument } from "./lookup.js";

export interface BootRouteContext {
  lookup: DocumentLookup;
  /** The machine a request names (any MAC notation), or undefined once the error answer is sent. */
  machineFor(request: FastifyRequest, reply: FastifyReply, rawMac: unknown): MachineDocuments | undefined;
  serve(request: FastifyRequest, reply: FastifyReply, rawMac: unknown, pick: Pick): FastifyReply;
  /** Registers a per-MAC document route (`:mac` in the path or `?mac=`), fast path included. */
  documentRoute(pattern: string, pick: Pick): void;
  output(name: string, fallback?: string): Pick;
  sendDocument(request: FastifyRequest, reply: FastifyReply, name: string, doc: ServedDocument): FastifyReply;
  sendText(reply: FastifyReply, status: number, text: string): FastifyReply;
  configDrive?: ConfigDriveBuilder | undefined;
}

export const IGNITION_OUTPUT = "ignition.json";
const ISO = "application/x-iso9660-image";

function single(value: unknown): string | undefined | null {
  if (value === undefined) return undefined;
  return typeof value === "string" ? value : null;
}

export function registerBootRoutes(app: FastifyInstance, ctx: BootRouteContext): void {
  const { sendText } = ctx;

  // Ignition (Flatcar, Fedora CoreOS): kernel argument ignition.config.url=http://SERVER/ignition/MAC.
  ctx.documentRoute("/ignition/:mac", ctx.output(IGNITION_OUTPUT));

  // OpenStack ConfigDrive: an ISO9660 image labelled config-2, for a BMC's virtual media.
  const builder = ctx.configDrive ?? new ConfigDriveBuilder();
  app.get<{ Params: { file: string } }>("/configdrive/:file", async (req, reply) => {
    const { file } = req.params;
    if (!file.endsWith(".iso")) return sendText(reply, 404, "not found");
    const docs = ctx.machineFor(req, reply, file.slice(0, -".iso".length));
    if (docs === undefined) return reply;
    const bodies = new Map([...docs.documents].map(([name, d]) => [name, d.body]));
    let files: ReturnType<typeof configDriveLayout>;
    try {
      files = configDriveLayout(bodies);
    } catch (err) {
      if (!(err instanceof ConfigDriveLayoutError)) throw err;
      req.log.error({ machine: docs.machine, err }, `config drive of ${docs.machine}: ${err.message}`);
      return sendText(reply, 500, "config drive could not be built");
    }
    if (files === undefined) return sendText(reply, 404, "no config drive for this machine");
    // The image is a function of the documents it is made of: their ETags (render hash) name it.
    const etag = `"cd-${createHash("sha256")
      .update(
        [...docs.documents]
          .map(([name, d]) => `${name}\0${d.etag}`)
          .sort()
          .join("\0"),
      )
      .digest("hex")
      .slice(0, 32)}"`;
    reply.header("etag", etag).header("cache-control", "no-cache");
    if (notModified(req.headers["if-none-match"], etag)) return reply.code(304).send();
    let iso: Buffer;
    try {
      iso = await builder.get(etag, () => files);
    } catch (err) {
      req.log.error({ machine: docs.machine, err }, `config drive of ${docs.machine} failed to build`);
      reply.removeHeader("etag");
      return sendText(reply, 500, "config drive could not be built");
    }
    const name = `${docs.machine.replace(/[^-.\w]/g, "_")}-config-2.iso`;
    return reply.type(ISO).header("content-disposition", `attachment; filename="${name}"`).send(iso);
  });

  // Per-ClusterDesc documents: ?cluster=NAME[&namespace=NS]; both may be left out while only one
  // ClusterDesc matches.
  type ClusterQuery = { Querystring: { cluster?: string | string[]; namespace?: string | string[] } };
  app.get<ClusterQuery>(`/${DNSMASQ_OUTPUT}`, (req, reply) => {
    const name = single(req.query.cluster);
    const namespace = single(req.query.namespace);
    if (name === null || namespace === null) return sendText(reply, 400, "repeated query parameter");
    const all = ctx.lookup.clusters?.() ?? [];
    const matches = all.filter(
      (c) =>
        (name === undefined || c.name === name) && (namespace === undefined || c.namespace === namespace),
    );
    if (matches.length === 0) {
      if (!ctx.lookup.ready()) return sendText(reply.header("retry-after", "5"), 503, "not ready");
      return sendText(reply, 404, "unknown cluster");
    }
    if (matches.length > 1) {
      return sendText(
        reply,
        400,
        "several ClusterDescs match; name one with ?cluster=NAME&namespace=NAMESPACE",
      );
    }
    const doc = matches[0]!.documents.get(DNSMASQ_OUTPUT);
    if (doc === undefined) return sendText(reply, 404, "no such document for this cluster");
    return ctx.sendDocument(req, reply, DNSMASQ_OUTPUT, doc);
  });
}
