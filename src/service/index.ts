export type { Actor } from "./actor.ts";
export { canSubmit, forbidden, isAdmin, lowerRole, maySeeJob, mayControlJob, requireAdmin, roleAtMost, seesAll } from "./actor.ts";
export { DefinitionService, parseRef } from "./definitions.ts";
export { JobService } from "./jobs.ts";
export { UserService } from "./users.ts";
