/**
 * Events, instances, users, tokens and audit pages. They call the same
 * services the API does; a change answers with the section it changed,
 * drawn by the same component as the page, its errors beside the fields.
 */
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { AppError, invalid, isValidPattern, notFound, ROLES, type UserRole } from "../../domain/index.ts";
import { isAdmin, requireAdmin, roleAtMost, type Actor } from "../../service/index.ts";
import type { App } from "../env.ts";
import { paging } from "../present.ts";
import { streamEvents } from "../sse.ts";
import type { UiEnv } from "./env.ts";
import type { PageContext } from "../../../views/layout.tsx";
import { eventRow, eventsPage } from "../../../views/events.tsx";
import { instancesBody, instancesPage, type InstanceView } from "../../../views/instances.tsx";
import { usersPage, usersSection, type NewUserForm, type UsersView } from "../../../views/users.tsx";
import { tokensPage, tokensSection, type TokensView } from "../../../views/tokens.tsx";
import { auditPage } from "../../../views/audit.tsx";

const ctxOf = (c: Context<UiEnv>): PageContext => ({ actor: c.get("actor"), csrf: c.get("csrf"), path: c.req.path });
const adminOnly =
  (what: string): MiddlewareHandler<UiEnv> =>
  async (c, next) => {
    requireAdmin(c.get("actor"), what);
    await next();
  };

/** An AppError's field messages by path, and whatever no field of the form shows. */
function explain(e: AppError, shown: string[]): { errors: Record<string, string>; message?: string } {
  const errors: Record<string, string> = {};
  const rest: string[] = [];
  for (const f of e.fields) {
    if (shown.includes(f.path)) errors[f.path] ??= f.message;
    else rest.push(f.path ? `${f.path}: ${f.message}` : f.message);
  }
  const message = Object.keys(errors).length && !rest.length ? undefined : [e.message, ...rest].join("; ");
  return { errors, message };
}

/** A message in words for an error shown as one line: a bad request also names each field's problem. */
const sentence = (e: AppError) =>
  e.status === 400 ? [e.message, ...e.fields.map((f) => (f.path ? `${f.path}: ${f.message}` : f.message))].join("; ") : e.message;

const form = async (c: Context<UiEnv>) => {
  const body = await c.req.parseBody();
  return (k: string) => (typeof body[k] === "string" ? (body[k] as string) : undefined);
};

/** The fleet's members for the page; this instance's own row adds what only it knows. */
function instanceViews(app: App, actor: Actor): InstanceView[] {
  return app.members().map((m) => {
    const self = m.id === app.instance.id;
    return {
      id: m.id,
      host: m.host,
      version: m.version,
      labels: m.labels,
      slots: m.slots,
      busy: m.slots_in_use,
      containment: m.containment,
      containmentReason: self ? app.executor.containmentReason : undefined,
      runAs: m.run_as,
      startedAt: m.started_at,
      heartbeatAt: app.fleet ? m.heartbeat_at : undefined,
      state: m.state,
      dataDir: self && isAdmin(actor) ? app.config.dataDir : undefined,
      self,
    };
  });
}

function eventRoutes(app: App, ui: Hono<UiEnv>) {
  ui.get("/events", (c) => {
    const pattern = (c.req.query("pattern") ?? "#").trim() || "#";
    const error = isValidPattern(pattern) ? undefined : `"${pattern}" is not a pattern: words separated by dots, * for one word, # for any number`;
    return c.html(eventsPage(ctxOf(c), { pattern, error }), error ? 400 : 200);
  });
  ui.get("/events/live", (c) => {
    const pattern = c.req.query("pattern") ?? "#";
    if (!isValidPattern(pattern)) throw invalid(`"${pattern}" is not a topic pattern`, [{ path: "pattern", message: "words separated by dots; * matches one word, # any number" }]);
    return streamEvents(c, app, { pattern, actor: c.get("actor"), ready: pattern, render: (e) => eventRow(e), heartbeatMs: 10_000 });
  });
}

function instanceRoutes(app: App, ui: Hono<UiEnv>) {
  ui.get("/instances", (c) => c.html(instancesPage(ctxOf(c), instanceViews(app, c.get("actor")), Date.now() / 1000)));
  ui.get("/instances/live", (c) => c.html(instancesBody(instanceViews(app, c.get("actor")), Date.now() / 1000)));
}

