// Contract of the render core: pure functions from declarations to documents.
import type { ClusterDesc, Machine } from "../api/types.js";

/** How an output is validated and which content type it is served with. */
export type OutputFormat = "cloud-config" | "ipxe" | "shell" | "yaml" | "json" | "text";

/** One template to render, already resolved to its text. */
export interface TemplateSource {
  /** Output name (`cloud-config`, `ipxe`, `install.sh`, `meta-data`, ...). */
  output: string;
  /** Where the text came from, for error messages (`configmap/tpl:cloud-config`, `builtin:ipxe`). */
  origin: string;
  text: string;
  /** Format to validate and serve the output as; default: derived from the output name (formatOf). */
  format?: OutputFormat;
}

export interface RenderInput {
  cluster: ClusterDesc;
  machine: Machine;
  /** Every Machine of the cluster, including `machine` (etcd members, masters, ...). */
  machines: Machine[];
  templates: TemplateSource[];
  /** The CA, certificate and key templates read as `tls` (cluster mode); absent: `tls` is null. */
  tls?: { ca: string; cert: string; key: string };
}

export interface RenderedDocument {
  output: string;
  format: OutputFormat;
  contentType: string;
  content: string;
}

export type RenderFailureReason = "TemplateError" | "InvalidOutput" | "OutputTooLarge" | "InvalidMachine";

export interface RenderFailure {
  reason: RenderFailureReason;
  /** `namespace/name` of the Machine. */
  machine: string;
  /** Output name of the template, when one template is at fault. */
  output?: string;
  /** Origin of the template at fault. */
  origin?: string;
  /** 1-based line in the template (TemplateError) or in the output (InvalidOutput), when known. */
  line?: number;
  /** One line a human can act on: machine, template, line and what was wrong. */
  message: string;
}

export type RenderResult =
  | { ok: true; documents: RenderedDocument[]; hash: string }
  | { ok: false; failure: RenderFailure };

export interface RenderOptions {
  /**
   * Upper bound of the sum of all documents (UTF-8 bytes of output names and contents). Default
   * DEFAULT_MAX_BYTES: the 1 MiB ConfigMap limit minus headroom for metadata.
   */
  maxBytes?: number;
}
