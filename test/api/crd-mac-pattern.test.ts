// The CRD's MAC pattern (src/api/schema.ts) must accept exactly what parseMac accepts, except the
// URL-encoded colon (%3A), which only occurs in HTTP queries, never in a stored object.
// JS RegExp and Go RE2 agree on this pattern's syntax (groups, classes, counted repeats, anchors).
import { describe, expect, it } from "vitest";
import { tryParseMac } from "../../src/api/mac.ts";
import { MAC_PATTERN } from "../../src/api/schema.ts";

const pattern = new RegExp(MAC_PATTERN);

function hexBytes(n: number, seed: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(((seed * 131 + i * 37) % 256).toString(16).padStart(2, "0"));
  return out;
}

function notations(bytes: string[]): string[] {
  const quads: string[] = [];
  for (let i = 0; i < bytes.length; i += 2) quads.push(bytes.slice(i, i + 2).join(""));
  return [bytes.join(":"), bytes.join("-"), quads.join("."), bytes.join(""), bytes.join(":").toUpperCase()];
}

describe("MAC_PATTERN", () => {
  const corpus = [
    "00:25:90:c0:f7:80",
    "00-25-90-C0-F7-80",
    "0025.90c0.f780",
    "002590c0f780",
    "02:00:5e:10:00:00:00:01",
    "00:25:90:c0:f7",
    "00:25:90:c0:f7:80:",
    "00:25-90:c0:f7:80",
    "0:25:90:c0:f7:80",
    "00:25:90:c0:f7:8g",
    "0025.90c0.f78",
    "002590c0f78",
    " 00:25:90:c0:f7:80",
    "00:25:90:c0:f7:80\n",
    "",
    "zz",
  ];
  for (const n of [4, 5, 6, 7, 8, 10, 19, 20, 21])
    for (let seed = 0; seed < 3; seed++) corpus.push(...notations(hexBytes(n, seed)));

  it.each(corpus)("%j: pattern agrees with parseMac", (input) => {
    expect(pattern.test(input)).toBe(tryParseMac(input) !== undefined);
  });

  it("accepts all three lengths in each notation, and rejects the URL-encoded form parseMac takes", () => {
    for (const n of [6, 8, 20])
      for (const s of notations(hexBytes(n, 1))) expect(pattern.test(s), s).toBe(true);
    expect(tryParseMac("00%3A25%3A90%3Ac0%3Af7%3A80")).toBe("00:25:90:c0:f7:80");
    expect(pattern.test("00%3A25%3A90%3Ac0%3Af7%3A80")).toBe(false);
  });
});
