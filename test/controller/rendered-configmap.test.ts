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
