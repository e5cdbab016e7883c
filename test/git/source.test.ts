// Pure parts of templates from git: interval parsing, URL and ref checks, scrubbing, the mapping of
// files to templates, and template resolution from the git ConfigMap.
import { describe, expect, it } from "vitest";
import type { ClusterDesc } from "../../src/api/types.js";
import { credentialsFromSecret } from "../../src/git/repo.js";
import {
  DEFAULT_INTERVAL_MS,
  normalizePath,
  parseInterval,
  refProblem,
  scrub,
  templatesFromFiles,
  urlProblem,
} from "../../src/git/source.js";
import { gitTemplatesConfigMapName } from "../../src/render/git-templates.js";
import { resolveDnsmasqTemplate, resolveTemplates, templateConfigMapNames } from "../../src/render/index.js";

describe("parseInterval", () => {
  it.each([
    [undefined, DEFAULT_INTERVAL_MS],
    ["", DEFAULT_INTERVAL_MS],
    ["2s", 2000],
    ["10m", 600_000],
    ["1h", 3_600_000],
  ])("%s -> %d ms", (value, ms) => expect(parseInterval(value)).toBe(ms));
  it.each(["0s", "10", "1d", "5 m", "-1m", "1.5m"])("refuses %s", (value) =>
    expect(() => parseInterval(value)).toThrow(),
  );
});

describe("urlProblem", () => {
  it.each([
    "https://git.example.org/ops/templates.git",
    "http://127.0.0.1:8080/templates.git",
    "ssh://git@git.example.org:2222/ops/templates.git",
    "git@git.example.org:ops/templates.git",
    "git://git.example.org/templates.git",
  ])("accepts %s", (url) => expect(urlProblem(url)).toBeUndefined());
  it.each([
    ["file:///etc", /scheme file/],
    ["/srv/git/templates.git", /neither/],
    ["ext::sh -c touch% /tmp/pwned", /blanks/],
    ["ext::sh", /scheme ext|neither/],
    ["--upload-pack=touch /tmp/x", /start with '-'/],
    ["https://user:hunter22@git.example.org/t.git", /credentials/],
    ["https://ghp_token123@github.com/o/t.git", /credentials/],
  ])("refuses %s", (url, why) => expect(urlProblem(url)).toMatch(why));
});

describe("refProblem and normalizePath", () => {
  it.each(["main", "HEAD", "v1.2.3", "release/2024-01", "0123456789abcdef0123456789abcdef01234567"])(
    "accepts ref %s",
    (ref) => expect(refProblem(ref)).toBeUndefined(),
  );
  it.each(["-x", "--upload-pack=x", "a..b", "a b", "x.lock", "main:refs/x"])("refuses ref %s", (ref) =>
    expect(refProblem(ref)).toBeDefined(),
  );
  it.each([
    [undefined, ""],
    ["/", ""],
    ["clusters/lab", "clusters/lab"],
    ["/clusters//lab/", "clusters/lab"],
    ["./clusters/lab", "clusters/lab"],
  ])("path %s -> %s", (path, want) => expect(normalizePath(path)).toEqual({ path: want }));
  it.each(["../x", "clusters/../../etc", "a\\b"])("refuses path %s", (path) =>
    expect(normalizePath(path)).toHaveProperty("error"),
  );
});

describe("scrub", () => {
  it("hides userinfo in http(s) URLs and passwords in any URL", () => {
    expect(scrub("fatal: unable to access 'https://u:s3cr3t@h/x.git/': 401")).toBe(
      "fatal: unable to access 'https://***@h/x.git/': 401",
    );
    expect(scrub("https://ghp_abcdef@github.com/o/r")).toBe("https://***@github.com/o/r");
    expect(scrub("ssh://git:pw@h/r")).toBe("ssh://git:***@h/r");
    expect(scrub("ssh://git@h/r")).toBe("ssh://git@h/r");
  });
  it("hides every secret value, its base64 and each line of a key", () => {
    const key =
      "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n-----END OPENSSH PRIVATE KEY-----\n";
    const text = `password tok-3n-value, b64 ${Buffer.from("tok-3n-value").toString("base64")}, line b3BlbnNzaC1rZXktdjEAAAAABG5vbmU=`;
    const out = scrub(text, ["tok-3n-value", key]);
    expect(out).not.toContain("tok-3n-value");
    expect(out).not.toContain(Buffer.from("tok-3n-value").toString("base64"));
    expect(out).not.toContain("b3BlbnNzaC1rZXktdjEAAAAABG5vbmU=");
  });
});

