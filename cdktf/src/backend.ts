// Where Terraform keeps the state: Consul (the default, for real deployments) or a local file
// (development only, chosen explicitly). Chosen at synth time by CCTS_TF_BACKEND or the cdktf.json
// context value "backend"; Consul settings come from CCTS_CONSUL_* (or Consul's own CONSUL_HTTP_*)
// variables. The ACL token is never written into the JSON: Terraform/OpenTofu read
// CONSUL_HTTP_TOKEN (or -backend-config=access_token=...) at init.
import { ConsulBackend, type ConsulBackendConfig } from "cdktf";

export type BackendChoice =
  | { kind: "consul"; consul: Omit<ConsulBackendConfig, "accessToken"> }
  | { kind: "local"; path: string };

/** Consul backend that leaves access_token out of the synthesized JSON. */
export class EnvTokenConsulBackend extends ConsulBackend {
  constructor(
    scope: ConstructorParameters<typeof ConsulBackend>[0],
    config: Omit<ConsulBackendConfig, "accessToken">,
  ) {
    // The base class requires the field; it is dropped again below.
    super(scope, { ...config, accessToken: "" });
  }
  override synthesizeAttributes(): { [name: string]: unknown } {
    const { access_token: _drop, ...rest } = super.synthesizeAttributes();
    return rest;
  }
  override synthesizeHclAttributes(): { [name: string]: unknown } {
    const { access_token: _drop, ...rest } = super.synthesizeHclAttributes();
    return rest;
  }
}

export const DEFAULT_CONSUL_PATH = "ccts/terraform/state";

/** Reads the backend choice from the environment and the cdktf context value "backend". */
export function backendFromEnv(env: NodeJS.ProcessEnv, context?: unknown): BackendChoice {
  const kind = env.CCTS_TF_BACKEND ?? (typeof context === "string" ? context : "consul");
  if (kind === "local") return { kind: "local", path: env.CCTS_TF_LOCAL_STATE ?? "terraform.ccts.tfstate" };
  if (kind !== "consul") throw new Error(`CCTS_TF_BACKEND must be "consul" or "local", not "${kind}"`);
  const ssl = (env.CONSUL_HTTP_SSL ?? "").toLowerCase();
  const scheme = env.CCTS_CONSUL_SCHEME ?? (ssl === "true" || ssl === "1" ? "https" : "http");
  if (scheme !== "http" && scheme !== "https") throw new Error(`CCTS_CONSUL_SCHEME must be http or https`);
  const consul: Omit<ConsulBackendConfig, "accessToken"> = {
    address: env.CCTS_CONSUL_ADDRESS ?? env.CONSUL_HTTP_ADDR?.replace(/^https?:\/\//, "") ?? "127.0.0.1:8500",
    scheme,
    path: env.CCTS_CONSUL_PATH ?? DEFAULT_CONSUL_PATH,
    lock: true,
    gzip: false,
    ...(env.CCTS_CONSUL_DATACENTER ? { datacenter: env.CCTS_CONSUL_DATACENTER } : {}),
    ...(env.CCTS_CONSUL_CA_FILE ? { caFile: env.CCTS_CONSUL_CA_FILE } : {}),
  };
  return { kind: "consul", consul };
}
