import { resolve } from "node:path";
import { pino } from "pino";
import { buildApp } from "../server/app.js";
import { FolderStore } from "../store/folder-store.js";
import { parse, port, required } from "./usage.js";

/** Resolves when the server has shut down after SIGINT/SIGTERM. */
export async function runServe(args: string[]): Promise<number> {
  const { values } = parse(args, {
    dir: { type: "string" },
    port: { type: "string" },
    host: { type: "string", default: "0.0.0.0" },
    assets: { type: "string" },
  });
  const logger = pino({ level: process.env.CCTS_LOG_LEVEL ?? "info" });
  const store = new FolderStore(resolve(required(values.dir, "--dir")), { logger });
  await store.load();
  store.watch();
  const app = buildApp({
    lookup: store.lookup,
    assetsDir: values.assets ? resolve(values.assets) : undefined,
    logger,
  });
  await app.listen({ port: port(values.port, 8080), host: values.host! });
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
