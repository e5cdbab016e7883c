// The render core: pure functions from declarations and templates to validated documents.
// docs/templates.md is the template data reference.

export type { ClusterRenderFailure, ClusterRenderFailureReason, ClusterRenderResult } from "./cluster.js";
export { renderDnsmasq } from "./cluster.js";
export type { MachineData, MachineSummary, TemplateData } from "./data.js";
export { peerFactsKey, templateData } from "./data.js";
export { compileCacheSize, compileCount } from "./engine.js";
export { CONTENT_TYPES, formatOf, validateOutput } from "./format.js";
export { HELPER_NAMES } from "./helpers.js";
export { contentHash, contentHashWith, DEFAULT_MAX_BYTES, renderMachine } from "./render.js";
export {
  BUILTIN_DIR,
  builtinDnsmasqTemplate,
  builtinTemplates,
  namesMachineList,
  resolveDnsmasqTemplate,
  resolveTemplates,
  type TemplatePart,
  templateConfigMapNames,
  templatePart,
} from "./templates.js";
export type * from "./types.js";
