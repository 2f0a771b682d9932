/**
 * The admin UI: server-rendered pages over the same services the API uses
 * (never the API over HTTP). A session cookie (HttpOnly, SameSite=Strict,
 * Secure under TLS) signs a browser in; every request that changes state
 * must come from flue's own pages (Origin and Sec-Fetch-Site) and carry the
 * session's CSRF token, as the X-CSRF-Token header (htmx) or a `_csrf`
 * field (plain forms).
 */
import { Hono, type Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { MiddlewareHandler } from "hono";
import { AppError } from "../../domain/index.ts";
import { ThrottledError } from "../../auth/index.ts";
import type { App } from "../env.ts";
import type { UiEnv } from "./env.ts";
import { staticRoutes } from "./static.ts";
import { signInPage, errorPage, errorFragment } from "../../../views/sign-in.tsx";
import { jobPages } from "./jobs.tsx";
import { definitionPages } from "./definitions.tsx";
import { adminPages } from "./admin.ts";
import { pluginPages } from "./plugins.tsx";

export const SESSION_COOKIE = "flue_session";
const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);
/** Paths that need no session. */
const PUBLIC = ["/login", "/static/", "/healthz", "/api"];

const remoteOf = (c: Context<UiEnv>) => c.env?.server?.requestIP(c.req.raw)?.address ?? null;
const isHtmx = (c: Context) => c.req.header("hx-request") === "true";

/** Only a path on this server: `next=//evil.example` or `https://...` would leave flue. */
export function safeNext(next: string | undefined): string {
  return next && next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\") ? next : "/";
}

/**
 * Whether a request comes from a page of this origin: browsers send
 * Sec-Fetch-Site (and Origin on every POST); a request that says it comes
 * from elsewhere is refused. Neither header (curl, an old browser) falls
 * through to the CSRF token, which such a request cannot have.
 */
function fromThisOrigin(c: Context): boolean {
  const site = c.req.header("sec-fetch-site");
  if (site && site !== "same-origin" && site !== "none") return false;
  const origin = c.req.header("origin");
  if (origin && origin !== "null") {
    try {
      return new URL(origin).host === c.req.header("host");
    } catch {
      return false;
    }
  }
  return origin !== "null";
}

/**
 * With --tls-client-user, a browser whose client certificate names a flue
 * user is signed in by it: a session starts without the sign-in form.
 */
function sessionFromCertificate(app: App, c: Context<UiEnv>) {
  const named = c.env?.certificateUser?.();
  const actor = named ? app.auth.byCertificate(named) : undefined;
  if (!actor) return undefined;
  // A browser opening a page gets a session; any other request (curl, a monitor) is let in
  // for itself alone, with no CSRF token to change anything, and leaves no session row behind.
  if (c.req.header("sec-fetch-mode") !== "navigate") return { actor, csrf: "" };
  const { secret, csrf } = app.auth.startSession({ ...actor, remote: remoteOf(c) });
  setCookie(c, SESSION_COOKIE, secret, { httpOnly: true, sameSite: "Strict", secure: true, path: "/" });
  return { actor, csrf };
}

/** Signed in, or sent to the sign-in page; a state change also needs the CSRF token. */
function requireSession(app: App): MiddlewareHandler<UiEnv> {
  return async (c, next) => {
    const path = c.req.path;
    if (PUBLIC.some((p) => path === p || path.startsWith(p.endsWith("/") ? p : `${p}/`))) return next();
    const found = app.auth.session(getCookie(c, SESSION_COOKIE)) ?? sessionFromCertificate(app, c);
    if (!found) {
      const to = `/login${path === "/" ? "" : `?next=${encodeURIComponent(path + (new URL(c.req.url).search || ""))}`}`;
      if (isHtmx(c)) {
        c.header("HX-Redirect", to);
        return c.body(null, 401);
      }
      return c.req.method === "GET" ? c.redirect(to, 303) : c.html(errorPage(401, "Your session has ended; sign in again."), 401);
    }
    if (UNSAFE.has(c.req.method)) {
      if (!fromThisOrigin(c)) throw new AppError(403, "forbidden", "this request came from another site; flue refused it");
      let token = c.req.header("x-csrf-token");
      if (token === undefined && c.req.header("content-type")?.startsWith("application/x-www-form-urlencoded")) {
        token = String((await c.req.parseBody())._csrf ?? "");
      }
      if (!found.csrf || token !== found.csrf) throw new AppError(403, "forbidden", "this form has expired or did not come from flue; reload the page and try again");
    }
    c.set("actor", { ...found.actor, remote: remoteOf(c) });
    c.set("csrf", found.csrf);
    c.header("Cache-Control", "no-store");
    await next();
  };
}

