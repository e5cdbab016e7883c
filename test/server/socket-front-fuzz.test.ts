// Mutated request heads, node:http as the oracle: for each, every byte a client gets from the app
// with the socket front must be the byte it gets from the same app with node:http parsing every
// request (where node:http mishandles pipelined requests, the bytes it gives them one at a time),
// and the server must close the connection once the client has ended its side.
// The cases in socket-front.test.ts are the ones we thought of; these are the ones a seeded random
// walk finds near a plain GET (stray bytes, case, repeated or odd headers, pipelining, heads split
// across reads). The seed is fixed, so a failure is reproducible; the assertion shows the bytes
// sent. FUZZ_SEED=N FUZZ_CASES=N walk elsewhere or further (44,000 cases of eleven seeds pass).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pick, random } from "../support/random.js";
import { exchange, MAC_A, MAC_B, MAC_UNKNOWN, type Running, start } from "./helpers.js";

const CASES = Number(process.env.FUZZ_CASES ?? 1000);
/** Bytes that matter to an HTTP/1.1 parser, and a few that do not. */
const ODD = [...' \t\r\n:",;\x00\x7f\x80\xffaA/%?&=#', "\r\n"];
const TARGETS = [
  `/cloud-config/${MAC_A}`,
  `/cloud-config/${MAC_B}`,
  `/cloud-config/${MAC_UNKNOWN}`,
  `/ipxe?mac=${MAC_A}`,
  `/ipxe?mac=${MAC_A}&x=1`,
  `/nocloud/${MAC_B}/meta-data`,
  `/cloud-config/${MAC_A.replaceAll(":", "-")}`,
  `/cloud-config/${MAC_A.toUpperCase()}`,
  "/healthz",
];
const HEADERS = [
  "Host: ccts",
  "host: ccts",
  "Connection: close",
  "Connection: keep-alive",
  "Connection: Keep-Alive, TE",
  'If-None-Match: "x"',
  "If-None-Match: *",
  "X-Forwarded-For: 10.0.0.1",
  "User-Agent: iPXE/1.21.1",
  "Accept: */*",
  "Content-Length: 0",
  "Transfer-Encoding: chunked",
  "Expect: 100-continue",
  "X-Empty:",
  "X-Spaces:   a  b  ",
];

/** A request near a plain GET: a valid one, then a few random edits. */
function request(rand: () => number): string {
  const version = rand() < 0.85 ? "HTTP/1.1" : pick(rand, ["HTTP/1.0", "HTTP/1.2", "http/1.1", "HTTP/2.0"]);
  const lines = [
    `${rand() < 0.95 ? "GET" : pick(rand, ["HEAD", "get", "POST"])} ${pick(rand, TARGETS)} ${version}`,
  ];
  if (rand() < 0.9) lines.push("Host: ccts");
  const extra = Math.floor(rand() * 3);
  for (let i = 0; i < extra; i++) lines.splice(1 + Math.floor(rand() * lines.length), 0, pick(rand, HEADERS));
  let head = `${lines.join("\r\n")}\r\n\r\n`;
  const edits = Math.floor(rand() * 3);
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(rand() * head.length);
    const what = rand();
    if (what < 0.5) head = head.slice(0, at) + pick(rand, ODD) + head.slice(at);
    else if (what < 0.8) head = head.slice(0, at) + head.slice(at + 1);
    else head = head.slice(0, at) + head.charAt(at).toUpperCase() + head.slice(at + 1);
  }
  return head;
}

/** The parts as a JSON string, bytes outside printable ASCII as \\xNN (JSON leaves \x80-\xff as they are). */
function shown(parts: string[]): string {
  return JSON.stringify(parts).replace(/[\x7f-\xff]/g, (c) => `\\x${c.charCodeAt(0).toString(16)}`);
}

let front: Running;
let node: Running;
beforeAll(async () => {
  front = await start();
  node = await start({ socketFront: false });
});
afterAll(async () => {
  await Promise.all([front.app.close(), node.app.close()]);
});

describe("the socket front against node:http, mutated heads", () => {
  it(`${CASES} seeded cases: the same bytes back`, { timeout: 120_000 }, async () => {
    const rand = random(Number(process.env.FUZZ_SEED ?? 20261202));
    let documents = 0;
    let pipeliningFixes = 0;
    for (let i = 0; i < CASES; i++) {
      const requests = Array.from({ length: rand() < 0.2 ? 2 : 1 }, () => request(rand));
      const bytes = requests.join("");
      // Sometimes the bytes come in two reads, cut at a random place (a head across reads).
      const cut = rand() < 0.2 ? 1 + Math.floor(rand() * (bytes.length - 1)) : 0;
      const parts = cut > 0 ? [bytes.slice(0, cut), bytes.slice(cut)] : [bytes];
      const viaFront = await exchange(front.port, parts, { gapMs: 5 });
      let viaNode = await exchange(node.port, parts, { gapMs: 5 });
      // node:http gets two pipelined cases wrong: a parse error in a later request drops the
      // answers still queued before it, and a later request's Expect puts the 100 Continue
      // between the head and the body of that request's answer. The front, which answers the
      // plain requests before them itself, gives node:http's answers to the requests sent one
      // at a time; those are expected where the two differ.
      if (viaFront !== viaNode && requests.length > 1) {
        const oneAtATime = await exchange(node.port, requests, { oneAtATime: true });
        if (viaFront === oneAtATime) {
          viaNode = oneAtATime;
          pipeliningFixes++;
        }
      }
      expect(viaFront, shown(parts)).toBe(viaNode);
      // Whatever it was sent, the server ends a connection whose client has ended its side.
      expect(viaFront.endsWith("<still open>"), shown(parts)).toBe(false);
      if (viaFront.startsWith("HTTP/1.1 200 OK")) documents++;
    }
    // The walk stays near plain GETs: many answers are documents, not only errors.
    expect(documents).toBeGreaterThan(CASES / 4);
    // The default walk meets both pipelining cases; were it to meet none, the branch went untested.
    // (Another FUZZ_SEED may meet neither: seeds 7 and 8 of 4,000 cases do not.)
    if (process.env.FUZZ_SEED === undefined) expect(pipeliningFixes).toBeGreaterThan(0);
  });
});
