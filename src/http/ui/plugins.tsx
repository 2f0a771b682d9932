/** The Plugins page: the loaded adapters and storages, for any signed-in user. */
import { Hono } from "hono";
import { describePlugins } from "../../adapters/describe.ts";
import type { App } from "../env.ts";
import type { UiEnv } from "./env.ts";
import { pluginsPage } from "../../../views/plugins.tsx";

export function pluginPages(app: App): Hono<UiEnv> {
  const ui = new Hono<UiEnv>({ strict: false });
  ui.get("/plugins", (c) => c.html(pluginsPage({ actor: c.get("actor"), csrf: c.get("csrf"), path: c.req.path }, describePlugins(app.plugins))));
  return ui;
}
