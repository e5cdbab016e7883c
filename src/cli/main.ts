#!/usr/bin/env node
// The ccts command line. Each subcommand lives in its own module; this file only dispatches.
import { UsageError } from "./usage.js";

const USAGE = `ccts: boot documents for bare-metal machines

Usage:
  ccts serve --dir DIR [HTTP flags]
      Serve the ClusterDesc, Machines and templates in DIR (embedded mode, no Kubernetes).
  ccts render --dir DIR --mac MAC [--output cloud-config]
  ccts render --dir DIR --cluster NAME [--namespace NS] [--output dnsmasq.conf]
      Print one rendered document of a Machine or a ClusterDesc; exit 1 with the error when it
      does not render.
  ccts check --dir DIR
      List every file ccts serve --dir would refuse and every document that would not render;
      exit 1 when there is any (for the CI of a template repository).
  ccts import LEGACY.yml [--name NAME] [--namespace NS]
      Print a legacy cluster-desc.yml as one ClusterDesc and one Machine per node.
  ccts controller [--kubeconfig K] [--namespace NS] [--documents-namespace NS] [--metrics-port 9090]
                  [--concurrency 8] [--resync 10m] [--no-leader-elect] [--lease-namespace NS]
                  [--lease-name N] [--lease-duration 10s] [--identity ID] [--git-cache-dir DIR]
      Reconcile Machines and ClusterDescs into rendered ConfigMaps (all namespaces unless --namespace);
      documents holding private keys go to Secrets in --documents-namespace (default: the Machine's).
  ccts server --cache-dir DIR [--kubeconfig K] [--namespace NS] [--documents-namespace NS]
                [--documents-in-memory] [HTTP flags]
      Serve the rendered ConfigMaps (cluster mode), from memory and a disk cache that outlives API outages;
      documents Secrets are read from --documents-namespace (default: --namespace). The documents'
      bytes live in a file in --cache-dir (page cache); --documents-in-memory keeps them in the heap
      (faster per request, ~8 MB more RSS per 1,000 Machines).
  ccts version
      Print the version of ccts and of the Node.js running it.
  ccts help

HTTP flags (serve, server):
  --port 8080 --host 0.0.0.0     where to listen
  --assets DIR                   serve DIR under /assets/ (kernels, initrds)
  --rate-limit N --rate-burst 100
                                 per-client token bucket (requests/s, burst); 0 turns it off;
                                 default 20 for serve, 0 for server (behind a Service or proxy)
  --trusted-proxies A,B          proxies (addresses or CIDRs) whose X-Forwarded-For names the client
  --authorize-by-address         serve a machine's documents only to the addresses it declares
  --boot-retry-every 10s --boot-retry-tries 60
                                 /boot.ipxe tries a failed chain again this often, this many times
                                 in all, then exits to the firmware's next boot device
`;

// Loaded on demand, so each command loads only what it uses (start-up time and memory).
const commands: Record<string, () => Promise<(args: string[]) => Promise<number>>> = {
  serve: async () => (await import("./serve.js")).runServe,
  render: async () => (await import("./render.js")).runRender,
  check: async () => (await import("./check.js")).runCheck,
  import: async () => (await import("./import.js")).runImport,
  controller: async () => (await import("./controller.js")).runController,
  server: async () => (await import("./server.js")).runServer,
};

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    process.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command === "version" || command === "--version") {
    const { VERSION } = await import("./version.js");
    process.stdout.write(`ccts ${VERSION} (Node.js ${process.version})\n`);
    return 0;
  }
  const load = commands[command];
  if (!load) {
    process.stderr.write(`ccts: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
    return 2;
  }
  try {
    const run = await load();
    return await run(args);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`ccts ${command}: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    process.stderr.write(`ccts ${command}: ${(e as Error).message}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // serve keeps running; it resolves only on shutdown.
    process.exitCode = code;
    // A command that failed part way may have left a listening socket or a timer behind (a
    // server once kept serving, with no watch, after its error was printed): failure ends the
    // process. stdout and stderr are synchronous here (files and pipes on Linux), the log too.
    if (code !== 0) process.exit(code);
  },
  (e) => {
    process.stderr.write(`ccts: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
