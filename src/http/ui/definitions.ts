/** Definition pages and the run form. (Being built.) */
import { Hono } from "hono";
import type { App } from "../env.ts";
import type { UiEnv } from "./env.ts";

export function definitionPages(_app: App): Hono<UiEnv> {
  return new Hono<UiEnv>({ strict: false });
}
