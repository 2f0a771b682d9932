/** /api/user/ — users, for admins; /api/user/me for anyone signed in. Password hashes never leave. */
import { Hono } from "hono";
import type { UserRow } from "../../store/index.ts";
import { readJson } from "../errors.ts";
import type { App, HonoEnv } from "../env.ts";
import { envelope, iso, paging } from "../present.ts";

const userUri = (id: number) => `/api/user/${id}/`;

const present = (u: UserRow) => ({
  id: u.id,
  resource_uri: userUri(u.id),
  username: u.username,
  role: u.role,
  sees_all_jobs: u.seesAllJobs,
  created_at: iso(u.createdAt),
});

export function userRoutes(app: App) {
  const r = new Hono<HonoEnv>({ strict: false });
  r.get("/", (c) => {
    const { limit, offset } = paging((k) => c.req.query(k));
    const { rows, total } = app.users.list(limit, offset, c.get("actor"));
    return c.json(envelope(new URL(c.req.url), limit, offset, total, rows.map(present)));
  });
  // The caller as flue sees it: with a token, the token's (capped) role.
  r.get("/me", (c) => {
    const actor = c.get("actor");
    const row = app.store.users.get(actor.userId)!;
    return c.json({ ...present(row), role: actor.role });
  });
  r.post("/", async (c) => {
    const row = await app.users.create(await readJson(c), c.get("actor"));
    c.header("Location", new URL(userUri(row.id), c.req.url).href);
    return c.json(present(row), 201);
  });
  r.get("/:id", (c) => c.json(present(app.users.get(c.req.param("id"), c.get("actor")))));
  r.patch("/:id", async (c) => c.json(present(await app.users.update(c.req.param("id"), await readJson(c), c.get("actor")))));
  r.delete("/:id", (c) => {
    app.users.delete(c.req.param("id"), c.get("actor"));
    return c.body(null, 204);
  });
  return r;
}
