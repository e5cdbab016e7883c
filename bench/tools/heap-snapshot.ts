// `node bench/tools/heap-snapshot.ts PID OUT`: writes a V8 heap snapshot of a running Node process
// (a bench's controller, say) to OUT without restarting it: SIGUSR1 opens the process's inspector
// on 127.0.0.1:9229, and HeapProfiler.takeHeapSnapshot streams the snapshot over its WebSocket.
// The process stops for the snapshot (~15 s at 10,000 Machines) and its RSS jumps: a benchmark's
// figures after one are void. Read the file with heap-summary.ts or Chrome's DevTools.
import { createWriteStream } from "node:fs";

const [pid, out] = process.argv.slice(2);
if (!pid || !out) {
  process.stderr.write("usage: node bench/tools/heap-snapshot.ts PID OUT.heapsnapshot\n");
  process.exit(2);
}

process.kill(Number(pid), "SIGUSR1");
await new Promise((resolve) => setTimeout(resolve, 1000));
const targets = (await (await fetch("http://127.0.0.1:9229/json/list")).json()) as {
  webSocketDebuggerUrl: string;
}[];
const socket = new WebSocket(targets[0]!.webSocketDebuggerUrl);
await new Promise((resolve) => socket.addEventListener("open", resolve, { once: true }));

const file = createWriteStream(out);
socket.addEventListener("message", (event) => {
  const message = JSON.parse(String(event.data)) as { method?: string; params?: { chunk: string } };
  if (message.method === "HeapProfiler.addHeapSnapshotChunk") file.write(message.params!.chunk);
});
const started = Date.now();
await new Promise<void>((resolve) => {
  // The answer to request 1 comes after the last chunk.
  socket.addEventListener("message", (event) => {
    if ((JSON.parse(String(event.data)) as { id?: number }).id === 1) resolve();
  });
  socket.send(JSON.stringify({ id: 1, method: "HeapProfiler.takeHeapSnapshot", params: {} }));
});
await new Promise((resolve) => file.end(resolve));
socket.close();
process.stdout.write(`${out}: snapshot of ${pid} in ${Date.now() - started} ms\n`);
