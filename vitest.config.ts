import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "src/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Integration tests start real processes (servers, cloud-init, QEMU); two cores only.
    maxWorkers: 2,
    globalSetup: ["test/control-plane/global-setup.ts"],
    reporters: ["default", "./test/support/summary-reporter.ts"],
  },
});