describe("templatesFromFiles", () => {
  const f = (name: string, text: string) => ({ name, content: Buffer.from(text) });
  it("maps one file to one template, dropping .hbs; skips hidden files and READMEs", () => {
    expect(
      templatesFromFiles([
        f("cloud-config.hbs", "#cloud-config\n"),
        f("ipxe", "#!ipxe\n"),
        f("install.sh.hbs", "#!/bin/sh\n"),
        f(".gitattributes", "x"),
        f("README.md", "docs"),
      ]),
    ).toEqual({
      templates: { "cloud-config": "#cloud-config\n", ipxe: "#!ipxe\n", "install.sh": "#!/bin/sh\n" },
    });
  });
  it("refuses two files for one output, bad names, binary files; an empty folder is PathNotFound", () => {
    expect(templatesFromFiles([f("ipxe", "a"), f("ipxe.hbs", "b")])).toMatchObject({
      reason: "RenderFailed",
    });
    expect(templatesFromFiles([f("a b.hbs", "a")])).toMatchObject({ reason: "RenderFailed" });
    expect(templatesFromFiles([{ name: "x", content: Buffer.from([0xff, 0xfe, 0x00]) }])).toMatchObject({
      reason: "RenderFailed",
    });
    expect(templatesFromFiles([f("README", "only docs")])).toMatchObject({ reason: "PathNotFound" });
    expect(templatesFromFiles([f("big", "x".repeat(1024 * 1024))])).toMatchObject({ reason: "RenderFailed" });
  });
});

describe("credentialsFromSecret", () => {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  it("reads token, username+password, bearerToken and ssh keys", () => {
    expect(credentialsFromSecret({ token: b64("t0k") })).toMatchObject({ username: "git", password: "t0k" });
    expect(credentialsFromSecret({ username: b64("me"), password: b64("pw") })).toMatchObject({
      username: "me",
      password: "pw",
    });
    expect(credentialsFromSecret({ bearerToken: b64("b") })).toMatchObject({
      bearerToken: "b",
      username: undefined,
    });
    expect(
      credentialsFromSecret({ "ssh-privatekey": b64("KEY"), known_hosts: b64("h ssh-ed25519 AAAA") }),
    ).toMatchObject({
      sshPrivateKey: "KEY",
      knownHosts: "h ssh-ed25519 AAAA",
    });
  });
});

describe("template resolution with spec.git", () => {
  const cluster = (spec: Partial<ClusterDesc["spec"]>): ClusterDesc => ({
    apiVersion: "ccts.io/v1alpha1",
    kind: "ClusterDesc",
    metadata: { name: "lab", namespace: "ns" },
    spec: {
      network: { bootstrapperIP: "10.0.0.2", subnet: "10.0.0.0", netmask: "255.255.255.0", domain: "x" },
      ...spec,
    },
  });
  const git = { url: "https://git.example.org/t.git" };
  it("reads ccts-git-<name>, and says so before the first sync", () => {
    const c = cluster({ git });
    expect(templateConfigMapNames(c)).toEqual(["ccts-git-lab"]);
    expect(resolveTemplates(c, () => undefined)).toEqual({ error: expect.stringMatching(/not synced yet/) });
    const resolved = resolveTemplates(c, (name) =>
      name === "ccts-git-lab" ? { ipxe: "#!ipxe\n" } : undefined,
    );
    expect(resolved).toEqual({
      templates: [{ output: "ipxe", origin: "git/ccts-git-lab:ipxe", text: "#!ipxe\n" }],
    });
    // A dnsmasq.conf from git is the ClusterDesc's dnsmasq template, not a Machine output.
    const both = (name: string) =>
      name === "ccts-git-lab" ? { ipxe: "#!ipxe\n", "dnsmasq.conf": "port=0\n" } : undefined;
    expect(resolveTemplates(c, both)).toEqual(resolved);
    expect(resolveDnsmasqTemplate(c, both)).toEqual({
      template: { output: "dnsmasq.conf", origin: "git/ccts-git-lab:dnsmasq.conf", text: "port=0\n" },
    });
    expect(resolveDnsmasqTemplate(c, () => undefined)).toEqual({
      error: expect.stringMatching(/not synced yet/),
    });
  });
  it("leaves spec.templates alone", () => {
    const c = cluster({ git, templates: [{ output: "ipxe", inline: "#!ipxe\n" }] });
    expect(templateConfigMapNames(c)).toEqual([]);
    expect(resolveTemplates(c, () => undefined)).toMatchObject({ templates: [{ origin: "inline:ipxe" }] });
  });
  it("keeps the ConfigMap name within 253 characters", () => {
    expect(gitTemplatesConfigMapName("x".repeat(253)).length).toBeLessThanOrEqual(253);
  });
});
