/** /api/plugins/ — the adapters and storages this flue has loaded, for any signed-in user. */
import { Hono } from "hono";
import { describePlugins } from "../../adapters/describe.ts";
import type { App, HonoEnv } from "../env.ts";
import { envelope } from "../present.ts";

export function pluginRoutes(app: App) {
  const r = new Hono<HonoEnv>({ strict: false });
  r.get("/", (c) => {
    const all = describePlugins(app.plugins);
    return c.json(envelope(new URL(c.req.url), all.length, 0, all.length, all));
  });
  return r;
}
