/** /api/instance/ — the instances of flue: in a fleet every one, this one first; alone, just this one. */
import { Hono } from "hono";
import type { InstanceRecord } from "../../cluster/record.ts";
import type { App, HonoEnv } from "../env.ts";
import { envelope, iso } from "../present.ts";

/** An instance as the API shows it; in a fleet also its last heartbeat and protocol. */
export function presentInstance(r: InstanceRecord, inFleet: boolean) {
  return {
    id: r.id,
    resource_uri: `/api/instance/${r.id}/`,
    host: r.host,
    version: r.version,
    labels: r.labels,
    slots: r.slots,
    slots_in_use: r.slots_in_use,
    containment: r.containment,
    run_as: r.run_as,
    started_at: iso(r.started_at),
    uptime: Math.round(Date.now() / 1000 - r.started_at),
    state: r.state,
    ...(inFleet ? { last_heartbeat: iso(r.heartbeat_at), protocol: r.protocol } : {}),
  };
}

export function instanceRoutes(app: App) {
  const r = new Hono<HonoEnv>({ strict: false });
  r.get("/", (c) => {
    const all = app.members().map((m) => presentInstance(m, app.fleet !== undefined));
    return c.json(envelope(new URL(c.req.url), all.length, 0, all.length, all));
  });
  r.get("/:id", (c) => {
    const found = app.members().find((m) => m.id === c.req.param("id"));
    return found
      ? c.json(presentInstance(found, app.fleet !== undefined))
      : c.json({ error: { code: "not_found", message: `instance ${c.req.param("id")} not found` } }, 404);
  });
  return r;
}
