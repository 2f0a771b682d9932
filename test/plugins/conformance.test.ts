/**
 * The conformance suite every built-in adapter and storage passes, run
 * through flue itself (an in-process App, real processes): each plugin
 * module in plugins/index.ts that exports a `conformance` fixture joins.
 * Adapters: empty, binary (all 256 byte values), large (streamed, flue's
 * memory bounded) inputs copied unchanged; a failing process reported;
 * nothing left in scratch. Storages: fetch (and put, when they can) round
 * trips, an empty object, a missing one reported.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import type { ConformanceFixture } from "../../src/adapters/api.ts";
import { BUILTINS, type BuiltinModule } from "../../plugins/index.ts";
import { FIXTURES } from "./fixtures.ts";
import { inProcess, type InProcess } from "../helpers/index.ts";

type Fixture = NonNullable<ConformanceFixture["setUp"]>;
/** A plugin's fixture: its module's own, or the suite's (test/plugins/fixtures.ts). */
const fixtureOf = (name: string, module: BuiltinModule): ConformanceFixture | undefined => module.conformance ?? FIXTURES[name];

let f: InProcess;
/** Each storage's place to write and read, made before flue starts: their settings are read at start-up. */
const places = new Map<string, Awaited<ReturnType<Fixture>>>();
const settings: string[] = [];
beforeAll(async () => {
  for (const [name, module] of Object.entries(BUILTINS)) {
    const setUp = fixtureOf(name, module)?.setUp;
    if (!setUp) continue;
    const at = await setUp();
    places.set(name, at);
    for (const [k, v] of Object.entries(at.env ?? {})) {
      process.env[k] = v;
      settings.push(k);
    }
  }
  f = await inProcess();
}, 60_000);
afterAll(async () => {
  await f.close();
  for (const at of places.values()) await at.tearDown();
  for (const k of settings) delete process.env[k];
});

const LARGE = 64 * 2 ** 20;
const ALL_BYTES = new Uint8Array(Array.from({ length: 256 * 4 }, (_, i) => i % 256));

async function define(definition: Record<string, unknown>): Promise<number> {
  const res = await f.json("POST", "/api/process_definition/", { definition });
  expect(res.status).toBe(201);
  return res.body.id;
}

/** Submits a job with input `in` uploaded, waits, and returns it; `peak` is flue's RSS growth while it ran. */
async function runUpload(id: number, bytes: Uint8Array) {
  const form = new FormData();
  form.set("process_definition", String(id));
  form.set("in", new File([bytes], "in.bin"));
  const created = await f.json("POST", "/api/job/", form);
  expect(created.status).toBe(201);
  Bun.gc(true);
  const before = process.memoryUsage.rss();
  let peak = 0;
  // Collected as it goes: what counts is what flue holds, not garbage the collector has yet to visit.
  const timer = setInterval(() => {
    Bun.gc(false);
    peak = Math.max(peak, process.memoryUsage.rss() - before);
  }, 10);
  const job = (await f.json("GET", `/api/job/${created.body.id}/?wait=30`)).body;
  clearInterval(timer);
  return { job, peak };
}

const output = async (jobId: string, name = "out") => new Uint8Array(await (await f.call("GET", `/api/job/${jobId}/outputs/${name}`)).arrayBuffer());
const scratchLeft = () => readdirSync(join(f.dataDir, "logs")).filter((n) => n.endsWith(".scratch"));

