// cdktf app: `cdktf synth` runs it (cdktf.json "app"), or run it directly with Node 24:
//   node main.ts                      -> cdktf.out/stacks/ccts/cdk.tf.json
//   CCTS_TF_BACKEND=local node main.ts
//   CDKTF_OUTDIR=/tmp/out node main.ts
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { App } from "cdktf";
import { backendFromEnv } from "./src/backend.ts";
import { CctsStack } from "./src/stack.ts";

const here = fileURLToPath(new URL(".", import.meta.url));
const cdktfJson = JSON.parse(readFileSync(join(here, "cdktf.json"), "utf8")) as {
  context?: Record<string, unknown>;
};
const outdir = process.env.CDKTF_OUTDIR ?? join(here, "cdktf.out");
const app = new App({ outdir, context: cdktfJson.context ?? {} });
new CctsStack(app, "ccts", {
  backend: backendFromEnv(process.env, app.node.tryGetContext("backend") ?? cdktfJson.context?.backend),
});
app.synth();
