/**
 * Property-based fuzzing of every JSON body and every query parameter: any
 * value a user can send is answered below 500, a 4xx carries the one error
 * shape, and the server still answers afterwards. Then hostile parameter
 * values reach the process as exactly one argv element each, never a shell.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { existsSync, rmSync } from "node:fs";
import { createHttp } from "../../src/http/index.ts";
import { basic, inProcess, type InProcess } from "../helpers/index.ts";

let f: InProcess;
let http: ReturnType<typeof createHttp>;
let ids: { echo: number; typed: number; newJob: string; doneJob: string };
const DEF = "/api/process_definition/";
const JOB = "/api/job/";
const MARKER = `/tmp/flue-fuzz-marker-${process.pid}`;
/** Prints each argument followed by a NUL, so the test can count them. */
const ECHO = { exec: "/bin/sh", argv: ["-c", 'for a; do printf "%s\\0" "$a"; done', "sh", "${v}"], parameters: { v: { required: true } } };
const RUNS = Number(process.env.FUZZ_RUNS ?? 40);

beforeAll(async () => {
  rmSync(MARKER, { force: true });
  f = await inProcess({ slots: 4 });
  const def = async (definition: object) => (await f.json("POST", DEF, { definition })).body.id as number;
  const echo = await def({ ...ECHO, name: "echo" });
  const typed = await def({ exec: "/bin/true", name: "typed", parameters: { n: { type: "integer" }, c: { enum: ["a", "b"] }, s: { pattern: "[a-z]+" } } });
  const newJob = (await f.json("POST", JOB, { process_definition: "typed", state: "NEW" })).body.id as string;
  const done = (await f.json("POST", JOB, { process_definition: "typed" })).body.id as string;
  await f.json("GET", `${JOB}${done}/?wait=20`);
  ids = { echo, typed, newJob, doneJob: done };
  http = createHttp(f.app);
});
afterAll(async () => {
  await f.close();
  rmSync(MARKER, { force: true });
});

/** Strings of every kind: unicode, lone surrogates, NUL, shell syntax, long. */
const nasty = fc.oneof(
  fc.string({ unit: "binary" }),
  fc.string({ unit: "grapheme" }),
  fc.constantFrom("\u0000", "\ud800", "\udfff", "a\u0000b", "-rf", "$(touch /tmp/x)", "; rm -rf /", "\n", "%00", "%FF", "../..", "NaN", "1e309", "-0", "__proto__", "constructor"),
  fc.integer({ min: 1000, max: 200_000 }).map((n) => "x".repeat(n)),
);
const number = fc.oneof(fc.double(), fc.integer(), fc.bigInt().map((b) => Number(b)), fc.constantFrom(1e308, -1e308, 2 ** 53 + 1, -0, 0.1));
const deepArray = fc.integer({ min: 1, max: 5000 }).map((n) => JSON.parse(`${"[".repeat(n)}${"]".repeat(n)}`));
const value: fc.Arbitrary<unknown> = fc.oneof(
  { depthSize: "small" },
  fc.jsonValue(),
  nasty,
  number,
  deepArray,
  fc.constantFrom(null, true, false, [], {}, [null], { "": null }),
);
const FIELDS = ["definition", "process_definition", "parameters", "inputs", "state", "name", "expires_in_days", "exec", "argv", "args", "cwd", "environment", "timeout", "input_adapter", "output_adapter", "n", "c", "s", "v", "input_file", "content", "content_base64", "uri", "file_name"];
/** Objects built from the field names flue reads, so values reach the validators. */
const shaped: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: "small", withCrossShrink: true }, value, tie("object"), fc.array(tie("node"), { maxLength: 3 })),
  object: fc.dictionary(fc.oneof(fc.constantFrom(...FIELDS), fc.string()), tie("node"), { maxKeys: 6 }),
})).node;
const body = fc.oneof(
  shaped.map((v) => JSON.stringify(v) ?? "null"),
  fc.record({ definition: shaped }).map((v) => JSON.stringify(v)),
  fc.record({ process_definition: fc.oneof(fc.constantFrom("echo", "typed", 1, 2, "/api/process_definition/2/"), value), parameters: shaped, inputs: shaped, state: fc.oneof(fc.constantFrom("NEW"), value) }).map((v) =>
    JSON.stringify(v),
  ),
  fc.uint8Array({ maxLength: 2000 }),
  nasty,
);

/** Asserts the error shape on a 4xx, a JSON body on a 2xx, and never a 5xx. */
async function check(res: Response, what: string) {
  const text = await res.text();
  if (res.status >= 500) throw new Error(`${what.slice(0, 200)} → ${res.status} ${text.slice(0, 300)}`);
  if (res.status >= 400) {
    const json = JSON.parse(text);
    if (typeof json.error?.code !== "string" || typeof json.error?.message !== "string") throw new Error(`${what} → ${res.status} without the error shape: ${text.slice(0, 300)}`);
    for (const field of json.error.fields ?? []) if (typeof field.path !== "string" || typeof field.message !== "string") throw new Error(`${what}: bad field ${JSON.stringify(field)}`);
  }
}

/** Sends the bytes as they are, labelled JSON; the helper's `call` would re-encode them. */
const raw = (method: string, path: string, payload: string | Uint8Array) =>
  Promise.resolve(http.request(`http://flue.test${path}`, { method, body: payload, headers: { authorization: basic(), "content-type": "application/json" } }));

async function send(method: string, path: string, payload: string | Uint8Array) {
  await check(await raw(method, path, payload), `${method} ${path} ${String(payload).slice(0, 80)}`);
}

