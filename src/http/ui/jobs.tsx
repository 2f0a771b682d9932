/**
 * Dashboard, jobs and job pages, and their live streams: server-sent events
 * whose messages are htmx partials (rows, parts of the job page, log text)
 * that replace or extend what the page shows, by id.
 */
import { Hono, type Context } from "hono";
import { streamSSE } from "hono/streaming";
import { existsSync } from "node:fs";
import { conflict, invalid, isFinal, JOB_STATES, notFound, type JobState } from "../../domain/index.ts";
import type { InputMeta } from "../../executor/index.ts";
import { mayControlJob, maySeeJob, seesAll, type Actor } from "../../service/index.ts";
import type { JobRow } from "../../store/index.ts";
import type { App } from "../env.ts";
import { attachment, fileElsewhere, isHere, logPath, outputFile, outputPath, readAt, sendFile, sendStream, storedInput, type LogName } from "../job-files.ts";
import { paging, presentEvent } from "../present.ts";
import type { UiEnv } from "./env.ts";
import { page } from "../../../views/layout.tsx";
import { DashboardView } from "../../../views/dashboard.tsx";
import { JobRowView, JobsPager, JobsView, PAGER_ID, rowId, type JobsFilter } from "../../../views/jobs.tsx";
import { JobView, liveParts, type StoredEvent } from "../../../views/job.tsx";

const TAIL = 64 * 1024;
const HEARTBEAT_MS = 15_000;
const EVENTS_SHOWN = 500;

const ctxOf = (c: Context<UiEnv>) => ({ actor: c.get("actor"), csrf: c.get("csrf"), path: c.req.path });

/** Text for inside an element; a CR would end an SSE line, so it goes as a reference. */
const escapeText = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/\r/g, "&#13;");

/** An htmx 4 partial: `html` goes to `target` by `swap`. */
const partial = (target: string, swap: string, html: string) => `<hx-partial hx-target="${target}" hx-swap="${swap}">${html}</hx-partial>`;

/** Waits for `wake` or `ms`, whichever comes first. */
function waiter() {
  let wake: (() => void) | undefined;
  return {
    wake: () => wake?.(),
    sleep: (ms: number) =>
      new Promise<void>((res) => {
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          wake = undefined;
          res();
        }
        wake = done;
      }),
  };
}

