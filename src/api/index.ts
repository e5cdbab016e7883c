export * from "./constants.js";
export * from "./labels.js";
export * from "./mac.js";
export * from "./machine.js";
export type * from "./types.js";
export * from "./validate.js";
