// `node --max-old-space-size=8000 bench/tools/heap-summary.ts FILE.heapsnapshot [--holders SHAPE]`:
// where a heap's bytes are, by what the objects look like rather than by constructor (most of the
// controller's objects are plain Objects): self size by node type and name, by property shape
// (`object:Object{apiVersion,kind,metadata,...}`, the first 8 property names), and strings by
// pattern (hex runs as #, digit runs as 9). With --holders SHAPE (as the summary prints it,
// `__proto__` included), what holds the nodes of that shape, by
// the holder's shape and the edge's name: how an object of 10,000 copies was found to be kept by
// the controller's write memory (bench/README.md, 2026-12-03).
import { readFileSync } from "node:fs";

interface Snapshot {
  snapshot: {
    meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith("--"));
const holdersOf = args.includes("--holders") ? args[args.indexOf("--holders") + 1] : undefined;
if (!file) {
  process.stderr.write("usage: node bench/tools/heap-summary.ts FILE.heapsnapshot [--holders SHAPE]\n");
  process.exit(2);
}

const { snapshot, nodes, edges, strings } = JSON.parse(readFileSync(file, "utf8")) as Snapshot;
const { meta } = snapshot;
const nodeFields = meta.node_fields.length;
const edgeFields = meta.edge_fields.length;
const nodeType = meta.node_fields.indexOf("type");
const nodeName = meta.node_fields.indexOf("name");
const selfSize = meta.node_fields.indexOf("self_size");
const edgeCount = meta.node_fields.indexOf("edge_count");
const edgeType = meta.edge_fields.indexOf("type");
const edgeName = meta.edge_fields.indexOf("name_or_index");
const edgeTo = meta.edge_fields.indexOf("to_node");
const typeOf = (node: number) => meta.node_types[0][nodes[node + nodeType]!]!;
const nameOf = (node: number) => strings[nodes[node + nodeName]!]!;

/** Each node's shape, and where its edges start. */
const shape = new Map<number, string>();
const firstEdge = new Map<number, number>();
for (let node = 0, edge = 0; node < nodes.length; node += nodeFields) {
  const count = nodes[node + edgeCount]!;
  const names: string[] = [];
  for (let k = 0; k < count; k++) {
    const at = edge + k * edgeFields;
    if (meta.edge_types[0][edges[at + edgeType]!] === "property") names.push(strings[edges[at + edgeName]!]!);
  }
  shape.set(node, `${typeOf(node)}:${nameOf(node).slice(0, 20)}{${names.slice(0, 8).join(",")}}`);
  firstEdge.set(node, edge);
  edge += count * edgeFields;
}

type Tally = Map<string, { bytes: number; count: number }>;
const add = (tally: Tally, key: string, bytes: number) => {
  const entry = tally.get(key) ?? { bytes: 0, count: 0 };
  entry.bytes += bytes;
  entry.count++;
  tally.set(key, entry);
};
const print = (title: string, tally: Tally, rows: number) => {
  process.stdout.write(`--- ${title}\n`);
  for (const [key, { bytes, count }] of [...tally].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, rows)) {
    process.stdout.write(
      `${(bytes / 1048576).toFixed(2).padStart(8)} MiB ${String(count).padStart(8)}  ${key.slice(0, 160)}\n`,
    );
  }
};

if (holdersOf) {
  const holders: Tally = new Map();
  for (const [node, start] of firstEdge) {
    for (let k = 0; k < nodes[node + edgeCount]!; k++) {
      const at = start + k * edgeFields;
      if (shape.get(edges[at + edgeTo]!) !== holdersOf) continue;
      const type = meta.edge_types[0][edges[at + edgeType]!]!;
      const name = type === "element" || type === "hidden" ? `[${type}]` : strings[edges[at + edgeName]!]!;
      add(holders, `<-${name}- ${shape.get(node)}`, 0);
    }
  }
  process.stdout.write(`--- holders of ${holdersOf} (count, by edge and holder shape)\n`);
  for (const [key, { count }] of [...holders].sort((a, b) => b[1].count - a[1].count).slice(0, 30)) {
    process.stdout.write(`${String(count).padStart(8)}  ${key.slice(0, 200)}\n`);
  }
} else {
  const byType: Tally = new Map();
  const byShape: Tally = new Map();
  const byPattern: Tally = new Map();
  let total = 0;
  for (let node = 0; node < nodes.length; node += nodeFields) {
    const type = typeOf(node);
    const bytes = nodes[node + selfSize]!;
    total += bytes;
    add(byType, type.includes("string") ? type : `${type}:${nameOf(node).slice(0, 60)}`, bytes);
    if (type === "object" || type === "array") add(byShape, shape.get(node)!, bytes);
    if (type === "string") {
      add(
        byPattern,
        nameOf(node)
          .replace(/[0-9a-f]{8,}/g, "#")
          .replace(/[0-9]+/g, "9")
          .slice(0, 50),
        bytes,
      );
    }
  }
  process.stdout.write(`total ${(total / 1048576).toFixed(1)} MiB (self sizes)\n`);
  print("by type and name", byType, 30);
  print("objects and arrays by shape", byShape, 40);
  print("strings by pattern", byPattern, 30);
}
