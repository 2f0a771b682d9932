/** /api/job/ — submit, list, read, change, queue, cancel, delete; logs, outputs, events. */
import { Hono, type Context } from "hono";
import { stream } from "hono/streaming";
import { existsSync } from "node:fs";
import { AppError, invalid, isFinal, JOB_STATES, type JobState } from "../../domain/index.ts";
import { parseRef } from "../../service/index.ts";
import type { JobRow } from "../../store/index.ts";
import { readJson } from "../errors.ts";
import type { App, HonoEnv } from "../env.ts";
import { envelope, jobUri, paging, presentEvent, presentJob, queryFlag } from "../present.ts";
import { CHUNK, fileElsewhere, followLog, isHere, logPath, outputFile, outputPath, readFrom, sendFile, sendStream } from "../job-files.ts";

const MAX_WAIT = 600;
/** How often a followed log is looked at again in a fleet, where that may be a request to another instance. */
const FOLLOW_FLEET_MS = 250;

export function jobRoutes(app: App) {
  const r = new Hono<HonoEnv>({ strict: false });
  /** Parameter declarations of a job's pinned version, for masking secrets. */
  const declaredFor = (job: JobRow) => app.store.definitions.resolved(job.definitionId, job.definitionVersion)?.parameters ?? {};
  const present = (job: JobRow) => presentJob(job, declaredFor(job));

  r.post("/", async (c) => {
    const actor = c.get("actor");
    const type = c.req.header("content-type") ?? "";
    let created: JobRow[];
    let many = false;
    if (type.startsWith("multipart/form-data")) {
      const form = await c.req.formData().catch((e) => {
        if (e instanceof AppError) throw e; // past --max-body
        throw invalid("the multipart body could not be read", [{ path: "", message: "expected multipart/form-data with a boundary" }]);
      });
      const body: Record<string, unknown> = {};
      const files = new Map<string, File>();
      const texts = new Map<string, string>();
      for (const [name, value] of form.entries()) {
        if (typeof value !== "string") files.set(name, value);
        else if (name === "process_definition" || name === "state") body[name] = value;
        else if (name === "parameters") {
          try {
            body.parameters = JSON.parse(value);
          } catch {
            throw invalid("the parameters field is not valid JSON", [{ path: "parameters", message: "must be a JSON object" }]);
          }
        } else texts.set(name, value);
      }
      created = await app.jobs.submit(body, actor, { files, texts });
    } else {
      const body = await readJson(c);
      many = Array.isArray(body);
      created = await app.jobs.submit(body, actor);
    }
    if (many) return c.json({ meta: { total_count: created.length }, objects: created.map(present) }, 201);
    c.header("Location", new URL(jobUri(created[0].id), c.req.url).href);
    return c.json(present(created[0]), 201);
  });

  r.get("/", (c) => {
    const { limit, offset } = paging((k) => c.req.query(k));
    const states = (c.req.queries("state") ?? []).flatMap((s) => s.split(",")).map((s) => s.trim().toUpperCase()).filter(Boolean);
    const bad = states.find((s) => !(JOB_STATES as readonly string[]).includes(s));
    if (bad) throw invalid(`unknown state "${bad}"`, [{ path: "state", message: `must be one of ${JOB_STATES.join(", ")}` }]);
    const ref = c.req.query("process_definition");
    let definitionId: number | undefined;
    if (ref) {
      const def = app.store.definitions.find(parseRef(ref));
      if (!def) throw invalid(`no process definition ${JSON.stringify(ref)}`, [{ path: "process_definition", message: "no such definition" }]);
      definitionId = def.id;
    }
    const before = c.req.query("before");
    let beforeSeq: number | undefined;
    if (before) {
      beforeSeq = app.store.jobs.seqOf(before);
      if (beforeSeq === undefined) throw invalid(`no job ${JSON.stringify(before)} to page from`, [{ path: "before", message: "must be the id of a job (the next link gives it)" }]);
    }
    // With a cursor, the page starts right after it; offset only numbers it.
    const { rows, total } = app.jobs.list({ states: states as JobState[], definitionId, beforeSeq }, limit, beforeSeq === undefined ? offset : 0, c.get("actor"));
    return c.json(envelope(new URL(c.req.url), limit, offset, total, rows.map(present), rows.at(-1)?.id));
  });

  r.get("/:id", async (c) => {
    const wait = c.req.query("wait");
    if (wait !== undefined) {
      const seconds = Number(wait);
      if (!Number.isFinite(seconds) || seconds < 0 || seconds > MAX_WAIT) {
        throw invalid(`wait must be a number of seconds from 0 to ${MAX_WAIT}`, [{ path: "wait", message: `must be from 0 to ${MAX_WAIT}` }]);
      }
      return c.json(present(await app.jobs.wait(c.req.param("id"), seconds, c.get("actor"))));
    }
    return c.json(present(app.jobs.get(c.req.param("id"), c.get("actor"))));
  });

  r.patch("/:id", async (c) => c.json(present(await app.jobs.patch(c.req.param("id"), await readJson(c), c.get("actor")))));
  r.post("/:id/queue", async (c) => c.json(present(await app.jobs.queue(c.req.param("id"), c.get("actor")))));
  r.post("/:id/cancel", async (c) => c.json(present(await app.jobs.cancel(c.req.param("id"), c.get("actor")))));
  r.delete("/:id", async (c) => {
    await app.jobs.delete(c.req.param("id"), c.get("actor"));
    return c.body(null, 204);
  });

  r.get("/:id/events", (c) => {
    const job = app.jobs.get(c.req.param("id"), c.get("actor"));
    const { limit, offset } = paging((k) => c.req.query(k), 1000, 10000);
    const all = app.store.events.listForJob(job.id, 0, offset + limit + 1);
    const page = all.slice(offset, offset + limit);
    const total = offset + page.length + (all.length > offset + limit ? 1 : 0);
    return c.json(envelope(new URL(c.req.url), limit, offset, total, page.map((e) => presentEvent(app, e))));
  });

  const log = (which: "stdout" | "stderr") => async (c: Context<HonoEnv>) => {
    const job = app.jobs.get(c.req.param("id")!, c.get("actor"));
    const follow = queryFlag(c.req.query("follow"));
    c.header("Content-Type", "text/plain; charset=utf-8");
    c.header("Cache-Control", "no-store");
    const pathOf = () => logPath(app, job.id, which);
    if (!follow && !isHere(app, job)) {
      const path = pathOf();
      const file = path && (await fileElsewhere(app, job, path));
      if (!file) return c.body("");
      c.header("Content-Length", String(file.size)); // as for a file here, once Bun sends it with a streamed body (oven-sh/bun#10507)
      return c.body(file.stream);
    }
    if (follow && app.fleet) {
      return stream(c, async (s) => {
        for await (const chunk of followLog(app, job.id, which, () => s.sleep(FOLLOW_FLEET_MS))) {
          if (s.aborted) return;
          await s.write(chunk);
        }
      });
    }
    if (!follow) {
      const path = pathOf();
      if (!path || !existsSync(path)) return c.body("");
      return c.body(Bun.file(path).stream());
    }
    return stream(c, async (s) => {
      let path = pathOf();
      let offset = 0;
      for (;;) {
        const current = app.store.jobs.get(job.id);
        const done = !current || isFinal(current.state as JobState);
        const nextPath = pathOf();
        if (nextPath !== path) {
          path = nextPath; // a new attempt: follow its log from the start
          offset = 0;
        }
        for (let chunk = path ? readFrom(path, offset, CHUNK) : undefined; chunk?.length; chunk = readFrom(path!, offset, CHUNK)) {
          offset += chunk.length;
          await s.write(chunk);
        }
        if (done || s.aborted) return;
        await s.sleep(100);
      }
    });
  };
  r.get("/:id/stdout", log("stdout"));
  r.get("/:id/stderr", log("stderr"));

  r.get("/:id/outputs/:name", async (c) => {
    const job = app.jobs.get(c.req.param("id"), c.get("actor"));
    const name = c.req.param("name");
    const elsewhere = !isHere(app, job) && outputPath(app, job, name);
    if (elsewhere) {
      const shared = await fileElsewhere(app, job, elsewhere.path);
      if (!shared) throw new AppError(404, "not_found", `output "${name}" of job ${job.id} is neither on instance ${job.instance}, where the job ran, nor shared with the fleet`);
      return sendStream(c, shared, elsewhere.meta.file_name);
    }
    const found = outputFile(app, job, name);
    if (!found) {
      const known = Object.keys(job.outputs as object);
      return c.json({ error: { code: "not_found", message: `job ${job.id} has no output "${name}"${known.length ? `; it has: ${known.join(", ")}` : job.state === "FINISHED" ? "" : ` (it is ${job.state})`}` } }, 404);
    }
    return sendFile(c, found.path, found.meta.file_name);
  });

  return r;
}
