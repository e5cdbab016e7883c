import { describe, expect, it } from "vitest";
import {
  ANNOTATION_CONTENT_HASH,
  ANNOTATION_CONTENT_TYPES,
  LABEL_MANAGED_BY,
} from "../../src/api/constants.js";
import {
  type ConfigMapObject,
  dataUntouchedBy,
  type FieldsEntry,
  MANAGED_BY,
  renderedConfigMapEntry,
  sameRendered,
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

/** managedFields as the API server keeps them after an apply of `data`'s keys by `manager`. */
const appliedBy = (manager: string, keys: string[]): FieldsEntry => ({
  manager,
  fieldsV1: {
    "f:data": Object.fromEntries(keys.map((k) => [`f:${k}`, {}])),
    "f:metadata": { "f:labels": {} },
  },
});
const MANAGER = "ccts-controller";
const entry = (cm: ConfigMapObject, previous?: ConfigMapObject, fields?: FieldsEntry[]) =>
  renderedConfigMapEntry(cm, previous, fields ?? [appliedBy(MANAGER, Object.keys(cm.data ?? {}))], MANAGER);

describe("the controller's cached copy of a rendered ConfigMap", () => {
  const docs = { "cloud-config": "#cloud-config\nhostname: a\n", ipxe: "#!ipxe\nboot\n" };

  it("keeps the metadata and the document names (from the content-types annotation), not the texts", () => {
    const { data: _texts, ...metadataOnly } = rendered(docs);
    const cached = entry(metadataOnly as ConfigMapObject, undefined, [appliedBy(MANAGER, Object.keys(docs))]);
    expect(cached.data).toEqual({ "cloud-config": "", ipxe: "" });
    expect(cached.dataUntouched).toBe(true);
    expect(cached.metadata.resourceVersion).toBe("7");
    expect(cached.metadata.ownerReferences?.[0]).toMatchObject({ kind: "Machine", name: "a", uid: "u1" });
    expect(JSON.stringify(entry(rendered(docs)))).not.toContain("hostname");
  });

  it("keeps the previous version's labels and owner reference while they are unchanged", () => {
    const first = entry(rendered(docs));
    const second = rendered(docs, "h2");
    second.metadata.resourceVersion = "8";
    const next = entry(second, first);
    expect(next.metadata.labels).toBe(first.metadata.labels);
    expect(next.metadata.ownerReferences).toBe(first.metadata.ownerReferences);
    expect(next.metadata.annotations?.[ANNOTATION_CONTENT_HASH]).toBe("h2");
    expect(next.metadata.resourceVersion).toBe("8");
    const moved = rendered(docs);
    moved.metadata.labels = { ...moved.metadata.labels, "mac.ccts.io/52-54-00-00-00-02": "true" };
    const third = entry(moved, next);
    expect(third.metadata.labels).not.toBe(next.metadata.labels);
    expect(third.metadata.labels).toEqual(moved.metadata.labels);
    const reowned = rendered(docs);
    reowned.metadata.ownerReferences = [{ ...reowned.metadata.ownerReferences![0]!, uid: "u2" }];
    expect(entry(reowned, next).metadata.ownerReferences?.[0]?.uid).toBe("u2");
  });

  it("shares one frozen object of document names between ConfigMaps with the same outputs", () => {
    const a = entry(rendered(docs));
    const other = rendered(docs);
    other.metadata.name = "ccts-machine-b";
    const b = entry(other);
    expect(b.data).toBe(a.data);
    expect(Object.isFrozen(a.data)).toBe(true);
    expect(entry(rendered({ ipxe: docs.ipxe })).data).toEqual({ ipxe: "" });
  });

  it("compares untouched documents by their content hash and names, a whole ConfigMap by its data", () => {
    const cached = entry(rendered(docs));
    expect(sameRendered(cached, rendered(docs))).toBe(true);
    expect(sameRendered(cached, rendered({ ipxe: docs.ipxe, "cloud-config": docs["cloud-config"] }))).toBe(
      true,
    );
    // A new render changes the hash; a document more or less changes the names.
    expect(sameRendered(cached, rendered({ ...docs, ipxe: "#!ipxe\n" }, "h2"))).toBe(false);
    expect(sameRendered(cached, rendered({ "cloud-config": docs["cloud-config"] }))).toBe(false);
    expect(sameRendered(cached, rendered({ ...docs, extra: "x" }))).toBe(false);
    // Documents someone else wrote are written again, whatever the annotations say.
    const edited = entry(rendered(docs), undefined, [
      appliedBy(MANAGER, ["ipxe"]),
      appliedBy("kubectl-edit", ["cloud-config"]),
    ]);
    expect(edited.dataUntouched).toBe(false);
    expect(sameRendered(edited, rendered(docs))).toBe(false);
    // A label it writes removed or changed by hand.
    const unlabelled = rendered(docs);
    unlabelled.metadata.labels = { "mac.ccts.io/52-54-00-00-00-01": "true" };
    expect(sameRendered(entry(unlabelled), rendered(docs))).toBe(false);
    // A label someone else added is theirs: no write for it.
    const extra = rendered(docs);
    extra.metadata.labels = { ...extra.metadata.labels, team: "infra" };
    expect(sameRendered(entry(extra), rendered(docs))).toBe(true);
    // A whole ConfigMap (no such flag) compares by its data.
    expect(sameRendered(rendered(docs), rendered(docs))).toBe(true);
    expect(sameRendered(rendered(docs), rendered({ ...docs, ipxe: "x" }))).toBe(false);
  });

  it("finds an edit the annotations do not show in the managedFields", () => {
    const names = ["cloud-config", "ipxe"];
    expect(dataUntouchedBy(MANAGER, names, [appliedBy(MANAGER, names)])).toBe(true);
    // The map itself (".") owned by another manager is no document of theirs.
    const created = { manager: "kubectl-create", fieldsV1: { "f:data": { ".": {} } } };
    expect(dataUntouchedBy(MANAGER, names, [appliedBy(MANAGER, names), created])).toBe(true);
    // Our Apply and an older Update of ours together own the documents.
    expect(
      dataUntouchedBy(MANAGER, names, [appliedBy(MANAGER, ["ipxe"]), appliedBy(MANAGER, ["cloud-config"])]),
    ).toBe(true);
    // Changed or shared by another writer; a document removed (left our set); one added by us before.
    expect(
      dataUntouchedBy(MANAGER, names, [appliedBy(MANAGER, names), appliedBy("kubectl-patch", ["ipxe"])]),
    ).toBe(false);
    expect(dataUntouchedBy(MANAGER, names, [appliedBy(MANAGER, ["ipxe"])])).toBe(false);
    expect(dataUntouchedBy(MANAGER, names, [appliedBy(MANAGER, [...names, "old"])])).toBe(false);
    // No bookkeeping at all (cleared by someone): nothing is known, write.
    expect(dataUntouchedBy(MANAGER, names, undefined)).toBe(false);
    expect(dataUntouchedBy(MANAGER, names, [])).toBe(false);
  });

  it("writes again a ConfigMap whose content-types annotation is unreadable", () => {
    const broken = rendered(docs);
    broken.metadata.annotations = { ...broken.metadata.annotations, [ANNOTATION_CONTENT_TYPES]: "{" };
    const cached = entry(broken);
    expect(cached.data).toEqual({});
    expect(cached.dataUntouched).toBe(false);
    expect(sameRendered(cached, rendered(docs))).toBe(false);
  });
});
