// parseMac against the parser it succeeds: Go's net.ParseMAC (the legacy cloud-config-server's),
// built from test/api/go-parse-mac/ and run over a seeded walk of strings near MAC addresses. Where
// Go accepts, ccts must give the same address; where Go refuses, ccts must refuse too, except for
// its two documented additions: bare hex digits (`aabbccddeeff`, taken as Go takes them with
// colons) and URL-encoded colons (`%3A`, taken as Go takes the decoded string).
// MAC_SEED=N MAC_CASES=N walk elsewhere or further.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tryParseMac } from "../../src/api/mac.js";
import { buildGoProgram, type GoProgram } from "../support/go.js";
import { pick, random } from "../support/random.js";

const CASES = Number(process.env.MAC_CASES ?? 20_000);
const HEX = "0123456789abcdefABCDEF";
/** Byte counts: the three valid ones most often, their neighbours, and some far off. */
const LENGTHS = [6, 6, 6, 6, 8, 8, 20, 20, 5, 7, 9, 19, 21, 0, 1, 2, 3, 4, 10, 16];
/** What a typo, a copy from a web page or a URL puts into a MAC. */
const STRAY = [..."0aF:-.%3g \t\nxX,;_/\u00e9\uff10\u0660", "%3A", "%3a", "%2D", "::", "--", ".."];

let goParseMac: GoProgram;

beforeAll(() => {
  goParseMac = buildGoProgram(join(import.meta.dirname, "go-parse-mac"));
}, 120_000);
afterAll(() => goParseMac?.remove());

/** Go's answers for each input: the canonical address, or undefined where net.ParseMAC refuses. */
function goAnswers(inputs: string[]): Map<string, string | undefined> {
  // JSON strings are Go string literals too (the generator makes no lone surrogates).
  const stdin = `${inputs.map((s) => JSON.stringify(s)).join("\n")}\n`;
  const lines = execFileSync(goParseMac.binary, {
    input: stdin,
    encoding: "utf8",
    maxBuffer: 64 << 20,
  }).split("\n");
  return new Map(inputs.map((s, i) => [s, lines[i] === "!" ? undefined : lines[i]]));
}

/** A random address of `bytes` bytes in one of the notations, case mixed. */
function address(rand: () => number): string {
  const bytes = pick(rand, LENGTHS);
  const pairs = Array.from({ length: bytes }, () => pick(rand, [...HEX]) + pick(rand, [...HEX]));
  switch (pick(rand, ["colon", "hyphen", "dot", "bare", "encoded", "mixed"])) {
    case "colon":
      return pairs.join(":");
    case "hyphen":
      return pairs.join("-");
    case "dot":
      return pairs.join("").replace(/(.{4})(?=.)/g, "$1.");
    case "bare":
      return pairs.join("");
    case "encoded":
      return pairs.join(pick(rand, ["%3A", "%3a"]));
    default:
      return pairs.map((p, i) => (i === 0 ? p : pick(rand, [":", "-", "."]) + p)).join("");
  }
}

/** Up to three edits: insert, delete or replace a character, or cut the string short. */
function mutated(rand: () => number, s: string): string {
  let out = s;
  const edits = Math.floor(rand() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rand() * (out.length + 1));
    switch (pick(rand, ["insert", "delete", "replace", "cut"])) {
      case "insert":
        out = out.slice(0, at) + pick(rand, STRAY) + out.slice(at);
        break;
      case "delete":
        out = out.slice(0, at) + out.slice(at + 1);
        break;
      case "replace":
        out = out.slice(0, at) + pick(rand, STRAY) + out.slice(at + 1);
        break;
      default:
        out = out.slice(0, at);
    }
  }
  return out;
}

/** How the two additions read an input, in Go's terms; the input itself otherwise. */
function asGoWouldNeedIt(s: string): string {
  if (/%3a/i.test(s)) return s.replace(/%3a/gi, ":");
  if (/^[0-9a-fA-F]+$/.test(s) && s.length % 2 === 0) return s.replace(/(..)(?=.)/g, "$1:");
  return s;
}

describe("parseMac against Go's net.ParseMAC", () => {
  it(`${CASES} seeded strings near MAC addresses: the same address, or refused by both`, () => {
    const rand = random(Number(process.env.MAC_SEED ?? 20261202));
    const inputs = Array.from({ length: CASES }, () => {
      const s = address(rand);
      return rand() < 0.5 ? s : mutated(rand, s);
    });
    const go = goAnswers([...new Set(inputs.flatMap((s) => [s, asGoWouldNeedIt(s)]))]);
    const mismatches: string[] = [];
    let accepted = 0;
    let additions = 0;
    for (const input of inputs) {
      const expected = go.get(input) ?? go.get(asGoWouldNeedIt(input));
      const got = tryParseMac(input);
      if (got !== expected) mismatches.push(`${JSON.stringify(input)}: ccts ${got}, Go ${expected}`);
      if (expected) accepted++;
      if (expected && !go.get(input)) additions++;
    }
    expect(mismatches.slice(0, 20)).toEqual([]);
    // The walk reaches both sides and every kind of address: not a run of refusals.
    expect(accepted).toBeGreaterThan(CASES / 8);
    expect(CASES - accepted).toBeGreaterThan(CASES / 4);
    expect(additions).toBeGreaterThan(CASES / 40);
    const lengths = new Set([...go.values()].map((a) => a?.split(":").length));
    expect([...lengths].filter((n) => n !== undefined).sort((a, b) => a! - b!)).toEqual([6, 8, 20]);
  });
});
