/**
 * The HTTP face of flue: the API under /api (Basic or Bearer auth on every
 * route), and the admin UI's pages (a session cookie) everywhere else. Translates HTTP to service calls and back; the
 * rules live in the services.
 */
import { Hono } from "hono";
import { ThrottledError } from "../auth/index.ts";
import type { App, HonoEnv } from "./env.ts";
import { limitBody } from "./body-limit.ts";
import { renderError } from "./errors.ts";
import { eventRoutes } from "./api/events.ts";
import { instanceRoutes } from "./api/instance.ts";
import { jobRoutes } from "./api/jobs.ts";
import { definitionRoutes } from "./api/process-definitions.ts";
import { tokenRoutes } from "./api/tokens.ts";
import { userRoutes } from "./api/users.ts";
import { auditRoutes } from "./api/audit.ts";
import { pluginRoutes } from "./api/plugins.ts";
import { renderUiError, uiRoutes } from "./ui/index.ts";
import { errorPage } from "../../views/sign-in.tsx";

export function createHttp(app: App): Hono<HonoEnv> {
  const http = new Hono<HonoEnv>({ strict: false });
  // The API answers errors in JSON, the pages in words on a page.
  http.onError((err, c) => (c.req.path.startsWith("/api") ? renderError(err, c) : renderUiError(err, c)));
  http.notFound((c) =>
    c.req.path.startsWith("/api")
      ? c.json({ error: { code: "not_found", message: `no such resource: ${c.req.method} ${c.req.path}` } }, 404)
      : c.html(errorPage(404, `There is no page at ${c.req.path}.`), 404),
  );

  http.get("/healthz", (c) => c.json({ status: "ok", version: app.instance.version }));

  // Who is asking comes first: an anonymous caller's body is never read.
  http.use("/api/*", async (c, next) => {
    // From the socket only: a header a client sets could name any address.
    const remote = c.env?.server?.requestIP(c.req.raw)?.address ?? null;
    let actor;
    const header = c.req.header("authorization");
    // Credentials sent win; without them, a client certificate may name the user (--tls-client-user).
    const named = header ? null : (c.env?.certificateUser?.() ?? null);
    if (named !== null) {
      actor = app.auth.byCertificate(named);
      if (!actor) return c.json({ error: { code: "unauthorized", message: `the client certificate names "${named}", who is not a flue user; sign in with Basic auth or a token` } }, 401);
    }
    try {
      actor ??= await app.auth.authenticate(header, remote);
    } catch (e) {
      if (!(e instanceof ThrottledError)) throw e;
      c.header("Retry-After", String(e.retryAfter));
      return c.json(e.toJSON(), 429);
    }
    if (!actor) {
      c.header("WWW-Authenticate", 'Basic realm="flue", charset="UTF-8"');
      return c.json({ error: { code: "unauthorized", message: "sign in with Basic auth or an API token (Authorization: Bearer ...)" } }, 401);
    }
    c.set("actor", { ...actor, remote });
    await next();
  });
  http.use("/api/*", limitBody(app.config.maxBodyBytes));

  http.get("/api", (c) =>
    c.json({
      process_definition: { list_endpoint: "/api/process_definition/" },
      job: { list_endpoint: "/api/job/" },
      events: { stream_endpoint: "/api/events" },
      token: { list_endpoint: "/api/token/" },
      user: { list_endpoint: "/api/user/" },
      audit: { list_endpoint: "/api/audit/" },
      instance: { list_endpoint: "/api/instance/" },
      plugins: { list_endpoint: "/api/plugins/" },
    }),
  );
  http.route("/api/process_definition", definitionRoutes(app));
  http.route("/api/job", jobRoutes(app));
  http.route("/api/events", eventRoutes(app));
  http.route("/api/token", tokenRoutes(app));
  http.route("/api/user", userRoutes(app));
  http.route("/api/audit", auditRoutes(app));
  http.route("/api/instance", instanceRoutes(app));
  http.route("/api/plugins", pluginRoutes(app));
  http.route("/", uiRoutes(app));
  return http;
}
