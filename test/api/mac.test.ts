import { describe, expect, it } from "vitest";
import { MacError, macHostname, parseMac, tryParseMac } from "../../src/api/mac.js";

describe("parseMac", () => {
  const canonical = "00:25:90:c0:f7:80";
  it.each([
    ["00:25:90:c0:f7:80", canonical],
    ["00:25:90:C0:F7:80", canonical],
    ["00-25-90-c0-f7-80", canonical],
    ["00-25-90-C0-F7-80", canonical],
    ["0025.90c0.f780", canonical],
    ["0025.90C0.F780", canonical],
    ["002590c0f780", canonical],
    ["002590C0F780", canonical],
    ["00%3A25%3A90%3Ac0%3Af7%3A80", canonical],
    ["00%3a25%3a90%3ac0%3af7%3a80", canonical],
    // EUI-64 and 20-byte InfiniBand addresses, as Go's net.ParseMAC accepts them
    ["02:00:5e:10:00:00:00:01", "02:00:5e:10:00:00:00:01"],
    ["02-00-5e-10-00-00-00-01", "02:00:5e:10:00:00:00:01"],
    ["0200.5e10.0000.0001", "02:00:5e:10:00:00:00:01"],
    [
      "00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01",
      "00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01",
    ],
    [
      "00%3A00%3A00%3A00%3Afe%3A80%3A00%3A00%3A00%3A00%3A00%3A00%3A02%3A00%3A5e%3A10%3A00%3A00%3A00%3A01",
      "00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01",
    ],
    [
      "0000.0000.fe80.0000.0000.0000.0200.5e10.0000.0001",
      "00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01",
    ],
  ])("accepts %s", (input, expected) => {
    expect(parseMac(input)).toBe(expected);
  });

  it.each([
    "",
    "00:25:90:c0:f7",
    "00:25:90:c0:f7:80:00",
    "00:25:90:c0:f7:8",
    "00:25:90:c0:f7:800",
    "00:25:90-c0:f7:80",
    "00:25:90:c0:f7:zz",
    "0025.90c0.f78",
    "0025.90c0.f780.",
    "002590c0f78",
    "002590c0f7800",
    "00 25 90 c0 f7 80",
    " 00:25:90:c0:f7:80",
    "00:25:90:c0:f7:80\n",
    "00%3A25%3A90%3Ac0%3Af7%3A8",
    "00%2525%3A90%3Ac0%3Af7%3A80",
    "../../etc/passwd",
    "a".repeat(10_000),
  ])("rejects %j", (input) => {
    expect(() => parseMac(input)).toThrow(MacError);
    expect(tryParseMac(input)).toBeUndefined();
  });

  it("names the input and the problem, shortened", () => {
    expect(() => parseMac("00:25:90:c0:f7")).toThrow(/invalid MAC address "00:25:90:c0:f7": 5 bytes/);
    const long = () => parseMac("x".repeat(1000));
    expect(long).toThrow(/too long/);
    try {
      long();
    } catch (e) {
      expect((e as Error).message.length).toBeLessThan(200);
    }
  });

  it("never throws anything but MacError on random input, and accepted output is canonical", () => {
    // Deterministic pseudo-random strings over an alphabet rich in MAC-like characters.
    let seed = 42;
    const next = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    const alphabet = "0123456789abcdefABCDEF:-.%3Agxz \n\u00e9/\\";
    for (let i = 0; i < 20_000; i++) {
      const len = next() % 70;
      let s = "";
      for (let j = 0; j < len; j++) s += alphabet[next() % alphabet.length];
      try {
        const mac = parseMac(s);
        expect(mac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2})*$/);
        expect(parseMac(mac)).toBe(mac);
      } catch (e) {
        expect(e).toBeInstanceOf(MacError);
      }
    }
    // Also random valid MACs in every notation round-trip.
    for (let i = 0; i < 2_000; i++) {
      const bytes = Array.from({ length: 6 }, () => (next() % 256).toString(16).padStart(2, "0"));
      const mac = bytes.join(":");
      expect(parseMac(bytes.join("-").toUpperCase())).toBe(mac);
      expect(parseMac(bytes.join(""))).toBe(mac);
      expect(parseMac(`${bytes[0]}${bytes[1]}.${bytes[2]}${bytes[3]}.${bytes[4]}${bytes[5]}`)).toBe(mac);
      expect(parseMac(encodeURIComponent(mac))).toBe(mac);
    }
  });
});

describe("macHostname", () => {
  it("is the legacy default hostname", () => {
    expect(macHostname("00:25:90:c0:f7:80")).toBe("00-25-90-c0-f7-80");
  });
});
