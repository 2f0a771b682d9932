/** /api/events?pattern=job.*.finished — every event as it happens, as server-sent events. */
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { invalid, isValidPattern, routingKey, topicMatcher, type FlueEvent } from "../../domain/index.ts";
import { maySeeJob, seesAll } from "../../service/index.ts";
import type { App, HonoEnv } from "../env.ts";
import { presentEvent } from "../present.ts";

const HEARTBEAT_MS = 15_000;

export function eventRoutes(app: App) {
  const r = new Hono<HonoEnv>({ strict: false });
  r.get("/", (c) => {
    const pattern = c.req.query("pattern") ?? "#";
    if (!isValidPattern(pattern)) {
      throw invalid(`"${pattern}" is not a topic pattern`, [{ path: "pattern", message: "words separated by dots; * matches one word, # any number" }]);
    }
    const matches = topicMatcher(pattern);
    const actor = c.get("actor");
    // The same rule as GET /api/job/{id}/: an event of a job the actor cannot see is not sent.
    const visible = (e: FlueEvent) => seesAll(actor) || (e.id !== undefined && maySeeJob(actor, app.store.jobs.get(e.id)?.owner ?? null));
    return streamSSE(c, async (s) => {
      const pending: FlueEvent[] = [];
      let wake: (() => void) | undefined;
      const unsubscribe = app.store.events.subscribe((e) => {
        const key = routingKey(e);
        if (!matches(key) || !visible(e)) return;
        pending.push({ ...presentEvent(app, e), routing_key: key });
        wake?.();
      });
      s.onAbort(() => {
        unsubscribe();
        wake?.();
      });
      await s.writeSSE({ event: "ready", data: JSON.stringify({ pattern }) });
      try {
        while (!s.aborted) {
          while (pending.length) await s.writeSSE({ data: JSON.stringify(pending.shift()) });
          // Clear the heartbeat timer on wake: a busy stream would otherwise pile up one per batch.
          await new Promise<void>((res) => {
            const timer = setTimeout(res, HEARTBEAT_MS);
            wake = () => {
              clearTimeout(timer);
              res();
            };
          });
          wake = undefined;
          if (!pending.length && !s.aborted) await s.write(": heartbeat\n\n");
        }
      } finally {
        unsubscribe();
      }
    });
  });
  return r;
}
