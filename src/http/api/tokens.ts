/**
 * /api/token/ — the caller's API tokens (an admin's `?all=1`: everyone's).
 * The secret is shown once, at creation. A token's role is at most its user's.
 */
import { Hono } from "hono";
import { AppError, invalid, notFound, ROLES, type UserRole } from "../../domain/index.ts";
import { isAdmin } from "../../service/index.ts";
import type { TokenRow } from "../../store/index.ts";
import { readJson } from "../errors.ts";
import type { App, HonoEnv } from "../env.ts";
import { envelope, iso, queryFlag } from "../present.ts";

const present = (t: TokenRow & { username?: string }) => ({
  id: t.id,
  resource_uri: `/api/token/${t.id}/`,
  name: t.name,
  role: t.role,
  ...(t.username === undefined ? {} : { username: t.username }),
  created_at: iso(t.createdAt),
  expires_at: iso(t.expiresAt),
  last_used_at: iso(t.lastUsedAt),
});

export function tokenRoutes(app: App) {
  const r = new Hono<HonoEnv>({ strict: false });
  r.get("/", (c) => {
    const actor = c.get("actor");
    const all = queryFlag(c.req.query("all"));
    if (all && !isAdmin(actor)) throw new AppError(403, "forbidden", "only an admin may list every user's tokens");
    const rows = all ? app.store.users.allTokens() : app.store.users.tokensOf(actor.userId);
    return c.json(envelope(new URL(c.req.url), rows.length, 0, rows.length, rows.map(present)));
  });
  r.post("/", async (c) => {
    const body = (await readJson(c)) as Record<string, unknown>;
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw invalid("the body must be a JSON object", [{ path: "", message: 'expected {"name": "..."}' }]);
    const name = body.name;
    if (typeof name !== "string" || !/^[\w.-]{1,100}$/.test(name)) {
      throw invalid("the token needs a name", [{ path: "name", message: "1 to 100 letters, digits, '_', '.', '-'" }]);
    }
    const days = body.expires_in_days;
    if (days !== undefined && (typeof days !== "number" || !(days > 0) || days > 3650)) {
      throw invalid("expires_in_days must be a number of days from 1 to 3650", [{ path: "expires_in_days", message: "must be from 1 to 3650" }]);
    }
    const role = body.role;
    if (role !== undefined && !(ROLES as readonly unknown[]).includes(role)) {
      throw invalid(`role must be one of ${ROLES.join(", ")}`, [{ path: "role", message: `must be one of ${ROLES.join(", ")}` }]);
    }
    const actor = c.get("actor");
    const { row, secret } = app.auth.createToken(actor, name, days === undefined ? null : Date.now() / 1000 + (days as number) * 86400, (role as UserRole | undefined) ?? null);
    app.store.audit.record(actor, "token.create", `/api/token/${row.id}/`, { name, role: row.role });
    c.header("Location", new URL(`/api/token/${row.id}/`, c.req.url).href);
    return c.json({ ...present(row), token: secret }, 201);
  });
  r.delete("/:id", (c) => {
    const id = Number(c.req.param("id"));
    if (!Number.isInteger(id)) throw new AppError(404, "not_found", "token not found");
    const actor = c.get("actor");
    // An admin may revoke anyone's token; others only their own, and another's is "not found".
    if (!app.store.users.deleteToken(id, isAdmin(actor) ? undefined : actor.userId)) throw notFound(`token ${id}`);
    app.store.audit.record(actor, "token.delete", `/api/token/${id}/`);
    return c.body(null, 204);
  });
  return r;
}
