/** /api/instance/ — the instances of flue; alone, just this one. */
import { Hono } from "hono";
import type { App, HonoEnv } from "../env.ts";
import { envelope, iso } from "../present.ts";

export function presentInstance(app: App) {
  const i = app.instance;
  return {
    id: i.id,
    resource_uri: `/api/instance/${i.id}/`,
    host: i.host,
    version: i.version,
    labels: i.labels,
    slots: app.executor.slots,
    slots_in_use: app.executor.busy,
    containment: app.executor.containmentKind,
    run_as: app.executor.runAs,
    started_at: iso(i.startedAt),
    uptime: Math.round(Date.now() / 1000 - i.startedAt),
    state: "ACTIVE",
  };
}

export function instanceRoutes(app: App) {
  const r = new Hono<HonoEnv>({ strict: false });
  r.get("/", (c) => c.json(envelope(new URL(c.req.url), 1, 0, 1, [presentInstance(app)])));
  r.get("/:id", (c) =>
    c.req.param("id") === app.instance.id
      ? c.json(presentInstance(app))
      : c.json({ error: { code: "not_found", message: `instance ${c.req.param("id")} not found` } }, 404),
  );
  return r;
}
