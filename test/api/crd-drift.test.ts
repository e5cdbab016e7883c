// One source of truth: crds/*.yaml must be what scripts/gen-crds.ts makes of src/api/schema.ts,
// and those schemas must have exactly the properties (and required-ness, and leaf types) of the
// interfaces in src/api/types.ts, read with the TypeScript compiler API.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { crdDir, generateCrds } from "../../scripts/gen-crds.ts";
import { clusterDescSchema, type JSONSchemaProps, machineSchema } from "../../src/api/schema.ts";

const typesFile = fileURLToPath(new URL("../../src/api/types.ts", import.meta.url));

function loadTypes(): { checker: ts.TypeChecker; byName: (name: string) => ts.Type } {
  const program = ts.createProgram([typesFile], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(typesFile);
  if (!source) throw new Error(`cannot read ${typesFile}`);
  return {
    checker,
    byName(name) {
      const decl = source.statements.find((s) => ts.isInterfaceDeclaration(s) && s.name.text === name);
      if (!decl) throw new Error(`interface ${name} not found in types.ts`);
      return checker.getTypeAtLocation((decl as ts.InterfaceDeclaration).name);
    },
  };
}

/** Every difference between a TS type and a schema node, as `path: problem` lines. */
function compare(checker: ts.TypeChecker, type: ts.Type, schema: JSONSchemaProps, path: string): string[] {
  const t = checker.getNonNullableType(type);
  const problems: string[] = [];
  const expectType = (want: JSONSchemaProps["type"][], what: string) => {
    if (!want.includes(schema.type)) problems.push(`${path}: TS ${what}, schema type ${schema.type}`);
  };
  if (t.flags & (ts.TypeFlags.String | ts.TypeFlags.StringLiteral)) {
    expectType(["string"], "string");
  } else if (t.isUnion() && t.types.every((u) => u.isStringLiteral())) {
    expectType(["string"], "string union");
    const literals = t.types.map((u) => (u as ts.StringLiteralType).value).sort();
    const enums = [...(schema.enum ?? [])].sort();
    if (JSON.stringify(literals) !== JSON.stringify(enums)) {
      problems.push(`${path}: TS values ${literals.join("|")}, schema enum ${enums.join("|") || "(none)"}`);
    }
  } else if (t.flags & ts.TypeFlags.Number) {
    expectType(["integer", "number"], "number");
  } else if (t.flags & ts.TypeFlags.Boolean) {
    expectType(["boolean"], "boolean");
  } else if (checker.isArrayType(t)) {
    expectType(["array"], "array");
    const item = checker.getTypeArguments(t as ts.TypeReference)[0];
    if (!schema.items) problems.push(`${path}: schema array without items`);
    else if (item) problems.push(...compare(checker, item, schema.items, `${path}[]`));
  } else if (t.flags & ts.TypeFlags.Object) {
    expectType(["object"], "object");
    const index = checker.getIndexInfoOfType(t, ts.IndexKind.String);
    const props = checker.getPropertiesOfType(t);
    if (index && props.length === 0) {
      if (index.type.flags & (ts.TypeFlags.Unknown | ts.TypeFlags.Any)) {
        if (!schema["x-kubernetes-preserve-unknown-fields"]) {
          problems.push(`${path}: TS free-form map, schema lacks x-kubernetes-preserve-unknown-fields`);
        }
      } else if (!schema.additionalProperties) {
        problems.push(`${path}: TS map, schema lacks additionalProperties`);
      } else {
        problems.push(...compare(checker, index.type, schema.additionalProperties, `${path}{}`));
      }
      return problems;
    }
    const schemaProps = schema.properties ?? {};
    const required = new Set(schema.required ?? []);
    for (const prop of props) {
      const name = prop.getName();
      const sub = schemaProps[name];
      if (!sub) {
        problems.push(`${path}.${name}: in TS, not in schema`);
        continue;
      }
      const optional = (prop.flags & ts.SymbolFlags.Optional) !== 0;
      // metadata and apiVersion/kind are the API server's business; it requires them itself.
      const serverOwned = path === "" && ["apiVersion", "kind", "metadata"].includes(name);
      if (!serverOwned && optional === required.has(name)) {
        problems.push(`${path}.${name}: ${optional ? "optional" : "required"} in TS, not in schema`);
      }
      if (path === "" && name === "metadata") continue;
      problems.push(...compare(checker, checker.getTypeOfSymbol(prop), sub, `${path}.${name}`));
    }
    const tsNames = new Set(props.map((p) => p.getName()));
    for (const name of Object.keys(schemaProps)) {
      if (!tsNames.has(name)) problems.push(`${path}.${name}: in schema, not in TS`);
    }
    for (const name of required) {
      if (!tsNames.has(name)) problems.push(`${path}.${name}: required in schema, not in TS`);
    }
  } else {
    problems.push(`${path}: TS type ${checker.typeToString(t)} has no schema mapping in this test`);
  }
  return problems;
}

function missingDescriptions(schema: JSONSchemaProps, path: string): string[] {
  // .metadata may carry nothing but its type (the API server documents it itself).
  const out = schema.description?.trim() || path === ".metadata" ? [] : [path || "(root)"];
  for (const [name, sub] of Object.entries(schema.properties ?? {}))
    out.push(...missingDescriptions(sub, `${path}.${name}`));
  if (schema.items) out.push(...missingDescriptions(schema.items, `${path}[]`));
  if (schema.additionalProperties) out.push(...missingDescriptions(schema.additionalProperties, `${path}{}`));
  return out;
}

describe("CRDs and TypeScript types", () => {
  const { checker, byName } = loadTypes();

  it("crds/ is exactly what npm run gen:crds writes", () => {
    const generated = generateCrds();
    expect([...generated.keys()].sort()).toEqual(["clusterdescs.ccts.io.yaml", "machines.ccts.io.yaml"]);
    for (const [name, text] of generated) {
      const onDisk = readFileSync(join(crdDir, name), "utf8");
      expect(onDisk, `crds/${name} is stale: run npm run gen:crds`).toBe(text);
    }
  });

  it.each([
    ["ClusterDesc", clusterDescSchema.schema],
    ["Machine", machineSchema.schema],
  ])("%s: schema and types.ts have the same properties, required-ness and leaf types", (kind, schema) => {
    expect(compare(checker, byName(kind), schema, "")).toEqual([]);
  });

  it("every schema property has a description (kubectl explain shows them)", () => {
    expect(missingDescriptions(clusterDescSchema.schema, "")).toEqual([]);
    expect(missingDescriptions(machineSchema.schema, "")).toEqual([]);
  });

  it("the comparison catches drift in either direction (so the check above can fail)", () => {
    const spec = machineSchema.schema.properties?.spec;
    if (!spec?.properties) throw new Error("Machine schema has no spec properties");
    const { hostname: _dropped, ...withoutHostname } = spec.properties;
    const drifted: JSONSchemaProps = {
      ...machineSchema.schema,
      properties: {
        ...machineSchema.schema.properties,
        spec: {
          ...spec,
          required: ["clusterDesc"], // mac no longer required
          properties: {
            ...withoutHostname,
            extra: { type: "string", description: "not in TS" },
            roles: { type: "array", description: "x", items: { type: "integer", description: "x" } },
            interfaces: { type: "array", description: "x", items: { type: "object", description: "x" } },
          },
        },
      },
    };
    expect(compare(checker, byName("Machine"), drifted, "").sort()).toEqual(
      [
        ".spec.hostname: in TS, not in schema",
        ".spec.interfaces[].ip: in TS, not in schema",
        ".spec.interfaces[].mac: in TS, not in schema",
        ".spec.interfaces[].name: in TS, not in schema",
        ".spec.mac: required in TS, not in schema",
        ".spec.roles[]: TS string, schema type integer",
        ".spec.extra: in schema, not in TS",
      ].sort(),
    );
    const status = clusterDescSchema.schema.properties?.status;
    const conditions = status?.properties?.conditions?.items;
    if (!status || !conditions?.properties) throw new Error("ClusterDesc schema has no status conditions");
    const badEnum: JSONSchemaProps = {
      ...clusterDescSchema.schema,
      properties: {
        ...clusterDescSchema.schema.properties,
        status: {
          ...status,
          properties: {
            ...status.properties,
            conditions: {
              ...status.properties?.conditions,
              items: {
                ...conditions,
                properties: {
                  ...conditions.properties,
                  status: { type: "string", description: "x", enum: ["True"] },
                },
              },
            },
          },
        },
      },
    };
    expect(compare(checker, byName("ClusterDesc"), badEnum, "")).toEqual([
      ".status.conditions[].status: TS values False|True|Unknown, schema enum True",
    ]);
  });
});
