/** /api/audit/ — who changed what, newest first; admins only. Filters: ?action=, ?actor=. */
import { Hono } from "hono";
import { requireAdmin } from "../../service/index.ts";
import type { AuditRow } from "../../store/index.ts";
import type { App, HonoEnv } from "../env.ts";
import { envelope, iso, paging } from "../present.ts";

const present = (a: AuditRow) => ({
  seq: a.seq,
  at: iso(a.at),
  actor: a.actor,
  action: a.action,
  target: a.target,
  remote: a.remote,
  details: a.details,
});

export function auditRoutes(app: App) {
  const r = new Hono<HonoEnv>({ strict: false });
  r.get("/", (c) => {
    requireAdmin(c.get("actor"), "read the audit log");
    const { limit, offset } = paging((k) => c.req.query(k), 50);
    const { rows, total } = app.store.audit.list({ action: c.req.query("action") || undefined, actor: c.req.query("actor") || undefined }, limit, offset);
    return c.json(envelope(new URL(c.req.url), limit, offset, total, rows.map(present)));
  });
  return r;
}
