/** /api/events?pattern=job.*.finished — every event as it happens, as server-sent events. */
import { Hono } from "hono";
import { invalid, isValidPattern } from "../../domain/index.ts";
import type { App, HonoEnv } from "../env.ts";
import { streamEvents } from "../sse.ts";

export function eventRoutes(app: App) {
  const r = new Hono<HonoEnv>({ strict: false });
  r.get("/", (c) => {
    const pattern = c.req.query("pattern") ?? "#";
    if (!isValidPattern(pattern)) {
      throw invalid(`"${pattern}" is not a topic pattern`, [{ path: "pattern", message: "words separated by dots; * matches one word, # any number" }]);
    }
    return streamEvents(c, app, { pattern, actor: c.get("actor"), ready: JSON.stringify({ pattern }), render: (e) => JSON.stringify(e) });
  });
  return r;
}
