/** Events, instances, users, tokens and audit pages. (Being built.) */
import { Hono } from "hono";
import type { App } from "../env.ts";
import type { UiEnv } from "./env.ts";

export function adminPages(_app: App): Hono<UiEnv> {
  return new Hono<UiEnv>({ strict: false });
}
