// The RBAC in deploy/ grants exactly what src/k8s/permissions.ts lists, per ServiceAccount: no
// more (least privilege), no less (the component would hit 403s). The real API server's answers
// for the same identities are checked in install.test.ts.
import { describe, expect, it } from "vitest";
import { PERMISSIONS, type Permission } from "../../src/k8s/permissions.js";
import { BASE_DIR, type K8sObject, loadKustomization } from "./manifests.js";

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

const objects = loadKustomization(BASE_DIR);
const of = (kind: string) => objects.filter((o) => o.kind === kind);
const NAMESPACE = "ccts-system";
/** The documents namespace (--documents-namespace): Permissions of scope "documents" are granted there. */
const DOCUMENTS_NAMESPACE = "ccts-documents";

/** One granted (scope, group, resource, verb, names) per string, so sets compare exactly. */
function grantsOfPermissions(perms: readonly Permission[]): string[] {
  return perms
    .flatMap((p) => p.verbs.map((v) => grant(p.scope, p.apiGroup, p.resource, v, p.resourceNames)))
    .sort();
}

function grant(
  scope: string,
  group: string,
  resource: string,
  verb: string,
  names?: readonly string[],
): string {
  return `${scope} ${group || "core"} ${resource} ${verb} ${names?.length ? [...names].sort().join(",") : "*"}`;
}

function grantsOfRules(scope: string, rules: Rule[]): string[] {
  return rules
    .flatMap((r) =>
      (r.apiGroups ?? []).flatMap((g) =>
        (r.resources ?? []).flatMap((res) =>
          (r.verbs ?? []).map((v) => grant(scope, g, res, v, r.resourceNames)),
        ),
      ),
    )
    .sort();
}

/** What the manifests grant a ServiceAccount, through every binding that names it. */
function grantsOfServiceAccount(name: string): string[] {
  const bindings = [...of("RoleBinding"), ...of("ClusterRoleBinding")].filter((b) =>
    (b.subjects ?? []).some(
      (s: { kind: string; name: string; namespace?: string }) =>
        s.kind === "ServiceAccount" && s.name === name,
    ),
  );
  return bindings
    .flatMap((b) => {
      const role = objects.find(
        (o) =>
          o.kind === b.roleRef.kind &&
          o.metadata.name === b.roleRef.name &&
          (b.kind === "ClusterRoleBinding" || o.metadata.namespace === b.metadata.namespace),
      );
      if (!role)
        throw new Error(
          `${b.kind} ${b.metadata.name} refers to a missing ${b.roleRef.kind} ${b.roleRef.name}`,
        );
      if (role.metadata.namespace !== b.metadata.namespace)
        throw new Error(`RoleBinding ${b.metadata.name} refers to a Role of another namespace`);
      const scope =
        b.kind === "ClusterRoleBinding"
          ? "cluster"
          : b.metadata.namespace === DOCUMENTS_NAMESPACE
            ? "documents"
            : "namespace";
      return grantsOfRules(scope, role.rules ?? []);
    })
    .sort();
}

describe("deploy/ RBAC matches src/k8s/permissions.ts", () => {
  for (const [account, perms] of Object.entries(PERMISSIONS)) {
    it(`grants ${account} exactly its permissions`, () => {
      expect(grantsOfServiceAccount(account)).toEqual(grantsOfPermissions(perms));
    });
  }

  it("has one ServiceAccount per component and no other", () => {
    expect(
      of("ServiceAccount")
        .map((s) => s.metadata.name)
        .sort(),
    ).toEqual(Object.keys(PERMISSIONS).sort());
  });

  it("runs each Deployment under its component's own ServiceAccount", () => {
    const deployments = of("Deployment");
    expect(deployments.map((d) => [d.metadata.name, d.spec.template.spec.serviceAccountName]).sort()).toEqual(
      [
        ["ccts-controller", "ccts-controller"],
        ["ccts-server", "ccts-server"],
      ],
    );
  });

  it("binds only in its own and the documents namespace, to its own ServiceAccounts, with nothing cluster-wide", () => {
    expect(of("ClusterRole")).toEqual([]);
    expect(of("ClusterRoleBinding")).toEqual([]);
    for (const b of of("RoleBinding")) {
      expect([NAMESPACE, DOCUMENTS_NAMESPACE]).toContain(b.metadata.namespace);
      expect(b.roleRef.kind).toBe("Role");
      for (const s of b.subjects)
        expect(s).toEqual({ kind: "ServiceAccount", name: expect.any(String), namespace: NAMESPACE });
    }
    // Every Role is bound (an unbound Role is dead weight that someone will bind by mistake).
    const bound = new Set(of("RoleBinding").map((b) => b.roleRef.name));
    for (const r of of("Role"))
      expect(bound.has(r.metadata.name), `Role ${r.metadata.name} unbound`).toBe(true);
  });

  it("uses no wildcard and no escalation verb", () => {
    const rules: Rule[] = [...of("Role"), ...of("ClusterRole")].flatMap((r: K8sObject) => r.rules ?? []);
    for (const r of rules) {
      for (const field of [r.apiGroups, r.resources, r.verbs, r.resourceNames])
        expect(field ?? []).not.toContain("*");
      expect(r.verbs).not.toEqual(expect.arrayContaining(["escalate"]));
      expect(r.verbs).not.toEqual(expect.arrayContaining(["bind"]));
      expect(r.verbs).not.toEqual(expect.arrayContaining(["impersonate"]));
      expect(r.nonResourceURLs).toBeUndefined();
    }
  });

  it("lets the server read Secrets only in the documents namespace", () => {
    const serverSecrets = PERMISSIONS["ccts-server"].filter((p) => p.resource === "secrets");
    expect(serverSecrets.map((p) => p.scope)).toEqual(["documents"]);
    expect(grantsOfServiceAccount("ccts-server").filter((g) => g.includes(" secrets "))).toEqual([
      "documents core secrets get *",
      "documents core secrets list *",
      "documents core secrets watch *",
    ]);
  });

  it("lists permissions in a form RBAC can express", () => {
    for (const perms of Object.values(PERMISSIONS)) {
      for (const p of perms) {
        expect(p.verbs.length).toBeGreaterThan(0);
        expect(p.why.length).toBeGreaterThan(0);
        // resourceNames cannot limit create or deletecollection: the authorizer sees no name.
        if (p.resourceNames) for (const v of p.verbs) expect(["create", "deletecollection"]).not.toContain(v);
      }
    }
  });
});
