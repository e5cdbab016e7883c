// Output formats: which format an output name implies, the content type it is served with, and
// the check a rendered document must pass before it counts.
import yaml from "js-yaml";
import type { OutputFormat } from "./types.js";

export const CONTENT_TYPES: Readonly<Record<OutputFormat, string>> = {
  "cloud-config": "text/cloud-config; charset=utf-8",
  ipxe: "text/plain; charset=utf-8",
  shell: "text/x-shellscript; charset=utf-8",
  yaml: "application/yaml; charset=utf-8",
  json: "application/json; charset=utf-8",
  text: "text/plain; charset=utf-8",
};

const CLOUD_CONFIG_NAMES = new Set(["cloud-config", "user-data", "vendor-data"]);
const YAML_NAMES = new Set(["meta-data", "network-config"]);

/** The format an output name implies (see docs/templates.md, "Output formats"). */
export function formatOf(output: string): OutputFormat {
  if (CLOUD_CONFIG_NAMES.has(output)) return "cloud-config";
  if (output === "ipxe" || output.endsWith(".ipxe")) return "ipxe";
  if (output.endsWith(".sh")) return "shell";
  if (YAML_NAMES.has(output) || output.endsWith(".yaml") || output.endsWith(".yml")) return "yaml";
  if (output.endsWith(".json")) return "json";
  return "text";
}

/** A ConfigMap key: the output name becomes one. */
const OUTPUT_NAME = /^[-._a-zA-Z0-9]+$/;

/** Why an output name cannot be used, or undefined when it can. */
export function outputNameProblem(output: string): string | undefined {
  if (!OUTPUT_NAME.test(output) || output.length > 253 || output === "." || output === "..") {
    return `output name ${JSON.stringify(output)} is not a valid ConfigMap key ([-._a-zA-Z0-9]+, at most 253 characters)`;
  }
  return undefined;
}

export interface ValidationProblem {
  /** 1-based line in the output, when known. */
  line?: number;
  message: string;
}

function firstLine(content: string): string {
  const end = content.indexOf("\n");
  return (end < 0 ? content : content.slice(0, end)).replace(/\r$/, "");
}

function yamlMapping(content: string, what: string): ValidationProblem | undefined {
  let doc: unknown;
  try {
    doc = yaml.load(content);
  } catch (err) {
    if (err instanceof yaml.YAMLException) {
      return { line: err.mark ? err.mark.line + 1 : undefined, message: `invalid YAML: ${err.reason}` };
    }
    return { message: `invalid YAML: ${(err as Error).message}` };
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
    const got =
      doc === null || doc === undefined ? "an empty document" : Array.isArray(doc) ? "a list" : typeof doc;
    return { message: `${what} must be a YAML mapping, got ${got}` };
  }
  return undefined;
}

/** Checks a rendered document; returns what is wrong, or undefined when it is fine. */
export function validateOutput(format: OutputFormat, content: string): ValidationProblem | undefined {
  switch (format) {
    case "cloud-config":
      if (firstLine(content).trimEnd() !== "#cloud-config") {
        return { line: 1, message: 'a cloud-config must start with the line "#cloud-config"' };
      }
      return yamlMapping(content, "a cloud-config");
    case "ipxe":
      if (!firstLine(content).startsWith("#!ipxe")) {
        return { line: 1, message: 'an iPXE script must start with "#!ipxe"' };
      }
      return undefined;
    case "shell":
      if (!content.startsWith("#!")) return { line: 1, message: 'a shell script must start with "#!"' };
      return undefined;
    case "yaml":
      return yamlMapping(content, "the document");
    case "json":
      try {
        JSON.parse(content);
      } catch (err) {
        const message = (err as Error).message;
        const line = /\(line (\d+) column \d+\)/.exec(message)?.[1];
        return { line: line ? Number(line) : undefined, message: `invalid JSON: ${message}` };
      }
      return undefined;
    case "text":
      return undefined;
  }
}
