// The kubeconfig reader on files it writes itself; the integration tests use it against the real
// API server with a token kubeconfig, the deploy tests with service-account tokens.
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import yaml from "js-yaml";
import { afterEach, describe, expect, it } from "vitest";
import { inCluster, loadKubeConfig } from "../../src/k8s/kubeconfig.js";

const b64 = (s: string) => Buffer.from(s).toString("base64");

async function kubeconfig(
  user: Record<string, unknown>,
  cluster: Record<string, unknown> = {},
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "ccts-kubeconfig-"));
  await writeFile(join(dir, "ca.pem"), "CA FROM FILE");
  await writeFile(join(dir, "token"), "token-from-file\n");
  const file = join(dir, "config");
  await writeFile(
    file,
    yaml.dump({
      apiVersion: "v1",
      kind: "Config",
      "current-context": "ctx",
      contexts: [
        { name: "other", context: { cluster: "nope", user: "nope" } },
        { name: "ctx", context: { cluster: "c", user: "u" } },
      ],
      clusters: [{ name: "c", cluster: { server: "https://127.0.0.1:6443", ...cluster } }],
      users: [{ name: "u", user }],
    }),
  );
  return file;
}

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

describe("loadKubeConfig", () => {
  it("reads a bearer token and inline CA data", async () => {
    const access = await loadKubeConfig(
      await kubeconfig({ token: "t0k" }, { "certificate-authority-data": b64("CA DATA") }),
    );
    expect(access.server).toBe("https://127.0.0.1:6443");
    expect(String(access.tls.ca)).toBe("CA DATA");
    expect(await access.authHeaders()).toEqual({ Authorization: "Bearer t0k" });
  });

  it("reads a token file and a CA file relative to the kubeconfig", async () => {
    const access = await loadKubeConfig(
      await kubeconfig({ tokenFile: "token" }, { "certificate-authority": "ca.pem" }),
    );
    expect(String(access.tls.ca)).toBe("CA FROM FILE");
    expect(await access.authHeaders()).toEqual({ Authorization: "Bearer token-from-file" });
  });

  it("reads a client certificate, basic auth and insecure-skip-tls-verify", async () => {
    const cert = await loadKubeConfig(
      await kubeconfig(
        { "client-certificate-data": b64("CERT"), "client-key-data": b64("KEY") },
        { "insecure-skip-tls-verify": true },
      ),
    );
    expect([String(cert.tls.cert), String(cert.tls.key), cert.tls.rejectUnauthorized]).toEqual([
      "CERT",
      "KEY",
      false,
    ]);
    expect(await cert.authHeaders()).toEqual({});
    const basic = await loadKubeConfig(await kubeconfig({ username: "u", password: "p" }));
    expect(await basic.authHeaders()).toEqual({ Authorization: `Basic ${b64("u:p")}` });
  });

  it("follows $KUBECONFIG when no file is given", async () => {
    process.env.KUBECONFIG = `${await kubeconfig({ token: "from-env" })}:/nonexistent`;
    expect(await (await loadKubeConfig()).authHeaders()).toEqual({ Authorization: "Bearer from-env" });
  });

  it("says which context or cluster is missing", async () => {
    const file = await kubeconfig({ token: "x" });
    const broken = yaml.load(await (await import("node:fs/promises")).readFile(file, "utf8")) as Record<
      string,
      unknown
    >;
    broken["current-context"] = "gone";
    await writeFile(file, yaml.dump(broken));
    await expect(loadKubeConfig(file)).rejects.toThrow(/context "gone" not found/);
  });

  it("names the file in every error: missing, not YAML, not a kubeconfig, a file it points to missing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ccts-kubeconfig-bad-"));
    await expect(loadKubeConfig(join(dir, "none"))).rejects.toThrow(
      `kubeconfig ${join(dir, "none")}: ENOENT: no such file or directory`,
    );
    const cases: [content: string, message: RegExp][] = [
      ["clusters: [", /: unexpected end of the stream/],
      ["- a\n- b\n", /: not a kubeconfig \(a YAML mapping\)$/],
      ["apiVersion: v1\nkind: Config\n", /: no current-context$/],
    ];
    for (const [i, [content, message]] of cases.entries()) {
      const file = join(dir, `bad-${i}`);
      await writeFile(file, content);
      const error = await loadKubeConfig(file).then(
        () => undefined,
        (e: Error) => e.message,
      );
      expect(error?.startsWith(`kubeconfig ${file}: `), error).toBe(true);
      expect(error).toMatch(message);
    }
    const missingCa = await kubeconfig({ token: "x" }, { "certificate-authority": "gone.pem" });
    await expect(loadKubeConfig(missingCa)).rejects.toThrow(
      new RegExp(`^kubeconfig ${missingCa}: ENOENT: no such file or directory, open '.*gone\\.pem'`),
    );
  });

  it("uses the Pod's service account in a cluster", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ccts-sa-"));
    await writeFile(join(dir, "token"), "sa-token");
    await writeFile(join(dir, "ca.crt"), "SA CA");
    process.env.KUBERNETES_SERVICE_HOST = "10.96.0.1";
    process.env.KUBERNETES_SERVICE_PORT = "443";
    const access = inCluster(dir)!;
    expect(access.server).toBe("https://10.96.0.1:443");
    expect(String(access.tls.ca)).toBe("SA CA");
    expect(await access.authHeaders()).toEqual({ Authorization: "Bearer sa-token" });
    delete process.env.KUBERNETES_SERVICE_HOST;
    expect(inCluster(dir)).toBeUndefined();
  });
});
