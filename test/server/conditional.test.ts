import { describe, expect, it } from "vitest";
import { notModified } from "../../src/server/conditional.js";

describe("notModified (If-None-Match)", () => {
  const etag = '"abc"';
  it.each([
    [etag, true],
    [`W/${etag}`, true],
    [`"x", ${etag}`, true],
    [` "x" ,W/${etag} `, true],
    ["*", true],
    [" * ", true],
    ['"x"', false],
    ["abc", false],
    ['W/"x", "y"', false],
    // `*` is valid only alone (RFC 9110 13.1.2): inside a list it matches nothing.
    ['"x", *', false],
    ["", false],
  ])("%j -> %s", (header, expected) => {
    expect(notModified(header, etag)).toBe(expected);
  });
  it("no header: modified", () => expect(notModified(undefined, etag)).toBe(false));
});
