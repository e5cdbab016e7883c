// The reference server: Debian's nginx, one process (no master, no daemon), on a loopback port,
// with a generated config and every path inside the run's temp dir. Never the system service.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Proc, startProc } from "./procs.ts";
import { waitUntil } from "./util.ts";

export async function startNginx(dir: string, root: string, port: number, logDir: string): Promise<Proc> {
  mkdirSync(join(dir, "temp"), { recursive: true });
  const conf = join(dir, "nginx.conf");
  const t = (name: string) => join(dir, "temp", name);
  writeFileSync(
    conf,
    `daemon off;
master_process off;
worker_processes 1;
pid ${join(dir, "nginx.pid")};
error_log ${join(logDir, "nginx-error.log")} warn;
events { worker_connections 4096; }
http {
  access_log ${join(logDir, "nginx-access.log")};
  client_body_temp_path ${t("body")};
  proxy_temp_path ${t("proxy")};
  fastcgi_temp_path ${t("fastcgi")};
  uwsgi_temp_path ${t("uwsgi")};
  scgi_temp_path ${t("scgi")};
  default_type text/plain;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000000;
  keepalive_timeout 65;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location / { }
  }
}
`,
  );
  const proc = startProc(
    "nginx",
    "nginx",
    ["-p", `${dir}/`, "-c", conf, "-e", join(logDir, "nginx-error.log")],
    logDir,
  );
  await waitUntil(
    "nginx to listen",
    async () => (await fetch(`http://127.0.0.1:${port}/`)).status > 0,
    10_000,
    50,
  );
  return proc;
}
