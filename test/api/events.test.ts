/**
 * GET /api/events?pattern=… streams events as server-sent events, filtered by
 * topic pattern (`*` one word, `#` any number) and by who may see the job.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { basic, eventually, FINISHED_JOB_EVENTS, inProcess, TR_DEFINITION, type InProcess } from "../helpers/index.ts";

let f: InProcess;
const SUB = basic("sub", "sub-password");

beforeAll(async () => {
  f = await inProcess();
  await f.json("POST", "/api/process_definition/", { definition: { ...TR_DEFINITION, name: "tr" } });
  await f.app.auth.createUser("sub", "sub-password", "submitter");
});
afterAll(() => f.close());

interface Stream {
  /** Every `data:` payload received so far, parsed. */
  events: any[];
  close: () => Promise<void>;
}

/** Opens an event stream and reads it in the background, block by block, until closed. */
async function open(pattern: string, auth = basic()): Promise<Stream> {
  const res = await f.call("GET", `/api/events?pattern=${encodeURIComponent(pattern)}`, undefined, auth);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toStartWith("text/event-stream");
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const events: any[] = [];
  let buffer = "";
  let ready = false;
  const pump = (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
        const lines = buffer.slice(0, end).split("\n");
        buffer = buffer.slice(end + 2);
        const data = lines.filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart());
        if (lines.includes("event: ready")) ready = true;
        else if (data.length) events.push(JSON.parse(data.join("\n")));
      }
    }
  })();
  await eventually(() => ready, 2000);
  return {
    events,
    close: async () => {
      await reader.cancel();
      await pump;
    },
  };
}

const submit = async (auth = basic()) => {
  const { status, body } = await f.json("POST", "/api/job/", { process_definition: "tr", inputs: { input_file: { content: "axbx" } } }, auth);
  expect(status).toBe(201);
  expect((await f.json("GET", `/api/job/${body.id}/?wait=10`, undefined, auth)).body.state).toBe("FINISHED");
  return body.id as string;
};

/** Runs job A, then job B; once a stream has seen B, everything it was to get of A has arrived. */
async function twoJobs(streams: Stream[], auth = basic()) {
  const a = await submit(auth);
  const b = await submit(auth);
  for (const s of streams) await eventually(() => s.events.some((e) => e.id === b), 5000);
  return a;
}

const ALL = FINISHED_JOB_EVENTS;

describe("the event stream", () => {
  test("job.*.finished sends the finished event and nothing else", async () => {
    const s = await open("job.*.finished");
    const id = await twoJobs([s]);
    const mine = s.events.filter((e) => e.id === id);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ type: "finished", id, executor: f.app.instance.id, routing_key: `job.${id}.finished` });
    expect(typeof mine[0].timestamp).toBe("number");
    expect(mine[0].thread).toBeInteger();
    expect(s.events.every((e) => e.type === "finished")).toBe(true);
    expect(s.events.some((e) => e.type === "queued")).toBe(false);
    await s.close();
  });

  const patterns: [string, string[]][] = [
    ["#", ALL],
    ["", ALL],
    ["job.#", ALL],
    ["job.*.started", ["started"]],
    ["job.#.started", ["started", "stage-in.started", "execution.started", "stage-out.started"]],
    ["job.*.stage-in.*", ["stage-in.started", "stage-in.finished"]],
    ["job.*.*.finished", ["stage-in.finished", "execution.finished", "stage-out.finished"]],
    ["job.*.queued", ["queued"]],
    ["*.*.finished", ["finished"]],
  ];

  test("patterns select by word: * is one word, # any number", async () => {
    const streams = await Promise.all(patterns.map(([p]) => open(p)));
    const id = await twoJobs(streams);
    patterns.forEach(([pattern, types], i) => {
      expect([pattern, streams[i].events.filter((e) => e.id === id).map((e) => e.type)]).toEqual([pattern, types]);
    });
    await Promise.all(streams.map((s) => s.close()));
  });

  test("a user who is not an admin gets events of its own jobs only", async () => {
    const s = await open("#", SUB);
    const theirs = await submit();
    await twoJobs([s], SUB);
    expect(s.events.length).toBeGreaterThan(0);
    expect(s.events.some((e) => e.id === theirs)).toBe(false);
    expect(s.events.some((e) => e.type === "executor.ready")).toBe(false);
    await s.close();
  });

  test("closing the stream unsubscribes it", async () => {
    const listeners = (f.app.store.events as unknown as { listeners: Set<unknown> }).listeners;
    const before = listeners.size;
    const s = await open("#");
    expect(listeners.size).toBe(before + 1);
    await s.close();
    await eventually(() => listeners.size === before, 2000);
  });

  test.each(["a..b", "job.*x", "job.**", "job.#x", "job. x", ".", "job."])("the pattern %p is a 400", async (pattern) => {
    const res = await f.json("GET", `/api/events?pattern=${encodeURIComponent(pattern)}`);
    expect(res.status).toBe(400);
    expect(res.body.error.fields).toEqual([{ path: "pattern", message: expect.any(String) }]);
  });
});
