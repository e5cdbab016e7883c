// Issuing against more than one CA in one process: the issuer of the last certificate is kept
// parsed and imported, and must never sign for another CA.
import { X509Certificate } from "node:crypto";
import { describe, expect, it } from "vitest";
import { generateCA, issueCertificate, issuedBy } from "../../src/pki/x509.js";

const now = Date.now();
const request = (name: string) => ({
  commonName: name,
  dnsNames: [name],
  ipAddresses: ["10.0.0.1"],
  notBefore: new Date(now),
  notAfter: new Date(now + 86_400_000),
});

describe("issueCertificate", () => {
  it("signs with the CA it is given, whichever CA came before", async () => {
    const a = await generateCA("ca a", new Date(now), new Date(now + 10 * 86_400_000));
    const b = await generateCA("ca b", new Date(now), new Date(now + 10 * 86_400_000));
    for (const [ca, other, name] of [
      [a, b, "m-1"],
      [a, b, "m-2"],
      [b, a, "m-3"],
      [a, b, "m-4"],
    ] as const) {
      const { certPem } = await issueCertificate(ca, request(name));
      expect(issuedBy(certPem, ca.certPem)).toBe(true);
      expect(issuedBy(certPem, other.certPem)).toBe(false);
      const leaf = new X509Certificate(certPem);
      expect(leaf.issuer).toBe(new X509Certificate(ca.certPem).subject);
      expect(leaf.subject).toBe(`CN=${name}`);
    }
  });

  it("reports a CA key it cannot use, then issues with a good CA", async () => {
    const good = await generateCA("ca good", new Date(now), new Date(now + 10 * 86_400_000));
    const bad = {
      certPem: good.certPem,
      keyPem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    };
    await expect(issueCertificate(bad, request("m-5"))).rejects.toThrow();
    await expect(issueCertificate(bad, request("m-6"))).rejects.toThrow();
    const { certPem } = await issueCertificate(good, request("m-7"));
    expect(issuedBy(certPem, good.certPem)).toBe(true);
  });
});
