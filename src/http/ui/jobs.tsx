/** Dashboard, jobs and job pages. (Being built.) */
import { Hono } from "hono";
import type { App } from "../env.ts";
import type { UiEnv } from "./env.ts";
import { page } from "../../../views/layout.tsx";

export function jobPages(_app: App): Hono<UiEnv> {
  const ui = new Hono<UiEnv>({ strict: false });
  ui.get("/", (c) => c.html(page({ actor: c.get("actor"), csrf: c.get("csrf"), path: c.req.path }, "Dashboard", <h1>Dashboard</h1>)));
  return ui;
}
