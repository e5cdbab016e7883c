import { describe, expect, it } from "vitest";
import {
  ANNOTATION_CONTENT_HASH,
  ANNOTATION_CONTENT_TYPES,
  LABEL_MANAGED_BY,
} from "../../src/api/constants.js";
import {
  type ConfigMapObject,
  MANAGED_BY,
  sameRendered,
  withDocumentDigests,
} from "../../src/controller/rendered-configmap.js";

const rendered = (data: Record<string, string>, hash = "h1"): ConfigMapObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: {
    name: "ccts-machine-a",
    namespace: "ns",
    resourceVersion: "7",
    labels: { [LABEL_MANAGED_BY]: MANAGED_BY, "mac.ccts.io/52-54-00-00-00-01": "true" },
    annotations: {
      [ANNOTATION_CONTENT_HASH]: hash,
      [ANNOTATION_CONTENT_TYPES]: JSON.stringify(
        Object.fromEntries(
          Object.keys(data)
            .sort()
            .map((k) => [k, "text/plain"]),
        ),
      ),
    },
    ownerReferences: [
      { apiVersion: "ccts.io/v1alpha1", kind: "Machine", name: "a", uid: "u1", controller: true },
    ],
  },
  data,
});

describe("the controller's cached copy of a rendered ConfigMap", () => {
  const docs = { "cloud-config": "#cloud-config\nhostname: a\n", ipxe: "#!ipxe\nboot\n" };

  it("keeps the metadata and document names, not the texts", () => {
    const cached = withDocumentDigests(rendered(docs));
    expect(cached.data).toEqual({ "cloud-config": "", ipxe: "" });
    expect(cached.dataDigest).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(cached.metadata.resourceVersion).toBe("7");
    expect(cached.metadata.ownerReferences?.[0]).toMatchObject({ kind: "Machine", name: "a", uid: "u1" });
    expect(JSON.stringify(cached)).not.toContain("hostname");
  });

  it("keeps the previous version's labels and owner reference while they are unchanged", () => {
    const first = withDocumentDigests(rendered(docs));
    const second = rendered(docs, "h2");
    second.metadata.resourceVersion = "8";
    const next = withDocumentDigests(second, first);
    expect(next.metadata.labels).toBe(first.metadata.labels);
    expect(next.metadata.ownerReferences).toBe(first.metadata.ownerReferences);
    expect(next.metadata.annotations?.[ANNOTATION_CONTENT_HASH]).toBe("h2");
    expect(next.metadata.resourceVersion).toBe("8");
    const moved = rendered(docs);
    moved.metadata.labels = { ...moved.metadata.labels, "mac.ccts.io/52-54-00-00-00-02": "true" };
    const third = withDocumentDigests(moved, next);
    expect(third.metadata.labels).not.toBe(next.metadata.labels);
    expect(third.metadata.labels).toEqual(moved.metadata.labels);
    const reowned = rendered(docs);
    reowned.metadata.ownerReferences = [{ ...reowned.metadata.ownerReferences![0]!, uid: "u2" }];
    expect(withDocumentDigests(reowned, next).metadata.ownerReferences?.[0]?.uid).toBe("u2");
  });

  it("shares one frozen object of document names between ConfigMaps with the same outputs", () => {
    const a = withDocumentDigests(rendered(docs));
    const other = rendered(docs);
    other.metadata.name = "ccts-machine-b";
    const b = withDocumentDigests(other);
    expect(b.data).toBe(a.data);
    expect(Object.isFrozen(a.data)).toBe(true);
    expect(withDocumentDigests(rendered({ ipxe: docs.ipxe })).data).toEqual({ ipxe: "" });
  });

  it("compares the same as the whole ConfigMap would", () => {
    const cached = withDocumentDigests(rendered(docs));
    expect(sameRendered(cached, rendered(docs))).toBe(true);
    // Order of the documents does not matter; their names, texts and the render hash do.
    expect(sameRendered(cached, rendered({ ipxe: docs.ipxe, "cloud-config": docs["cloud-config"] }))).toBe(
      true,
    );
    expect(sameRendered(cached, rendered({ ...docs, ipxe: "#!ipxe\n" }))).toBe(false);
    expect(sameRendered(cached, rendered({ "cloud-config": docs["cloud-config"], ipxe2: docs.ipxe }))).toBe(
      false,
    );
    expect(sameRendered(cached, rendered({ "cloud-config": docs["cloud-config"] }))).toBe(false);
    expect(sameRendered(cached, rendered(docs, "h2"))).toBe(false);
    // Text moved between names keeps the same bytes overall: still a change.
    expect(sameRendered(cached, rendered({ "cloud-config": docs.ipxe, ipxe: docs["cloud-config"] }))).toBe(
      false,
    );
    // A whole ConfigMap (no digest) compares by its data.
    expect(sameRendered(rendered(docs), rendered(docs))).toBe(true);
    expect(sameRendered(rendered(docs), rendered({ ...docs, ipxe: "x" }))).toBe(false);
  });

  it("keeps other ConfigMaps (templates) whole", () => {
    const template: ConfigMapObject = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "templates", namespace: "ns" },
      data: { "cloud-config.hbs": "{{hostname}}" },
    };
    expect(withDocumentDigests(template)).toBe(template);
  });
});
