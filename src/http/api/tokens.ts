/** /api/token/ — the caller's API tokens. The secret is shown once, at creation. */
import { Hono } from "hono";
import { AppError, invalid, notFound } from "../../domain/index.ts";
import type { TokenRow } from "../../store/index.ts";
import { readJson } from "../errors.ts";
import type { App, HonoEnv } from "../env.ts";
import { envelope, iso } from "../present.ts";

const present = (t: TokenRow) => ({
  id: t.id,
  resource_uri: `/api/token/${t.id}/`,
  name: t.name,
  created_at: iso(t.createdAt),
  expires_at: iso(t.expiresAt),
  last_used_at: iso(t.lastUsedAt),
});

export function tokenRoutes(app: App) {
  const r = new Hono<HonoEnv>({ strict: false });
  r.get("/", (c) => {
    const rows = app.store.users.tokensOf(c.get("actor").userId);
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
    const { row, secret } = app.auth.createToken(c.get("actor"), name, days === undefined ? null : Date.now() / 1000 + (days as number) * 86400);
    c.header("Location", new URL(`/api/token/${row.id}/`, c.req.url).href);
    return c.json({ ...present(row), token: secret }, 201);
  });
  r.delete("/:id", (c) => {
    const id = Number(c.req.param("id"));
    if (!Number.isInteger(id)) throw new AppError(404, "not_found", "token not found");
    if (!app.store.users.deleteToken(id, c.get("actor").userId)) throw notFound(`token ${id}`);
    return c.body(null, 204);
  });
  return r;
}
