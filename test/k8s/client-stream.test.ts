// How a watch stream is cut into its JSON objects, whatever the chunks: a line cut inside a
// multi-byte character, at its newline, or across many chunks. The real API server's watches are
// covered by the informer and controller tests; there the chunk boundaries cannot be chosen.
import { describe, expect, it } from "vitest";
import { JsonLines } from "../../src/k8s/client.js";

const objects = [
  { type: "ADDED", object: { name: "ä-ö-ü €", n: 1 } },
  { type: "MODIFIED", object: { name: "long", text: "x€".repeat(20_000) } },
  { type: "DELETED", object: { name: "last", n: 3 } },
];
const bytes = Buffer.from(`${objects.map((o) => JSON.stringify(o)).join("\n")}\n\n`, "utf8");

function cutAt(positions: number[]): Buffer[] {
  const ends = [...new Set([...positions, bytes.length])].sort((a, b) => a - b);
  return ends.map((end, i) => bytes.subarray(i === 0 ? 0 : ends[i - 1], end));
}

function read(chunks: Buffer[]): unknown[] {
  const lines = new JsonLines();
  const received: unknown[] = [];
  for (const chunk of chunks) lines.push(chunk, (o) => received.push(o));
  return received;
}

describe("JsonLines", () => {
  const newlines = [...bytes.entries()].filter(([, b]) => b === 0x0a).map(([i]) => i);
  const inUmlaut = bytes.indexOf(Buffer.from("ä")) + 1;
  const inEuro = bytes.indexOf(Buffer.from("€")) + 2;

  it.each([
    ["one chunk", []],
    ["inside multi-byte characters", [inUmlaut, inEuro]],
    ["just before and after each newline", newlines.flatMap((n) => [n, n + 1])],
    ["every 1,000 bytes", Array.from({ length: Math.floor(bytes.length / 1000) }, (_, i) => (i + 1) * 1000)],
    ["every byte", Array.from({ length: bytes.length - 1 }, (_, i) => i + 1)],
  ])("hands over every object whole: %s", (_name, positions) => {
    expect(read(cutAt(positions as number[]))).toEqual(objects);
  });

  it("keeps an unfinished line for the next chunk", () => {
    const lines = new JsonLines();
    const received: unknown[] = [];
    lines.push(Buffer.from('{"a":'), (o) => received.push(o));
    expect(received).toEqual([]);
    lines.push(Buffer.from('1}\n{"b"'), (o) => received.push(o));
    expect(received).toEqual([{ a: 1 }]);
  });
});