function userRoutes(app: App, ui: Hono<UiEnv>) {
  ui.use("/users", adminOnly("manage users"));
  ui.use("/users/*", adminOnly("manage users"));
  const view = (c: Context<UiEnv>, extra: Partial<UsersView> = {}): UsersView => ({
    rows: app.users.list(1000, 0, c.get("actor")).rows,
    self: c.get("actor").username,
    ...extra,
  });
  ui.get("/users", (c) => c.html(usersPage(ctxOf(c), view(c))));

  ui.post("/users", async (c) => {
    const get = await form(c);
    const values = { username: get("username")?.trim() ?? "", role: get("role") ?? "viewer", sees_all_jobs: get("sees_all_jobs") === "on" };
    try {
      const row = await app.users.create({ ...values, password: get("password") ?? "" }, c.get("actor"));
      return c.html(usersSection(view(c, { notice: `Added ${row.username} (${row.role}).` })));
    } catch (e) {
      if (!(e instanceof AppError)) throw e;
      const f: NewUserForm = { values, ...explain(e, ["username", "password", "role", "sees_all_jobs"]) };
      return c.html(usersSection(view(c, { form: f })), e.status as 400);
    }
  });

  ui.patch("/users/:id", async (c) => {
    const get = await form(c);
    const patch: Record<string, unknown> = { role: get("role"), sees_all_jobs: get("sees_all_jobs") === "on" };
    const password = get("password");
    if (password) patch.password = password;
    try {
      const row = await app.users.update(c.req.param("id"), patch, c.get("actor"));
      const said = `Saved ${row.username}: ${row.role}${row.seesAllJobs ? ", sees all jobs" : ""}${password ? ", new password" : ""}.`;
      return c.html(usersSection(view(c, { notice: said })));
    } catch (e) {
      if (!(e instanceof AppError)) throw e;
      return c.html(usersSection(view(c, { alert: sentence(e) })), e.status as 400);
    }
  });

  ui.delete("/users/:id", (c) => {
    try {
      const user = app.users.get(c.req.param("id"), c.get("actor"));
      app.users.delete(c.req.param("id"), c.get("actor"));
      return c.html(usersSection(view(c, { notice: `Deleted ${user.username}.` })));
    } catch (e) {
      if (!(e instanceof AppError)) throw e;
      return c.html(usersSection(view(c, { alert: sentence(e) })), e.status as 400);
    }
  });
}

const EXPIRY_DAYS: Record<string, number | null> = { "": null, "1": 1, "30": 30, "365": 365 };

function tokenRoutes(app: App, ui: Hono<UiEnv>) {
  const view = (c: Context<UiEnv>, extra: Partial<TokensView> = {}): TokensView => {
    const actor = c.get("actor");
    const all = c.req.query("all") === "1";
    if (all && !isAdmin(actor)) throw new AppError(403, "forbidden", "only an admin may see every user's tokens");
    const rows = all ? app.store.users.allTokens() : app.store.users.tokensOf(actor.userId);
    return {
      rows: rows.reverse(),
      all,
      isAdmin: isAdmin(actor),
      roles: ROLES.filter((r) => roleAtMost(r, actor.role)),
      ...extra,
    };
  };
  ui.get("/tokens", (c) => c.html(tokensPage(ctxOf(c), view(c))));

  ui.post("/tokens", async (c) => {
    const get = await form(c);
    const actor = c.get("actor");
    const values = { name: get("name")?.trim() ?? "", role: get("role") ?? actor.role, expires: get("expires") ?? "" };
    try {
      if (!/^[\w.-]{1,100}$/.test(values.name)) throw invalid("the token needs a name", [{ path: "name", message: "1 to 100 letters, digits, '_', '.', '-'" }]);
      if (!(ROLES as readonly string[]).includes(values.role)) throw invalid("choose a role", [{ path: "role", message: `one of ${ROLES.join(", ")}` }]);
      if (!(values.expires in EXPIRY_DAYS)) throw invalid("choose when the token expires", [{ path: "expires_in_days", message: "never, 1 day, 30 days or 1 year" }]);
      const days = EXPIRY_DAYS[values.expires];
      const { row, secret } = app.auth.createToken(actor, values.name, days === null ? null : Date.now() / 1000 + days * 86400, values.role as UserRole);
      app.store.audit.record(actor, "token.create", `/api/token/${row.id}/`, { name: row.name, role: row.role });
      return c.html(tokensSection(view(c, { created: { name: row.name, secret } })));
    } catch (e) {
      if (!(e instanceof AppError)) throw e;
      return c.html(tokensSection(view(c, { form: { values, ...explain(e, ["name", "role", "expires_in_days"]) } })), e.status as 400);
    }
  });

  ui.delete("/tokens/:id", (c) => {
    const actor = c.get("actor");
    const id = Number(c.req.param("id"));
    // An admin may revoke anyone's token; others only their own, and another's is "not found".
    const name = (isAdmin(actor) ? app.store.users.allTokens() : app.store.users.tokensOf(actor.userId)).find((t) => t.id === id)?.name;
    if (!Number.isInteger(id) || !app.store.users.deleteToken(id, isAdmin(actor) ? undefined : actor.userId)) {
      return c.html(tokensSection(view(c, { alert: notFound(`token ${c.req.param("id")}`).message })), 404);
    }
    app.store.audit.record(actor, "token.delete", `/api/token/${id}/`, name === undefined ? undefined : { name });
    return c.html(tokensSection(view(c, { notice: `Revoked ${name ?? `token ${id}`}.` })));
  });
}

function auditRoutes(app: App, ui: Hono<UiEnv>) {
  ui.use("/audit", adminOnly("read the audit log"));
  ui.get("/audit", (c) => {
    const { limit, offset } = paging((k) => c.req.query(k), 50, 500);
    const action = c.req.query("action")?.trim() ?? "";
    const actor = c.req.query("actor")?.trim() ?? "";
    const { rows, total } = app.store.audit.list({ action: action || undefined, actor: actor || undefined }, limit, offset);
    return c.html(auditPage(ctxOf(c), { rows, total, limit, offset, action, actor }));
  });
}

export function adminPages(app: App): Hono<UiEnv> {
  const ui = new Hono<UiEnv>({ strict: false });
  eventRoutes(app, ui);
  instanceRoutes(app, ui);
  userRoutes(app, ui);
  tokenRoutes(app, ui);
  auditRoutes(app, ui);
  return ui;
}