/** Pages may not be framed (clickjacking), and run only flue's own scripts. */
const securityHeaders: MiddlewareHandler = async (c, next) => {
  await next();
  if (c.req.path.startsWith("/api") || c.req.path.startsWith("/static/")) return;
  c.header("X-Frame-Options", "DENY");
  c.header("X-Content-Type-Options", "nosniff");
  c.header("Referrer-Policy", "same-origin");
  c.header(
    "Content-Security-Policy",
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
  );
};

export function uiRoutes(app: App): Hono<UiEnv> {
  const ui = new Hono<UiEnv>({ strict: false });
  const secure = Boolean(app.config.tlsCert);
  ui.use("*", securityHeaders);
  ui.route("/", staticRoutes());
  ui.use("*", requireSession(app));

  ui.get("/login", (c) => {
    const next = safeNext(c.req.query("next"));
    if (app.auth.session(getCookie(c, SESSION_COOKIE))) return c.redirect(next, 303);
    return c.html(signInPage({ next }));
  });

  ui.post("/login", async (c) => {
    if (!fromThisOrigin(c)) return c.html(errorPage(403, "This sign-in came from another site; flue refused it."), 403);
    const form = await c.req.parseBody();
    const username = String(form.username ?? "").trim();
    const password = String(form.password ?? "");
    const next = safeNext(String(form.next ?? ""));
    if (!username || !password) {
      return c.html(signInPage({ next, username, error: "Enter your username and password." }), 400);
    }
    const remote = remoteOf(c);
    let actor;
    try {
      actor = await app.auth.signIn(username, password, remote);
    } catch (e) {
      if (!(e instanceof ThrottledError)) throw e;
      c.header("Retry-After", String(e.retryAfter));
      return c.html(signInPage({ next, username, error: `Too many failed sign-ins. Try again in ${Math.ceil(e.retryAfter / 60)} minutes.` }), 429);
    }
    if (!actor) return c.html(signInPage({ next, username, error: "Wrong username or password." }), 401);
    const { secret } = app.auth.startSession({ ...actor, remote });
    setCookie(c, SESSION_COOKIE, secret, { httpOnly: true, sameSite: "Strict", secure, path: "/" });
    return c.redirect(next, 303);
  });

  ui.post("/logout", (c) => {
    app.auth.endSession(getCookie(c, SESSION_COOKIE));
    deleteCookie(c, SESSION_COOKIE, { path: "/", secure, httpOnly: true, sameSite: "Strict" });
    return c.redirect("/login", 303);
  });

  ui.route("/", jobPages(app));
  ui.route("/", definitionPages(app));
  ui.route("/", adminPages(app));
  ui.route("/", pluginPages(app));
  return ui;
}

/**
 * An error on a page: a message in words, never a stack trace. To an htmx
 * request it goes into the page's flash area rather than where the answer
 * would have gone.
 */
export function renderUiError(err: Error, c: Context): Response {
  const status = err instanceof AppError ? err.status : 500;
  const message =
    err instanceof AppError ? err.message : "flue could not complete this request; the details are in its log";
  if (!(err instanceof AppError)) console.error(`flue: ${c.req.method} ${c.req.path} failed:`, err);
  if (isHtmx(c)) {
    c.header("HX-Retarget", "#flash");
    c.header("HX-Reswap", "innerHTML");
    return c.html(errorFragment(message), status as 400);
  }
  return c.html(errorPage(status, message), status as 400);
}
