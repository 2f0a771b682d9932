import type { App } from "../app.ts";
import type { Actor } from "../service/index.ts";

export type HonoEnv = { Variables: { actor: Actor } };
export type { App };
