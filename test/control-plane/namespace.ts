// A namespace per test file on the shared test control plane (global-setup.ts), so files that
// run in parallel never see each other's objects. Use in beforeAll/afterAll:
//
//   let ns: TestNamespace;
//   beforeAll(async () => { ns = await testNamespace("machines"); });
//   afterAll(() => ns.cleanup());
import { randomBytes } from "node:crypto";
import { inject } from "vitest";
import { type KubectlResult, runKubectl } from "./harness.ts";

export interface TestNamespace {
  name: string;
  cleanup(): Promise<void>;
}

/** kubeconfig and kubectl of the shared test control plane. */
export function testCluster(): { kubeconfig: string; kubectl: string } {
  const kubeconfig = process.env.KUBECONFIG_CCTS_TEST ?? inject("kubeconfig");
  const kubectl = process.env.CCTS_TEST_KUBECTL ?? inject("kubectl");
  if (!kubeconfig || !kubectl) {
    throw new Error(
      "no test control plane in this run: global-setup.ts starts it for files that import " +
        "test/control-plane/namespace.ts or harness.ts or inject('kubeconfig'); or set CCTS_CONTROL_PLANE=1",
    );
  }
  return { kubeconfig, kubectl };
}

/** kubectl against the shared test control plane; resolves with exit code and output. */
export function kubectl(
  args: string[],
  opts?: { input?: string; timeoutMs?: number },
): Promise<KubectlResult> {
  const { kubeconfig, kubectl: bin } = testCluster();
  return runKubectl(bin, kubeconfig, args, opts);
}

export async function testNamespace(prefix: string): Promise<TestNamespace> {
  // DNS-1123 label: lower case, at most 63 characters.
  const base =
    prefix
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 50) || "test";
  const name = `${base}-${randomBytes(4).toString("hex")}`;
  const manifest = JSON.stringify({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name, labels: { "ccts.io/test": "true" } },
  });
  const created = await kubectl(["create", "-f", "-"], { input: manifest });
  if (created.code !== 0) throw new Error(`creating namespace ${name} failed: ${created.stderr}`);
  return {
    name,
    // Deletion is asynchronous (the namespace controller empties it); nothing waits for it.
    async cleanup() {
      const deleted = await kubectl(["delete", "namespace", name, "--wait=false", "--ignore-not-found"]);
      if (deleted.code !== 0) throw new Error(`deleting namespace ${name} failed: ${deleted.stderr}`);
    },
  };
}
