import type { Actor } from "../../service/index.ts";
import type { Bindings } from "../env.ts";

/** The UI's Hono env: every page knows who is signed in and the session's CSRF token. */
export type UiEnv = { Bindings: Bindings; Variables: { actor: Actor; csrf: string } };