export function jobPages(app: App): Hono<UiEnv> {
  const ui = new Hono<UiEnv>({ strict: false });
  const jobs = app.store.jobs;

  ui.get("/", (c) => {
    const actor = c.get("actor");
    const own = seesAll(actor) ? undefined : actor.username;
    const nowMinute = Math.floor(Date.now() / 60_000);
    const body = (
      <DashboardView
        counts={own === undefined ? jobs.countsByState() : jobs.countsByOwner(own)}
        perMinute={jobs.finishedPerMinute((nowMinute - 59) * 60, own)}
        nowMinute={nowMinute}
        busy={app.executor.busy}
        slots={app.config.slots}
        failures={jobs.latestFailures(6, own)}
        ownOnly={own !== undefined}
      />
    );
    return c.html(page(ctxOf(c), "Dashboard", body));
  });

  const readFilter = (c: Context<UiEnv>): JobsFilter => {
    const { limit, offset } = paging((k) => c.req.query(k), 50, 200);
    const state = (c.req.query("state") ?? "").trim().toUpperCase() || undefined;
    if (state && !(JOB_STATES as readonly string[]).includes(state)) throw invalid(`there is no state "${state}"; choose one of ${JOB_STATES.join(", ")}`);
    const def = (c.req.query("definition") ?? "").trim();
    if (def && !/^\d+$/.test(def)) throw invalid("the definition filter must be a definition's number");
    const before = c.req.query("before");
    const beforeSeq = before ? jobs.seqOf(before) : undefined;
    if (before && beforeSeq === undefined) throw invalid(`there is no job ${before} to page on from; go back to the first page`);
    return { state, definition: def ? Number(def) : undefined, offset, limit, beforeSeq };
  };

  ui.get("/jobs", (c) => {
    const filter = readFilter(c);
    const { rows, total } = app.jobs.list(
      { states: filter.state ? [filter.state as JobState] : undefined, definitionId: filter.definition, beforeSeq: filter.beforeSeq },
      filter.limit,
      filter.beforeSeq === undefined ? filter.offset : 0,
      c.get("actor"),
    );
    const definitions = app.store.definitions.list(500, 0).rows.map((d) => ({ id: d.id, name: d.name }));
    return c.html(page(ctxOf(c), "Jobs", <JobsView rows={rows} total={total} filter={filter} definitions={definitions} />));
  });

  /** Rows of the jobs page as they change; new jobs that match the filter join the first page. */
  ui.get("/jobs/live", (c) => {
    const actor = c.get("actor");
    const filter = readFilter(c);
    const ids = new Set((c.req.query("ids") ?? "").split(",").filter(Boolean).slice(0, 200));
    const lastId = [...ids].at(-1);
    return streamSSE(c, async (s) => {
      const dirty = new Set(ids); // sent once at the start: whatever changed while (re)connecting
      const fresh = new Set<string>();
      const w = waiter();
      const unsubscribe = app.store.events.subscribe((e) => {
        if (e.id === undefined) return;
        if (ids.has(e.id)) dirty.add(e.id);
        else if (filter.offset === 0 && e.type === "created" && (filter.definition === undefined || e.definition_id === filter.definition)) fresh.add(e.id);
        else return;
        w.wake();
      });
      s.onAbort(() => {
        unsubscribe();
        w.wake();
      });
      try {
        while (!s.aborted) {
          let out = "";
          const before = ids.size;
          for (const id of fresh) {
            const job = jobs.get(id);
            if (!job || !maySeeJob(actor, job.owner) || (filter.state && job.state !== filter.state)) continue;
            ids.add(id);
            out += partial("#job-rows", "afterbegin", (<JobRowView job={job} />).toString());
          }
          if (ids.size > before) {
            // New rows joined the page: the pager counts them too.
            const { total } = app.jobs.list({ states: filter.state ? [filter.state as JobState] : undefined, definitionId: filter.definition }, 0, 0, actor);
            out += partial(`#${PAGER_ID}`, "outerHTML", (<JobsPager filter={filter} shown={ids.size} total={total} lastId={lastId} />).toString());
          }
          fresh.clear();
          for (const id of dirty) {
            const job = jobs.get(id);
            if (!job) out += partial(`#${rowId(id)}`, "delete", "");
            else if (maySeeJob(actor, job.owner)) out += partial(`#${rowId(id)}`, "outerHTML", (<JobRowView job={job} />).toString());
          }
          dirty.clear();
          if (out) await s.writeSSE({ data: out });
          else await s.write(": heartbeat\n\n");
          await w.sleep(HEARTBEAT_MS);
          if (!s.aborted) await s.sleep(100); // a burst of events becomes one message
        }
      } finally {
        unsubscribe();
      }
    });
  });

  // As the API shows them: secrets masked, credentials out of URIs.
  const eventsOf = (job: JobRow) => app.store.events.listForJob(job.id, 0, EVENTS_SHOWN).map((e) => presentEvent(app, e)) as StoredEvent[];
  const declaredFor = (job: JobRow) => app.store.definitions.resolved(job.definitionId, job.definitionVersion)?.parameters ?? {};
  const tailOf = async (job: JobRow, which: LogName) => {
    const path = logPath(app, job.id, which);
    const tail = path && (await readAt(app, job, path, -TAIL, TAIL));
    return tail ? new TextDecoder().decode(tail.bytes) : "";
  };
  const partsOf = (job: JobRow, actor: Actor) =>
    liveParts({ job, events: eventsOf(job), control: mayControlJob(actor, job.owner) })
      .map((p) => {
        const html = String(p);
        const id = /^<\w+ id="([^"]+)"/.exec(html)?.[1];
        return id ? partial(`#${id}`, "outerHTML", html) : "";
      })
      .join("");

  ui.get("/jobs/:id", async (c) => {
    const actor = c.get("actor");
    const job = app.jobs.get(c.req.param("id"), actor);
    const body = (
      <JobView
        job={job}
        events={eventsOf(job)}
        declared={declaredFor(job)}
        control={mayControlJob(actor, job.owner)}
        logs={{ stdout: await tailOf(job, "stdout"), stderr: await tailOf(job, "stderr") }}
      />
    );
    return c.html(page(ctxOf(c), `Job ${job.id}`, body));
  });

  /** The job page's live parts and the tails of its logs, until the job ends. */
  ui.get("/jobs/:id/live", (c) => {
    const actor = c.get("actor");
    const id = app.jobs.get(c.req.param("id"), actor).id;
    return streamSSE(c, async (s) => {
      let changed = true;
      const w = waiter();
      const unsubscribe = app.store.events.subscribe((e) => {
        if (e.id !== id) return;
        changed = true;
        w.wake();
      });
      s.onAbort(() => {
        unsubscribe();
        w.wake();
      });
      const logs = (["stdout", "stderr"] as const).map((which) => ({ which, path: undefined as string | undefined, offset: 0, decoder: new TextDecoder(), started: false }));
      /** New log text as partials: the whole tail when a log (re)starts, then what it grew by. */
      const logParts = async (job: JobRow | undefined) => {
        let out = "";
        for (const log of logs) {
          const path = job && logPath(app, id, log.which);
          if (path !== log.path || !log.started) {
            log.path = path;
            log.decoder = new TextDecoder();
            const tail = path && (await readAt(app, job, path, -TAIL, TAIL));
            const text = tail ? log.decoder.decode(tail.bytes, { stream: true }) : "";
            log.offset = tail ? tail.offset + tail.bytes.length : 0;
            log.started = true;
            out += partial(`#log-${log.which}`, "innerHTML", escapeText(text));
            continue;
          }
          if (!path) continue;
          const chunk = (await readAt(app, job!, path, log.offset, TAIL))?.bytes;
          if (!chunk?.length) continue;
          log.offset += chunk.length;
          const text = log.decoder.decode(chunk, { stream: true });
          if (text) out += partial(`#log-${log.which}`, "beforeend", escapeText(text));
        }
        return out;
      };
      const send = async (data: string) => {
        if (data) await s.writeSSE({ data });
      };
      let quiet = 0;
      try {
        while (!s.aborted) {
          const job = jobs.get(id);
          let out = await logParts(job);
          if (!job || !maySeeJob(actor, job.owner)) {
            await send(out + partial("#flash", "innerHTML", '<p class="notice" role="status">This job has been deleted.</p>'));
            await s.writeSSE({ event: "done", data: "" });
            return;
          }
          if (changed) {
            changed = false;
            out += partsOf(job, actor);
          }
          if (isFinal(job.state as JobState)) {
            await send(out + (await logParts(jobs.get(id))));
            await s.writeSSE({ event: "done", data: "" });
            return;
          }
          if (out) {
            quiet = 0;
            await send(out);
          } else if ((quiet += 250) >= HEARTBEAT_MS) {
            quiet = 0;
            await s.write(": heartbeat\n\n");
          }
          await w.sleep(250);
        }
      } finally {
        unsubscribe();
      }
    });
  });

  const download = (which: LogName) => async (c: Context<UiEnv>) => {
    const job = app.jobs.get(c.req.param("id")!, c.get("actor"));
    const path = logPath(app, job.id, which);
    const shared = path && !isHere(app, job) && (await fileElsewhere(app, job, path));
    if (shared) return sendStream(c, shared, `${job.id}.${which}.txt`, "text/plain; charset=utf-8");
    if (!path || !existsSync(path)) {
      c.header("Content-Type", "text/plain; charset=utf-8");
      c.header("Content-Disposition", attachment(`${job.id}.${which}.txt`));
      return c.body("");
    }
    return sendFile(c, path, `${job.id}.${which}.txt`, "text/plain; charset=utf-8");
  };
  ui.get("/jobs/:id/stdout", download("stdout"));
  ui.get("/jobs/:id/stderr", download("stderr"));

  ui.get("/jobs/:id/outputs/:name", async (c) => {
    const job = app.jobs.get(c.req.param("id"), c.get("actor"));
    const name = c.req.param("name");
    const elsewhere = !isHere(app, job) && outputPath(app, job, name);
    const shared = elsewhere && (await fileElsewhere(app, job, elsewhere.path));
    if (elsewhere && shared) return sendStream(c, shared, elsewhere.meta.file_name);
    const found = outputFile(app, job, name);
    if (!found) throw notFound(`output "${name}" of job ${job.id}`);
    return sendFile(c, found.path, found.meta.file_name);
  });

  ui.post("/jobs/:id/cancel", async (c) => {
    const actor = c.get("actor");
    const job = await app.jobs.cancel(c.req.param("id"), actor);
    return c.html(partsOf(job, actor));
  });

  ui.post("/jobs/:id/delete", async (c) => {
    await app.jobs.delete(c.req.param("id"), c.get("actor"));
    c.header("HX-Redirect", "/jobs");
    return c.body(null, 204);
  });

  /**
   * A new job of the same definition version, parameters and inputs. The
   * service submits the definition's current version, so a job whose version
   * has since changed is refused rather than silently run on another recipe.
   */
  ui.post("/jobs/:id/requeue", async (c) => {
    const actor = c.get("actor");
    const job = app.jobs.get(c.req.param("id"), actor);
    const def = app.store.definitions.find(job.definitionId);
    if (!def) throw conflict(`the definition of job ${job.id} has been deleted; it cannot be re-queued`);
    if (def.version !== job.definitionVersion) {
      throw conflict(
        `${def.name ?? `definition #${def.id}`} has changed since this job ran (version ${job.definitionVersion}, now ${def.version}); re-queue runs only the same version — submit the new one from the definition's page`,
      );
    }
    const inputs: Record<string, unknown> = {};
    for (const [name, meta] of Object.entries(job.inputs as Record<string, InputMeta>)) {
      const fileName = meta.file_name ? { file_name: meta.file_name } : {};
      if (meta.source === "uri") {
        inputs[name] = { uri: meta.uri, ...fileName };
        continue;
      }
      const bytes = await storedInput(app, job.id, name);
      if (!bytes) throw conflict(`input "${name}" of job ${job.id} is no longer stored, so it cannot be re-queued`);
      inputs[name] = { content_base64: Buffer.from(bytes).toString("base64"), ...fileName };
    }
    const [created] = await app.jobs.submit({ process_definition: job.definitionId, parameters: job.parameters, inputs }, actor);
    c.header("HX-Redirect", `/jobs/${created.id}`);
    return c.body(null, 204);
  });

  return ui;
}
