/**
 * The live event stream both the API (JSON) and the UI (HTML rows) serve:
 * events matching a topic pattern, only of jobs the actor may see, secrets
 * masked, a heartbeat while quiet, unsubscribed when the client goes away.
 */
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import { routingKey, topicMatcher, type FlueEvent } from "../domain/index.ts";
import { maySeeJob, seesAll, type Actor } from "../service/index.ts";
import type { App } from "./env.ts";
import { presentEvent } from "./present.ts";

const HEARTBEAT_MS = 15_000;

/** An event as a subscriber receives it: masked, with its routing key. */
export type SeenEvent = FlueEvent & { routing_key: string };

/** Whether `actor` may see an event: the same rule as GET /api/job/{id}/. */
export function eventVisibility(app: App, actor: Actor): (e: FlueEvent) => boolean {
  return (e) => seesAll(actor) || (e.id !== undefined && maySeeJob(actor, app.store.jobs.get(e.id)?.owner ?? null));
}

export interface EventStreamOptions {
  /** A valid topic pattern (the caller checks it and answers a bad one in its own way). */
  pattern: string;
  actor: Actor;
  /** The `data` of each message. */
  render: (e: SeenEvent) => string;
  /** The `data` of the first, `ready` message. */
  ready: string;
  heartbeatMs?: number;
}

export function streamEvents(c: Context, app: App, opts: EventStreamOptions): Response {
  const matches = topicMatcher(opts.pattern);
  const visible = eventVisibility(app, opts.actor);
  const heartbeat = opts.heartbeatMs ?? HEARTBEAT_MS;
  return streamSSE(c, async (s) => {
    const pending: SeenEvent[] = [];
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
    await s.writeSSE({ event: "ready", data: opts.ready });
    try {
      while (!s.aborted) {
        while (pending.length) await s.writeSSE({ data: opts.render(pending.shift()!) });
        // Clear the heartbeat timer on wake: a busy stream would otherwise pile up one per batch.
        await new Promise<void>((res) => {
          const timer = setTimeout(res, heartbeat);
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
}
