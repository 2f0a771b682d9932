export * from "./errors.ts";
export * from "./template.ts";
export * from "./definition.ts";
export * from "./definition-schema.ts";
export * from "./parameters.ts";
export * from "./job.ts";
export * from "./events.ts";
export * from "./ids.ts";