describe("fuzzed JSON bodies never answer 5xx", () => {
  const endpoints: [string, string, () => string][] = [
    ["POST", DEF, () => DEF],
    ["PUT", `${DEF}{id}/`, () => `${DEF}${ids.typed}/`],
    ["PATCH", `${DEF}{id}/`, () => `${DEF}${ids.typed}/`],
    ["POST", JOB, () => JOB],
    ["PATCH", `${JOB}{id}/`, () => `${JOB}${ids.newJob}/`],
    ["POST", "/api/token/", () => "/api/token/"],
  ];
  test.each(endpoints)("%s %s", async (method, _, path) => {
    await fc.assert(
      fc.asyncProperty(body, async (payload) => {
        await send(method, path(), payload);
      }),
      { numRuns: RUNS },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(body.map((b) => (typeof b === "string" ? b : "null")), { minLength: 1, maxLength: 4 }), async (items) => {
        await send(method, path(), `[${items.map((i) => (i.trim() === "" ? "null" : i)).join(",")}]`);
      }),
      { numRuns: RUNS / 2 },
    );
    expect((await f.call("GET", JOB)).status).toBe(200);
  }, 60_000);
});

describe("fuzzed query parameters never answer 5xx", () => {
  /** Raw query text: percent-encoded nasties, invalid percent escapes, non-UTF-8. */
  const raw = fc.oneof(
    nasty.map((s) => encodeURIComponent(s.toWellFormed())),
    value.map((v) => encodeURIComponent((JSON.stringify(v) ?? "").toWellFormed())),
    number.map(String),
    fc.constantFrom("%", "%F", "%FF%FE", "%C0%80", "%ED%A0%80", "%00", "%E0%A4%A", "", "+", "%2B", "Infinity", "-1", "1e999", "0x10", "9".repeat(400)),
  );
  const routes: [string, string[], () => string][] = [
    ["jobs", ["limit", "offset", "before", "state", "process_definition", "q"], () => JOB],
    ["definitions", ["limit", "offset", "q"], () => DEF],
    ["a job", ["wait"], () => `${JOB}${ids.doneJob}/`],
    ["job events", ["limit", "offset"], () => `${JOB}${ids.doneJob}/events/`],
    ["a log", ["follow"], () => `${JOB}${ids.doneJob}/stdout`],
    ["the event stream", ["pattern"], () => "/api/events"],
  ];
  test.each(routes)("%s", async (_, keys, path) => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom(...keys), raw), { minLength: 1, maxLength: 3 }), async (pairs) => {
        const url = `${path()}?${pairs.map(([k, v]) => `${k}=${v}`).join("&")}`;
        const res = await f.call("GET", url);
        // A valid pattern opens a stream that never ends by itself.
        if (res.status === 200 && url.startsWith("/api/events")) return void (await res.body?.cancel());
        await check(res, `GET ${url.slice(0, 200)}`);
      }),
      { numRuns: RUNS * 2 },
    );
    expect((await f.call("GET", JOB)).status).toBe(200);
  }, 60_000);
});

describe("hostile parameter values stay one argv element", () => {
  const HOSTILE = ["-rf", `$(touch ${MARKER})`, `\`touch ${MARKER}\``, `; touch ${MARKER}`, `| touch ${MARKER}`, "a\nb\n", "${v}", "%s%n", "'\"\\", "x".repeat(100_000), "é\ud83d\ude00中"];
  test.each(HOSTILE.map((v) => [v.length > 40 ? `${v.slice(0, 10)}… (${v.length} chars)` : JSON.stringify(v), v]))("%s", async (_, v) => {
    const { status, body } = await f.json("POST", JOB, { process_definition: "echo", parameters: { v } });
    expect(status).toBe(201);
    const done = (await f.json("GET", `${JOB}${body.id}/?wait=20`)).body;
    expect(done.state).toBe("FINISHED");
    const out = await (await f.call("GET", `${JOB}${body.id}/stdout`)).text();
    expect(out).toBe(`${v}\0`);
    expect(existsSync(MARKER)).toBe(false);
  });

  test("bytes that are not UTF-8 arrive as replacement characters in one element", async () => {
    const head = new TextEncoder().encode('{"process_definition":"echo","parameters":{"v":"a');
    const tail = new TextEncoder().encode('b"}}');
    const payload = new Uint8Array([...head, 0xff, 0xfe, 0xc0, 0x80, ...tail]);
    const res = await raw("POST", JOB, payload);
    expect(res.status).toBe(201);
    const id = ((await res.json()) as any).id;
    expect((await f.json("GET", `${JOB}${id}/?wait=20`)).body.state).toBe("FINISHED");
    const out = await (await f.call("GET", `${JOB}${id}/stdout`)).text();
    expect(out.split("\0")).toEqual([expect.stringMatching(/^a\ufffd+b$/), ""]);
  });

  test("a NUL byte, which no argv element can hold, is a 400 naming the parameter", async () => {
    const { status, body } = await f.json("POST", JOB, { process_definition: "echo", parameters: { v: "a\u0000b" } });
    expect(status).toBe(400);
    expect(body.error.fields).toEqual([{ path: "parameters.v", message: expect.any(String) }]);
  });

  test("a lone surrogate arrives as a replacement character in one element", async () => {
    const { status, body } = await f.json("POST", JOB, { process_definition: "echo", parameters: { v: "a\ud800b" } });
    expect(status).toBe(201);
    expect((await f.json("GET", `${JOB}${body.id}/?wait=20`)).body.state).toBe("FINISHED");
    expect(await (await f.call("GET", `${JOB}${body.id}/stdout`)).text()).toBe("a\ufffdb\0");
    expect(existsSync(MARKER)).toBe(false);
  });
});