for (const [name, module] of Object.entries(BUILTINS)) {
  const d = module.default;
  if (d.kind !== "adapter") continue;
  describe(`adapter ${d.type} (${name})`, () => {
    for (const copy of fixtureOf(name, module)?.copies ?? []) {
      describe(copy.label, () => {
        let id: number;
        beforeAll(async () => {
          id = await define(copy.definition);
        });
        test.each([
          ["empty", new Uint8Array(0)],
          ["every byte value", ALL_BYTES],
        ])("%s input comes out unchanged", async (_what, bytes) => {
          const { job } = await runUpload(id, bytes);
          expect(job.state).toBe("FINISHED");
          expect(await output(job.id)).toEqual(bytes);
          expect(scratchLeft()).toEqual([]);
        });
        test("a large input is streamed: flue's memory stays bounded", async () => {
          const big = new Uint8Array(LARGE).fill(7);
          const { job, peak } = await runUpload(id, big);
          expect(job.state).toBe("FINISHED");
          expect(job.outputs.out.size).toBe(LARGE);
          // stdout passes through flue (its size cap) in pipe-sized chunks: growth stays under the input, never all of it.
          expect(peak).toBeLessThan(LARGE);
        });
        test("a process that fails is reported as a job message", async () => {
          const failing = await define({ ...copy.definition, exec: "/bin/sh", argv: ["-c", "exit 3", "sh", ...((copy.definition.argv as string[]) ?? [])] });
          const { job } = await runUpload(failing, ALL_BYTES);
          expect(job.state).toBe("FAILED");
          expect(job.messages.at(-1).text).toContain("exit status 3");
          expect(scratchLeft()).toEqual([]);
        });
      });
    }
  });
}

const CAT = {
  exec: "/bin/cat",
  input_adapter: { input_type: "file", input_parameters: { file_type: "stream", stream_name: "STDIN", name: "in" } },
  output_adapter: { output_type: "file", output_parameters: { file_type: "stream", stream_name: "STDOUT", name: "out" } },
};

for (const [name, module] of Object.entries(BUILTINS)) {
  const d = module.default;
  if (d.kind !== "storage" || !fixtureOf(name, module)?.setUp) continue;
  describe(`storage ${d.schemes.join(", ")} (${name})`, () => {
    let at: Awaited<ReturnType<Fixture>>;
    let cat: number;
    beforeAll(async () => {
      at = places.get(name)!;
      if (!at.base) throw new Error(`the ${name} fixture's setUp gives no base URI`);
      cat = await define(CAT);
    });
    const place = async (key: string, bytes: Uint8Array) => {
      if (at.place) return at.place(key, bytes);
      const { storageContext } = await import("./harness.ts");
      // With the settings flue read for this storage at start-up.
      const s = storageContext(f.app.plugins.storage(d.schemes[0])!.settings);
      const tmp = join(s.ctx.cacheDir, "object");
      await Bun.write(tmp, bytes);
      await d.put!(new URL(at.base + key), tmp, s.ctx);
      s.remove();
    };
    const fetchJob = async (uri: string) => {
      const created = await f.json("POST", "/api/job/", { process_definition: cat, inputs: { in: { uri } } });
      expect(created.status).toBe(201);
      return (await f.json("GET", `/api/job/${created.body.id}/?wait=20`)).body;
    };
    test.each([
      ["every byte value", ALL_BYTES],
      ["an empty object", new Uint8Array(0)],
    ])("fetch: %s arrives unchanged", async (what, bytes) => {
      const key = `fetch-${what.length}`;
      await place(key, bytes);
      const job = await fetchJob(at.base + key);
      expect(job.state).toBe("FINISHED");
      expect(await output(job.id)).toEqual(bytes);
      expect(scratchLeft()).toEqual([]);
    });
    test("a missing object fails the job with a message naming it", async () => {
      const job = await fetchJob(`${at.base}missing-object`);
      expect(job.state).toBe("FAILED");
      expect(job.messages.map((m: { text: string }) => m.text).join("\n")).toContain(`stage-in failed:`);
      expect(job.messages.map((m: { text: string }) => m.text).join("\n")).toContain("missing-object");
    });
    test.if(Boolean(d.put))("put: an output sent to the storage comes back by fetch", async () => {
      const created = await f.json("POST", "/api/job/", { process_definition: cat, inputs: { in: { content_base64: Buffer.from(ALL_BYTES).toString("base64") } }, outputs: { out: { uri: `${at.base}put-1` } } });
      expect(created.status).toBe(201);
      const done = (await f.json("GET", `/api/job/${created.body.id}/?wait=20`)).body;
      expect(done.outputs.out).toMatchObject({ uri: `${at.base}put-1`, size: ALL_BYTES.length });
      const back = await fetchJob(`${at.base}put-1`);
      expect(await output(back.id)).toEqual(ALL_BYTES);
    });
  });
}
