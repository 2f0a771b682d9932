/** /api/process_definition/ — the registry, byte-compatible with the seed. */
import { Hono } from "hono";
import { invalid } from "../../domain/index.ts";
import { readJson } from "../errors.ts";
import type { App, HonoEnv } from "../env.ts";
import { definitionUri, envelope, iso, paging, presentDefinition } from "../present.ts";

const MAX_QUERY = 1000;

export function definitionRoutes(app: App) {
  const r = new Hono<HonoEnv>({ strict: false });

  r.get("/", (c) => {
    const { limit, offset } = paging((k) => c.req.query(k));
    const q = c.req.query("q") || undefined;
    // SQLite refuses LIKE patterns past 50,000 bytes with an error; no name or search needs this many.
    if (q && q.length > MAX_QUERY) throw invalid(`q must be at most ${MAX_QUERY} characters`, [{ path: "q", message: `at most ${MAX_QUERY} characters` }]);
    const { rows, total } = app.definitions.list(limit, offset, q);
    return c.json(envelope(new URL(c.req.url), limit, offset, total, rows.map(presentDefinition)));
  });

  r.post("/", async (c) => {
    const row = await app.definitions.create(await readJson(c), c.get("actor"));
    c.header("Location", new URL(definitionUri(row.id), c.req.url).href);
    return c.json(presentDefinition(row), 201);
  });

  r.get("/:ref", (c) => c.json(presentDefinition(app.definitions.get(c.req.param("ref")))));

  r.put("/:ref", async (c) => c.json(presentDefinition(await app.definitions.update(c.req.param("ref"), await readJson(c), c.get("actor")))));

  r.delete("/:ref", async (c) => {
    await app.definitions.delete(c.req.param("ref"), c.get("actor"));
    return c.body(null, 204);
  });

  r.get("/:ref/versions", (c) => {
    const row = app.definitions.get(c.req.param("ref"));
    const versions = app.definitions.versions(row.id).map((v) => ({
      definition: v.definition,
      version: v.version,
      created_at: iso(v.createdAt),
      resource_uri: `${definitionUri(row.id)}versions/${v.version}/`,
    }));
    return c.json(envelope(new URL(c.req.url), versions.length, 0, versions.length, versions));
  });

  r.get("/:ref/versions/:version", (c) => {
    const row = app.definitions.get(c.req.param("ref"));
    const v = app.definitions.versions(row.id).find((x) => String(x.version) === c.req.param("version"));
    if (!v) return c.json({ error: { code: "not_found", message: `version ${c.req.param("version")} of definition ${row.id} not found` } }, 404);
    return c.json({ definition: v.definition, version: v.version, created_at: iso(v.createdAt), resource_uri: `${definitionUri(row.id)}versions/${v.version}/` });
  });

  return r;
}
