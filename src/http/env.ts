import type { App } from "../app.ts";
import type { Actor } from "../service/actor.ts";

export type HonoEnv = { Variables: { actor: Actor } };
export type { App };
