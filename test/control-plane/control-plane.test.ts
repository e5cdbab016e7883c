// The shared test control plane (global-setup.ts) is a working cluster: identities and RBAC,
// garbage collection by owner reference, namespace deletion, and the env/inject hand-over.
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { TEST_USER } from "./harness.ts";
import { kubectl, type TestNamespace, testNamespace } from "./namespace.ts";

let ns: TestNamespace;
beforeAll(async () => {
  ns = await testNamespace("control-plane");
});
afterAll(() => ns?.cleanup());

async function eventually(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
}

describe("shared test control plane", () => {
  it("is handed to test workers by inject() and by env", () => {
    expect(inject("kubeconfig")).toBe(process.env.KUBECONFIG_CCTS_TEST);
    expect(inject("kubectl")).toBe(process.env.CCTS_TEST_KUBECTL);
    expect(inject("kubectl")).toBe(`${inject("controlPlaneBinDir")}/kubectl`);
    const version = execFileSync(inject("kubectl"), ["version", "-o", "json"], {
      env: { ...process.env, KUBECONFIG: inject("kubeconfig") },
    }).toString();
    expect(JSON.parse(version).serverVersion.gitVersion).toMatch(/^v1\.\d+\.\d+$/);
  });

  it("serves on loopback with a CA the kubeconfig trusts (no insecure-skip-tls-verify)", async () => {
    const view = await kubectl(["config", "view", "--raw", "-o", "json"]);
    const cluster = JSON.parse(view.stdout).clusters[0].cluster;
    expect(cluster.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(cluster["insecure-skip-tls-verify"]).toBeUndefined();
    expect(cluster["certificate-authority-data"]).toBeTruthy();
  });

  it("authorizes with RBAC: admin may do anything, the test user nothing until bound", async () => {
    const admin = await kubectl(["auth", "can-i", "create", "machines.ccts.io", "-n", ns.name]);
    expect(admin.stdout.trim()).toBe("yes");
    const user = await kubectl([
      "auth",
      "can-i",
      "create",
      "machines.ccts.io",
      "-n",
      ns.name,
      `--as=${TEST_USER}`,
    ]);
    expect(user.stdout.trim()).toBe("no");
    const bind = await kubectl([
      "create",
      "rolebinding",
      "test-user-edit",
      "-n",
      ns.name,
      "--clusterrole=admin",
      `--user=${TEST_USER}`,
    ]);
    expect(bind.code).toBe(0);
    // The RBAC authorizer sees the binding through an informer: allow it a moment.
    await eventually(
      async () =>
        (
          await kubectl(["auth", "can-i", "get", "configmaps", "-n", ns.name, `--as=${TEST_USER}`])
        ).stdout.trim() === "yes",
      10_000,
      "the rolebinding takes effect",
    );
  });

  it("garbage-collects a ConfigMap when its owning Machine is deleted", async () => {
    const created = await kubectl(["create", "-n", ns.name, "-f", "-", "-o", "jsonpath={.metadata.uid}"], {
      input: JSON.stringify({
        apiVersion: "ccts.io/v1alpha1",
        kind: "Machine",
        metadata: { name: "owner" },
        spec: { clusterDesc: "lab", mac: "52:54:00:00:00:01" },
      }),
    });
    expect(created.code).toBe(0);
    const uid = created.stdout;
    const cm = await kubectl(["create", "-n", ns.name, "-f", "-"], {
      input: JSON.stringify({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: {
          name: "owned",
          ownerReferences: [
            { apiVersion: "ccts.io/v1alpha1", kind: "Machine", name: "owner", uid, controller: true },
          ],
        },
        data: { "cloud-config": "#cloud-config\n" },
      }),
    });
    expect(cm.stderr).toBe("");
    await kubectl(["delete", "machine.ccts.io", "owner", "-n", ns.name, "--wait=true"]);
    await eventually(
      async () => (await kubectl(["get", "configmap", "owned", "-n", ns.name])).stderr.includes("NotFound"),
      45_000,
      "ConfigMap owned by a deleted Machine is garbage-collected",
    );
  }, 60_000);

  it("deletes a namespace with everything in it (namespace controller)", async () => {
    const extra = await testNamespace("ns-delete");
    await kubectl(["create", "configmap", "x", "-n", extra.name, "--from-literal=a=b"]);
    await extra.cleanup();
    await eventually(
      async () => (await kubectl(["get", "namespace", extra.name])).stderr.includes("NotFound"),
      45_000,
      `namespace ${extra.name} is gone`,
    );
  }, 60_000);
});
