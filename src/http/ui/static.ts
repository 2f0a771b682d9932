/**
 * The UI's static files, embedded in the binary: htmx 4 and its SSE
 * extension (vendored from npm, never a CDN), flue's stylesheet and script.
 * Addressed under the version, so browsers may cache them for good.
 */
import { Hono } from "hono";
import htmx from "../../../node_modules/htmx.org/dist/htmx.min.js" with { type: "file" };
import sse from "../../../node_modules/htmx.org/dist/ext/hx-sse.min.js" with { type: "file" };
import css from "../../../views/static/flue.css" with { type: "file" };
import script from "../../../views/static/flue.js" with { type: "file" };
import jobsCss from "../../../views/static/jobs.css" with { type: "file" };
import jobsJs from "../../../views/static/jobs.js" with { type: "file" };
import definitionsCss from "../../../views/static/definitions.css" with { type: "file" };
import definitionsJs from "../../../views/static/definitions.js" with { type: "file" };
import adminCss from "../../../views/static/admin.css" with { type: "file" };
import adminJs from "../../../views/static/admin.js" with { type: "file" };
import { VERSION } from "../../version.ts";

const FILES: Record<string, { path: string; type: string }> = {
  "htmx.min.js": { path: htmx, type: "text/javascript; charset=utf-8" },
  "hx-sse.min.js": { path: sse, type: "text/javascript; charset=utf-8" },
  "flue.css": { path: css, type: "text/css; charset=utf-8" },
  "flue.js": { path: script, type: "text/javascript; charset=utf-8" },
  // Each area of the UI keeps its own styles and behaviour.
  "jobs.css": { path: jobsCss, type: "text/css; charset=utf-8" },
  "jobs.js": { path: jobsJs, type: "text/javascript; charset=utf-8" },
  "definitions.css": { path: definitionsCss, type: "text/css; charset=utf-8" },
  "definitions.js": { path: definitionsJs, type: "text/javascript; charset=utf-8" },
  "admin.css": { path: adminCss, type: "text/css; charset=utf-8" },
  "admin.js": { path: adminJs, type: "text/javascript; charset=utf-8" },
};

/** The stylesheets and scripts every page links, after htmx. */
export const PAGE_ASSETS = { css: ["flue.css", "jobs.css", "definitions.css", "admin.css"], js: ["flue.js", "jobs.js", "definitions.js", "admin.js"] };

export function staticRoutes(): Hono {
  const routes = new Hono();
  routes.get("/static/:version/:name", (c) => {
    const file = FILES[c.req.param("name")];
    if (!file) return c.text("no such file", 404);
    const current = c.req.param("version") === VERSION;
    return new Response(Bun.file(file.path), {
      headers: {
        "content-type": file.type,
        // An old version's address still answers (a page open across an upgrade), but is not cached.
        "cache-control": current ? "public, max-age=31536000, immutable" : "no-cache",
        "x-content-type-options": "nosniff",
      },
    });
  });
  return routes;
}
