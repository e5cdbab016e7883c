// The port through which the HTTP app reads documents. The embedded store (src/store/) and the
// cluster-mode ConfigMap index implement it; the app never knows which one it talks to.

export interface ServedDocument {
  /**
   * Bytes to send, prepared once when the document was learned. In the cluster server they live in
   * the document file and each read of `body` reads them from it: where the length is enough, or
   * the bytes go into a buffer of the caller's, use `length` and `copyBodyTo`.
   */
  readonly body: Buffer;
  /** The body's length in bytes. */
  readonly length: number;
  /** Writes the body into `target` at `offset` (stored bytes are read straight into it). */
  copyBodyTo(target: Buffer, offset: number): void;
  readonly contentType: string;
  /** Strong ETag, quoted, derived from the content hash. */
  readonly etag: string;
}

export interface DocumentLookup {
  /** Documents of the machine with this canonical MAC, or undefined for an unknown MAC. */
  machine(canonicalMac: string): MachineDocuments | undefined;
  /** True once the lookup can answer (store loaded, cache loaded or watch synced). */
  ready(): boolean;
  /**
   * The one version of an output that every machine having it shares (the cluster CA when a
   * single cluster is served); "ambiguous" when machines have different ones.
   */
  sharedDocument?(output: string): ServedDocument | "ambiguous" | undefined;
  /**
   * Documents rendered per ClusterDesc (`dnsmasq.conf`), every ClusterDesc once. Optional: a lookup
   * without it answers 404 to the per-cluster endpoints.
   */
  clusters?(): readonly ClusterDocuments[];
}

export interface ClusterDocuments {
  namespace: string;
  name: string;
  /** Output name (`dnsmasq.conf`) -> document. */
  documents: ReadonlyMap<string, ServedDocument>;
}

export interface MachineDocuments {
  /** `namespace/name` of the Machine, for logs. */
  machine: string;
  documents: ReadonlyMap<string, ServedDocument>;
  /** Addresses the Machine declares (spec.ip, interfaces[].ip), for the opt-in authorization. */
  addresses?: readonly string[];
}

/** Which document of a machine a route answers with: [output name, document], or none. */
export type DocumentPick = (
  docs: MachineDocuments,
) => readonly [output: string, doc: ServedDocument] | undefined;
