export type { Actor } from "./actor.ts";
export { seesAll } from "./actor.ts";
export { DefinitionService, parseRef } from "./definitions.ts";
export { JobService } from "./jobs.ts";
