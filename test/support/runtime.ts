// A controller runtime against the shared test control plane (see test/control-plane/), in a
// namespace of its own: informers synced, reconciling. For the test files that run the controller
// in-process; `stop()` in their afterAll.
import { pino } from "pino";
import { Registry } from "prom-client";
import { inject } from "vitest";
import type { KubeClient } from "../../src/k8s/client.js";
import { type ControllerOptions, ControllerRuntime } from "../../src/k8s/controller-runtime.js";
import { testNamespace } from "../control-plane/namespace.js";
import { kubeClient } from "./kube.js";

export interface TestRuntime {
  ns: string;
  client: KubeClient;
  runtime: ControllerRuntime;
  /** Stops the runtime, closes the client and deletes the namespace. */
  stop(): Promise<void>;
}

/** Options as ControllerOptions; a silent logger and a fresh metrics registry unless given. */
export type TestRuntimeOptions = Omit<ControllerOptions, "client" | "namespace" | "logger" | "metrics"> &
  Partial<Pick<ControllerOptions, "logger" | "metrics">>;

export async function startTestRuntime(
  prefix: string,
  options: TestRuntimeOptions = {},
): Promise<TestRuntime> {
  const { name: ns, cleanup } = await testNamespace(prefix);
  let client: KubeClient | undefined;
  let runtime: ControllerRuntime | undefined;
  const stop = async () => {
    await runtime?.stop();
    client?.close();
    await cleanup();
  };
  try {
    client = await kubeClient(inject("kubeconfig"));
    runtime = new ControllerRuntime({
      logger: pino({ level: "silent" }),
      metrics: new Registry(),
      ...options,
      client,
      namespace: ns,
    });
    await runtime.startInformers();
    runtime.startReconciling();
    return { ns, client, runtime, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
