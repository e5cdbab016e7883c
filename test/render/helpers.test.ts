// Every helper of the render core, through a real render (strict, noEscape).
import { describe, expect, it } from "vitest";
import { HELPER_NAMES, renderMachine } from "../../src/render/index.js";
import { cluster, machine, textInput } from "./fixtures.js";

const m = machine("m1", {
  mac: "52-54-00-AA-BB-01",
  ip: "10.20.0.11",
  roles: ["master", "etcd"],
  variables: { list: ["a", "b"], obj: { k: "v", n: [1, 2] }, empty: "", zero: 0, multi: "one\ntwo\n" },
});

function render(text: string): string {
  const r = renderMachine(textInput(text, m, cluster()));
  if (!r.ok) throw new Error(r.failure.message);
  return r.documents[0]!.content;
}

function failure(text: string): string {
  const r = renderMachine(textInput(text, m, cluster()));
  if (r.ok) throw new Error(`rendered: ${r.documents[0]!.content}`);
  return r.failure.message;
}

describe("helpers", () => {
  it("lists the documented helpers", () => {
    expect(HELPER_NAMES).toEqual(
      [
        "and",
        "array",
        "base64",
        "cidr",
        "concat",
        "default",
        "eq",
        "hasRole",
        "includes",
        "indent",
        "join",
        "lower",
        "ne",
        "nindent",
        "not",
        "or",
        "quote",
        "replace",
        "shellQuote",
        "toJson",
        "toYaml",
        "trim",
        "upper",
      ].sort(),
    );
  });

  it("indent indents every non-empty line; nindent starts with a newline", () => {
    expect(render("x: |\n{{indent 2 variables.multi}}")).toBe("x: |\n  one\n  two\n");
    expect(render("{{indent 4 'a\n\nb'}}")).toBe("    a\n\n    b");
    expect(render("x:{{nindent 2 'a'}}")).toBe("x:\n  a");
    expect(failure("{{indent -1 'a'}}")).toMatch(/helper "indent": expected a whole number/);
    expect(failure("{{indent 2 variables.obj}}")).toMatch(/helper "indent": expected text, got an object/);
  });

  it("toYaml and toJson serialise data (views included), with optional indent", () => {
    expect(render("{{toYaml variables.obj}}")).toBe("k: v\n'n':\n  - 1\n  - 2");
    expect(render("{{toYaml variables.obj 4}}")).toBe("k: v\n'n':\n    - 1\n    - 2");
    expect(render("{{toJson machine.roles}}")).toBe('["master","etcd"]');
    expect(render("{{toJson variables.obj 2}}")).toBe('{\n  "k": "v",\n  "n": [\n    1,\n    2\n  ]\n}');
    expect(JSON.parse(render("{{toJson machine.interfaces}}"))).toEqual([
      { name: null, mac: "52:54:00:aa:bb:01", ip: "10.20.0.11", boot: true },
    ]);
    expect(render("{{toYaml cluster.network.dhcpRange}}")).toBe("null");
    expect(failure("{{toJson variables.nope}}")).toMatch(/helper "toJson": value is undefined/);
  });

  it("the mark that keeps free-form maps lenient is invisible to templates and serialisers", () => {
    const keys = "list,obj,empty,zero,multi";
    expect(render("{{#each variables}}{{@key}},{{/each}}")).toBe(`${keys},`);
    expect(Object.keys(JSON.parse(render("{{toJson variables}}"))).join(",")).toBe(keys);
    expect(render("{{toYaml variables}}")).not.toContain("freeForm");
    // Two renders of the same data: the second is as strict as the first.
    expect(failure("{{machine.hostnam}}")).toMatch(/"hostnam" not defined in machine/);
    expect(failure("{{#if machine.hostnam}}x{{/if}}")).toMatch(/"hostnam" not defined in machine/);
  });

  it("join joins a list, default separator a comma", () => {
    expect(render("{{join machine.roles}}")).toBe("master,etcd");
    expect(render("{{join machine.roles ' '}}")).toBe("master etcd");
    expect(failure("{{join machine.hostname}}")).toMatch(/helper "join": expected a list/);
  });

  it("default replaces null, undefined, empty text and empty lists only", () => {
    expect(render("{{default variables.nope 'x'}}")).toBe("x");
    expect(render("{{default variables.empty 'x'}}")).toBe("x");
    expect(render("{{default cluster.network.lease '12h'}}")).toBe("12h");
    expect(render("{{default cluster.network.routers 'none'}}")).toBe("none");
    expect(render("{{default variables.zero 'x'}}")).toBe("0");
    expect(render("{{default machine.ip 'dhcp'}}")).toBe("10.20.0.11");
  });

  it("base64 encodes UTF-8 text", () => {
    expect(render("{{base64 'héllo'}}")).toBe(Buffer.from("héllo").toString("base64"));
  });

  it("eq, ne, and, or, not", () => {
    expect(render("{{#if (eq machine.hostname '52-54-00-aa-bb-01')}}y{{else}}n{{/if}}")).toBe("y");
    expect(render("{{#if (ne machine.hostname 'x')}}y{{else}}n{{/if}}")).toBe("y");
    expect(render("{{#if (and machine.isMaster machine.isEtcd)}}y{{else}}n{{/if}}")).toBe("y");
    expect(render("{{#if (and machine.isMaster machine.isWorker)}}y{{else}}n{{/if}}")).toBe("n");
    expect(render("{{#if (or machine.isWorker machine.isEtcd)}}y{{else}}n{{/if}}")).toBe("y");
    expect(render("{{or variables.nope variables.empty 'z'}}")).toBe("z");
    expect(render("{{#if (not machine.isWorker)}}y{{else}}n{{/if}}")).toBe("y");
    expect(render("{{#if (not cluster.network.routers)}}empty{{/if}}")).toBe("empty");
  });

  it("hasRole checks the machine, or a machine passed in", () => {
    expect(render("{{#if (hasRole 'etcd')}}y{{/if}}{{#if (hasRole 'worker')}}w{{/if}}")).toBe("y");
    expect(render("{{#each machines}}{{name}}:{{hasRole 'master' this}}{{/each}}")).toBe("m1:true");
  });

  it("lower and upper", () => {
    expect(render("{{upper machine.mac}} {{lower 'ABC'}}")).toBe("52:54:00:AA:BB:01 abc");
  });

  it("quote yields a double-quoted string safe in YAML and JSON", () => {
    const tricky = 'a "b" \\ c\n\td: #e \u2028 \u0085';
    const out = renderMachine({
      ...textInput("v: {{quote variables.t}}\n", machine("m1", { variables: { t: tricky } })),
      templates: [{ output: "x.yaml", origin: "inline:x.yaml", text: "v: {{quote variables.t}}\n" }],
    });
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    const line = out.documents[0]!.content.trim().slice(3);
    expect(JSON.parse(line)).toBe(tricky);
    expect(line).toContain("\\u2028");
    expect(render("{{quote 5}} {{quote cluster.network.lease}}")).toBe('"5" ""');
  });

  it("shellQuote single-quotes for POSIX sh", () => {
    expect(render('{{shellQuote "it\'s"}}')).toBe("'it'\\''s'");
  });

  it("concat, replace, trim, includes, array", () => {
    expect(render("{{concat 'a' 1 machine.hostname}}")).toBe("a152-54-00-aa-bb-01");
    expect(render("{{replace machine.mac ':' ''}}")).toBe("525400aabb01");
    expect(render("[{{trim '  x  '}}]")).toBe("[x]");
    expect(render("{{#if (includes machine.roles 'etcd')}}y{{/if}}")).toBe("y");
    expect(render("{{toJson (array 'a' machine.hostname)}}")).toBe('["a","52-54-00-aa-bb-01"]');
  });

  it("cidr joins an IPv4 address and a netmask (dotted or bits)", () => {
    expect(render("{{cidr machine.ip cluster.network.netmask}}")).toBe("10.20.0.11/24");
    expect(render("{{cidr '10.0.0.1' 16}}")).toBe("10.0.0.1/16");
    expect(failure("{{cidr machine.ip '255.0.255.0'}}")).toMatch(/not a contiguous netmask/);
    expect(failure("{{cidr 'x' '255.255.255.0'}}")).toMatch(/"x" is not an IPv4 address/);
  });

  it("a helper is called wherever a template names it (each template gets only the helpers it names)", () => {
    // Handlebars copies every helper of its environment on each call of a template, so each
    // template is compiled with the helpers its text names (engine.ts): every position counts.
    expect(render("{{upper 'a'}}")).toBe("A");
    expect(render("{{#if (eq machine.ip '10.20.0.11')}}yes{{/if}}")).toBe("yes");
    expect(render("{{join (array (lower 'A') (upper 'b')) '-'}}")).toBe("a-B");
    expect(render("{{toJson (array 1) indent=(default variables.zero 2)}}")).toBe("[1]");
    expect(render('{{"upper" "quoted name"}}')).toBe("QUOTED NAME");
    expect(render("{{#each (array 'x' 'y') as |v|}}{{upper v}}{{/each}}")).toBe("XY");
    expect(render("{{#with machine}}{{base64 ip}}{{/with}}")).toBe(
      Buffer.from("10.20.0.11").toString("base64"),
    );
    // A name used only as a field is a field read, as before: strict mode reports it.
    expect(failure("{{machine.upper}}")).toMatch(/upper/);
  });

  it("a helper error names the helper and the template line", () => {
    const r = renderMachine(textInput("a\nb\n  {{indent 'x' 'y'}}\n"));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.failure).toMatchObject({ reason: "TemplateError", line: 3, output: "out.txt" });
    expect(r.failure.message).toBe(
      'machine default/m1: template out.txt (inline:out.txt) line 3: helper "indent": expected a whole number of spaces (0-64), got "x"',
    );
  });
});
