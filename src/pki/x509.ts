// X.509 for the cluster CA and the per-Machine certificates, on WebCrypto through @peculiar/x509
// (no hand-rolled ASN.1). Keys are ECDSA P-256; a user-supplied CA may be RSA or ECDSA.
import "reflect-metadata"; // @peculiar/x509's dependency injection needs it loaded first
import { createPrivateKey, randomBytes, webcrypto, X509Certificate } from "node:crypto";
import * as x509 from "@peculiar/x509";

type CryptoKey = webcrypto.CryptoKey;
type SigningAlgorithm = { name: string; hash: string; namedCurve?: string };

const EC_P256 = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

export interface CertificateAndKey {
  certPem: string;
  keyPem: string;
}

export interface CertificateRequest {
  commonName: string;
  dnsNames: string[];
  ipAddresses: string[];
  notBefore: Date;
  notAfter: Date;
}

export interface CertificateInfo {
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  dnsNames: string[];
  ipAddresses: string[];
  /** SHA-256 fingerprint, to tell which CA issued what. */
  fingerprint: string;
}

const serial = () => {
  const bytes = randomBytes(16);
  bytes[0]! &= 0x7f; // a positive INTEGER
  return bytes.toString("hex");
};

async function exportKey(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey("pkcs8", key), "PRIVATE KEY");
}

/** Imports a PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC) with the signing algorithm it needs. */
async function importSigningKey(pem: string): Promise<{ key: CryptoKey; algorithm: SigningAlgorithm }> {
  const keyObject = createPrivateKey(pem);
  const der = keyObject.export({ type: "pkcs8", format: "der" });
  if (keyObject.asymmetricKeyType === "rsa") {
    const algorithm = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
    return { key: await webcrypto.subtle.importKey("pkcs8", der, algorithm, false, ["sign"]), algorithm };
  }
  if (keyObject.asymmetricKeyType === "ec") {
    const curve = keyObject.asymmetricKeyDetails?.namedCurve;
    const namedCurve = curve === "secp384r1" ? "P-384" : curve === "secp521r1" ? "P-521" : "P-256";
    const hash = namedCurve === "P-256" ? "SHA-256" : namedCurve === "P-384" ? "SHA-384" : "SHA-512";
    const algorithm = { name: "ECDSA", namedCurve, hash };
    return { key: await webcrypto.subtle.importKey("pkcs8", der, algorithm, false, ["sign"]), algorithm };
  }
  throw new Error(`unsupported CA key type ${keyObject.asymmetricKeyType}; use RSA or ECDSA`);
}

export async function generateCA(
  commonName: string,
  notBefore: Date,
  notAfter: Date,
): Promise<CertificateAndKey> {
  const keys = await webcrypto.subtle.generateKey(EC_P256, true, ["sign", "verify"]);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${commonName}`,
    notBefore,
    notAfter,
    signingAlgorithm: EC_P256,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString("pem"), keyPem: await exportKey(keys.privateKey) };
}

/** What issuing needs of a CA: its name, its key imported for signing, its key identifier. */
interface Issuer {
  subject: string;
  signer: { key: CryptoKey; algorithm: SigningAlgorithm };
  authorityKeyIdentifier: x509.Extension;
}

/**
 * The CA of the last certificate issued, parsed and imported once: a cluster's Machines share one
 * CA, and parsing it, importing its key and deriving its key identifier for every certificate was
 * a third of the work of issuing one (2,000 certificates, 8 at a time: 3.1-3.2 -> 2.2 ms of CPU
 * each, peak RSS 169-172 -> 127-130 MiB).
 */
let lastIssuer: { certPem: string; keyPem: string; issuer: Promise<Issuer> } | undefined;

function issuerOf(ca: CertificateAndKey): Promise<Issuer> {
  if (lastIssuer?.certPem === ca.certPem && lastIssuer.keyPem === ca.keyPem) return lastIssuer.issuer;
  const issuer = (async () => {
    const caCert = new x509.X509Certificate(ca.certPem);
    return {
      subject: caCert.subject,
      signer: await importSigningKey(ca.keyPem),
      authorityKeyIdentifier: await x509.AuthorityKeyIdentifierExtension.create(caCert),
    };
  })();
  // A CA whose key cannot be imported stays remembered as failing: the same input fails again.
  lastIssuer = { certPem: ca.certPem, keyPem: ca.keyPem, issuer };
  return issuer;
}

/** A leaf certificate for server and client authentication, signed by `ca`. */
export async function issueCertificate(
  ca: CertificateAndKey,
  request: CertificateRequest,
): Promise<CertificateAndKey> {
  const { subject: issuer, signer, authorityKeyIdentifier } = await issuerOf(ca);
  const keys = await webcrypto.subtle.generateKey(EC_P256, true, ["sign", "verify"]);
  const names = [
    ...request.dnsNames.map((value) => ({ type: "dns" as const, value })),
    ...request.ipAddresses.map((value) => ({ type: "ip" as const, value })),
  ];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${request.commonName}`,
    issuer,
    notBefore: request.notBefore,
    notAfter: request.notAfter,
    signingAlgorithm: signer.algorithm,
    publicKey: keys.publicKey,
    signingKey: signer.key,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([
        x509.ExtendedKeyUsage.serverAuth,
        x509.ExtendedKeyUsage.clientAuth,
      ]),
      new x509.SubjectAlternativeNameExtension(names),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      authorityKeyIdentifier,
    ],
  });
  return { certPem: cert.toString("pem"), keyPem: await exportKey(keys.privateKey) };
}

/** Reads a PEM certificate with Node's own X.509 parser. */
export function certificateInfo(pem: string): CertificateInfo {
  const cert = new X509Certificate(pem);
  const sans = (cert.subjectAltName ?? "").split(/,\s*/).filter(Boolean);
  return {
    subject: cert.subject,
    issuer: cert.issuer,
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    dnsNames: sans.filter((s) => s.startsWith("DNS:")).map((s) => s.slice(4)),
    ipAddresses: sans.filter((s) => s.startsWith("IP Address:")).map((s) => s.slice("IP Address:".length)),
    fingerprint: cert.fingerprint256,
  };
}

/** True when `certPem` was signed by the key of `caPem`. */
export function issuedBy(certPem: string, caPem: string): boolean {
  try {
    const ca = new X509Certificate(caPem);
    const cert = new X509Certificate(certPem);
    return cert.checkIssued(ca) && cert.verify(ca.publicKey);
  } catch {
    return false;
  }
}

/** True when the CA certificate and key belong together (a user-supplied CA is checked with it). */
export function keyMatchesCertificate(pair: CertificateAndKey): boolean {
  try {
    return new X509Certificate(pair.certPem).checkPrivateKey(createPrivateKey(pair.keyPem));
  } catch {
    return false;
  }
}

/** A PEM private key anywhere in a document. */
export function containsPrivateKey(text: string): boolean {
  // The plain search first: most documents hold no key, and it scans faster than the pattern.
  return text.includes("PRIVATE KEY-----") && /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text);
}
