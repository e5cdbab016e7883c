export * from "./constants.js";
export * from "./mac.js";
export type * from "./types.js";
export * from "./machine.js";
export * from "./validate.js";
export * from "./labels.js";
