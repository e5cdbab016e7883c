import { resolve } from "node:path";
import { Registry } from "prom-client";
import { buildApp } from "../server/app.js";
import { FolderStore } from "../store/folder-store.js";
import { HTTP_FLAGS, httpSettings } from "./http-flags.js";
import { processLogging } from "./logger.js";
import { parse, required } from "./usage.js";
import { registerBuildInfo, VERSION } from "./version.js";

/** Resolves when the server has shut down after SIGINT/SIGTERM. */
export async function runServe(args: string[]): Promise<number> {
  const { values } = parse(args, { dir: { type: "string" }, ...HTTP_FLAGS });
  const http = httpSettings(values, 20);
  const { logger, accessLog } = processLogging();
  const dir = resolve(required(values.dir, "--dir"));
  logger.info({ version: VERSION, dir }, "starting");
  const store = new FolderStore(dir, { logger });
  await store.load();
  store.watch();
  const registry = new Registry();
  registerBuildInfo(registry);
  const app = buildApp({ lookup: store.lookup, logger, accessLog, metrics: registry, ...http.app });
  await app.listen(http.listen);
  await new Promise<void>((done) => {
    const stop = () => {
      logger.info("shutting down");
      store.close();
      app.close().then(done, done);
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  return 0;
}
