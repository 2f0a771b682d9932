/**
 * Bad requests of every kind, table-driven: each answers its exact 4xx status
 * with {"error": {"code", "message", "fields": [{"path", "message"}]}} naming
 * the offending field. Then a barrage of malformed bodies at every endpoint
 * that takes one: never a 500.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHttp } from "../../src/http/index.ts";
import { basic, inProcess, TR_DEFINITION, type InProcess } from "../helpers/index.ts";

let f: InProcess;
let ids: { tr: number; p: number; newTr: string; newP: string };

beforeAll(async () => {
  f = await inProcess();
  const def = async (definition: object) => (await f.json("POST", "/api/process_definition/", { definition })).body.id as number;
  const tr = await def({ ...TR_DEFINITION, name: "tr" });
  const p = await def({
    exec: "/bin/true",
    name: "p",
    parameters: { n: { type: "integer", required: true }, color: { enum: ["red", "blue"] }, code: { pattern: "[a-z]+" } },
  });
  const newJob = async (body: object) => (await f.json("POST", "/api/job/", { ...body, state: "NEW" })).body.id as string;
  ids = { tr, p, newTr: await newJob({ process_definition: "tr" }), newP: await newJob({ process_definition: "p", parameters: { n: 1 } }) };
});
afterAll(() => f.close());

/** Asserts the one error shape; returns the field paths. */
function errorShape(body: any): string[] {
  expect(Object.keys(body)).toEqual(["error"]);
  expect(typeof body.error.code).toBe("string");
  expect(typeof body.error.message).toBe("string");
  expect(body.error.message.length).toBeGreaterThan(0);
  if (body.error.fields === undefined) return [];
  expect(Array.isArray(body.error.fields)).toBe(true);
  for (const field of body.error.fields) {
    expect(Object.keys(field).sort()).toEqual(["message", "path"]);
    expect(typeof field.path).toBe("string");
    expect(typeof field.message).toBe("string");
  }
  return body.error.fields.map((x: { path: string }) => x.path);
}

type Case = [name: string, method: string, path: string | (() => string), body: unknown, status: number, fields: string[]];
const DEF = "/api/process_definition/";
const JOB = "/api/job/";
const job = (extra: object) => ({ process_definition: "tr", inputs: { input_file: { content: "x" } }, ...extra });
const withP = (parameters: object) => ({ process_definition: "p", parameters });

const CASES: Case[] = [
  ["malformed JSON", "POST", DEF, '{"definition":', 400, [""]],
  ["malformed JSON for a job", "POST", JOB, "{'process_definition': 1}", 400, [""]],
  ["an empty body", "POST", DEF, "", 400, [""]],
  ["a blank body", "POST", JOB, "  \n", 400, [""]],
  ["a list for a definition", "POST", DEF, [1], 400, [""]],
  ["null for a definition", "POST", DEF, "null", 400, [""]],
  ["a string for a definition", "PUT", () => `${DEF}${ids.tr}/`, '"text"', 400, [""]],
  ["a number for a job", "POST", JOB, "42", 400, [""]],
  ["nesting 1000 deep", "POST", DEF, `${"[".repeat(1000)}${"]".repeat(1000)}`, 400, [""]],
  ["no definition", "POST", DEF, {}, 400, ["definition"]],
  ["a null definition", "POST", DEF, { definition: null }, 400, ["definition"]],
  [
    "several definition errors at once",
    "POST",
    DEF,
    { definition: { exec: "", argv: "x", timeout: -1, process_type: "daemon", bogus: 1 } },
    400,
    ["definition.argv", "definition.bogus", "definition.exec", "definition.process_type", "definition.timeout"],
  ],
  ["both args and argv", "POST", DEF, { definition: { exec: "/x", args: ["a"], argv: ["b"] } }, 400, ["definition.args"]],
  ["an unknown template variable", "POST", DEF, { definition: { exec: "/x", argv: ["ok", "${nope}"] } }, 400, ["definition.argv.1"]],
  ["an unknown adapter", "POST", DEF, { definition: { exec: "/x", input_adapter: { input_type: "carrier_pigeon" } } }, 400, ["definition.input_adapter.input_type"]],
  ["a bad parameter pattern", "POST", DEF, { definition: { exec: "/x", parameters: { a: { pattern: "(" } } } }, 400, ["definition.parameters.a.pattern"]],
  ["a name of digits", "POST", DEF, { definition: { exec: "/x", name: "123" } }, 400, ["definition.name"]],
  ["a duplicate name", "POST", DEF, { definition: { exec: "/x", name: "tr" } }, 409, ["definition.name"]],
  ["a rename onto a taken name", "PUT", () => `${DEF}${ids.p}/`, { definition: { exec: "/x", name: "tr" } }, 409, ["definition.name"]],
  ["PUT of an invalid definition", "PUT", `${DEF}tr/`, { definition: { exec: 7 } }, 400, ["definition.exec"]],
  ["PUT of an unknown definition", "PUT", `${DEF}999/`, { definition: { exec: "/x" } }, 404, []],
  ["a job of an unknown definition", "POST", JOB, { process_definition: "nope" }, 404, ["process_definition"]],
  ["a job of an unknown definition id", "POST", JOB, { process_definition: 999 }, 404, ["process_definition"]],
  ["a malformed definition resource_uri", "POST", JOB, { process_definition: "/api/process_definition/%E0%A4%A/" }, 404, ["process_definition"]],
  ["a job without a definition", "POST", JOB, { inputs: {} }, 400, ["process_definition"]],
  ["an object as definition reference", "POST", JOB, { process_definition: {} }, 400, ["process_definition"]],
  ["an unknown job field", "POST", JOB, job({ bogus: 1 }), 400, ["bogus"]],
  ["an unknown parameter", "POST", JOB, withP({ n: 1, zzz: 1 }), 400, ["parameters.zzz"]],
  ["a parameter of the wrong type", "POST", JOB, withP({ n: "1" }), 400, ["parameters.n"]],
  ["a fractional integer", "POST", JOB, withP({ n: 1.5 }), 400, ["parameters.n"]],
  ["a missing required parameter", "POST", JOB, withP({}), 400, ["parameters.n"]],
  ["an enum violation", "POST", JOB, withP({ n: 1, color: "green" }), 400, ["parameters.color"]],
  ["a pattern violation", "POST", JOB, withP({ n: 1, code: "ABC" }), 400, ["parameters.code"]],
  ["parameters as a list", "POST", JOB, { process_definition: "p", parameters: [1] }, 400, ["parameters"]],
  ["an unknown input", "POST", JOB, { process_definition: "tr", inputs: { other: { content: "x" } } }, 400, ["inputs.input_file", "inputs.other"]],
  ["a missing input", "POST", JOB, { process_definition: "tr" }, 400, ["inputs.input_file"]],
  ["content and uri", "POST", JOB, job({ inputs: { input_file: { content: "x", uri: "http://x.test/" } } }), 400, ["inputs.input_file"]],
  ["content and content_base64", "POST", JOB, job({ inputs: { input_file: { content: "x", content_base64: "eA==" } } }), 400, ["inputs.input_file"]],
  ["bad base64", "POST", JOB, job({ inputs: { input_file: { content_base64: "!!!" } } }), 400, ["inputs.input_file.content_base64"]],
  ["a uri that is not http(s)", "POST", JOB, job({ inputs: { input_file: { uri: "file:///etc/passwd" } } }), 400, ["inputs.input_file.uri"]],
  ["content that is not text", "POST", JOB, job({ inputs: { input_file: { content: 5 } } }), 400, ["inputs.input_file.content"]],
  ["a file_name with a slash", "POST", JOB, job({ inputs: { input_file: { content: "x", file_name: "../x" } } }), 400, ["inputs.input_file.file_name"]],
  ["a bad state", "POST", JOB, job({ state: "RUNNING" }), 400, ["state"]],
  ["an empty job list", "POST", JOB, [], 400, [""]],
  ["a bad job in a list", "POST", JOB, [job({}), withP({ n: "x" }), null], 400, ["1.parameters.n", "2"]],
  ["PATCH with a list", "PATCH", () => `${JOB}${ids.newTr}/`, [1], 400, [""]],
  ["PATCH of an unknown field", "PATCH", () => `${JOB}${ids.newTr}/`, { owner: "x" }, 400, ["owner"]],
  ["PATCH to a bad state", "PATCH", () => `${JOB}${ids.newTr}/`, { state: "DONE" }, 400, ["state"]],
  ["PATCH of a bad input", "PATCH", () => `${JOB}${ids.newTr}/`, { inputs: { input_file: 5 } }, 400, ["inputs.input_file"]],
  ["PATCH of a bad parameter", "PATCH", () => `${JOB}${ids.newP}/`, { parameters: { n: "x" } }, 400, ["parameters.n"]],
  ["PATCH to QUEUED without inputs", "PATCH", () => `${JOB}${ids.newTr}/`, { state: "QUEUED" }, 400, ["inputs.input_file"]],
  ["queueing without inputs", "POST", () => `${JOB}${ids.newTr}/queue`, undefined, 400, ["inputs.input_file"]],
  ["PATCH of an unknown job", "PATCH", `${JOB}nope/`, {}, 404, []],
  ...["x", "-1", "1.5", "100000"].map((v): Case => [`?limit=${v}`, "GET", `${JOB}?limit=${v}`, undefined, 400, ["limit"]]),
  ...["x", "-1", "0.5"].map((v): Case => [`?offset=${v} on definitions`, "GET", `${DEF}?offset=${v}`, undefined, 400, ["offset"]]),
  ...["abc", "-1", "601", "Infinity"].map((v): Case => [`?wait=${v}`, "GET", () => `${JOB}${ids.newTr}/?wait=${v}`, undefined, 400, ["wait"]]),
  ...["BOGUS", "NEW,BOGUS", "new,,x"].map((v): Case => [`?state=${v}`, "GET", `${JOB}?state=${v}`, undefined, 400, ["state"]]),
  ["an unknown definition filter", "GET", `${JOB}?process_definition=nope`, undefined, 400, ["process_definition"]],
  ["a malformed definition filter", "GET", `${JOB}?process_definition=/api/process_definition/%25E0/`, undefined, 400, ["process_definition"]],
  ["an unknown route under /api", "GET", "/api/nope", undefined, 404, []],
  ["a POST to a definition", "POST", `${DEF}1/`, {}, 404, []],
  ["a path too deep", "GET", `${JOB}x/y/z`, undefined, 404, []],
  ["a missing version", "GET", `${DEF}tr/versions/abc/`, undefined, 404, []],
];

describe("each bad request names its field", () => {
  test.each(CASES)("%s", async (_, method, path, body, status, fields) => {
    const before = (await f.json("GET", JOB)).body.meta.total_count;
    const res = await f.json(method, typeof path === "function" ? path() : path, body);
    expect(res.status).toBe(status);
    expect(res.headers.get("content-type")).toStartWith("application/json");
    expect(errorShape(res.body).sort()).toEqual(fields);
    expect((await f.json("GET", JOB)).body.meta.total_count).toBe(before);
  });

  test("an empty item in ?state= is skipped", async () => {
    const { status, body } = await f.json("GET", `${JOB}?state=NEW,`);
    expect(status).toBe(200);
    expect(body.objects.map((j: any) => j.id).sort()).toEqual([ids.newTr, ids.newP].sort());
  });
});

describe("never a 500", () => {
  test("malformed bodies at every endpoint that takes one", async () => {
    const http = createHttp(f.app);
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(random() * 256));
    const deep = (n: number) => JSON.parse(`${"[".repeat(n)}${"]".repeat(n)}`);
    const VALUES: unknown[] = [null, [], [[1]], {}, { a: {} }, 1e308, -1, 0.5, true, "", "%E0%A4%A", "/api/process_definition/%E0/", "\u0000", deep(100)];
    const FIELDS = ["definition", "process_definition", "parameters", "inputs", "state", "name", "expires_in_days", "argv", "args", "environment", "input_adapter", "output_adapter", "retries", "timeout", "cwd"];
    // `state` and `name` at 5 make each body invalid for every endpoint, whatever the other fields hold.
    const bodies: (string | Uint8Array)[] = [
      "", " ", "null", "true", "0", "-0", "1e99999", '"\\ud800"', "[]", "[null]", "[[]]", "{\"state\":5}", '{"a":1,}', "{", "}", "\u0000",
      `${"[".repeat(100_000)}${"]".repeat(100_000)}`,
      `{"definition":${'{"a":'.repeat(50_000)}1${"}".repeat(50_001)}`,
      `{"process_definition":"tr","state":5,"parameters":${'{"a":'.repeat(50_000)}1${"}".repeat(50_001)}`,
      ...Array.from({ length: 20 }, (_, i) => bytes(1 + i * 37)),
    ];
    for (const field of FIELDS) {
      for (const value of VALUES) {
        bodies.push(JSON.stringify({ state: 5, name: 5, [field]: value }));
        bodies.push(JSON.stringify({ state: 5, name: 5, definition: { exec: 5, [field]: value } }));
      }
    }
    for (const value of VALUES) {
      bodies.push(JSON.stringify({ process_definition: "tr", state: 5, inputs: { input_file: value } }));
      bodies.push(JSON.stringify({ process_definition: value, state: 5, inputs: { input_file: { content: value } } }));
      bodies.push(JSON.stringify({ process_definition: "tr", state: 5, inputs: { input_file: { content_base64: value, uri: value } } }));
    }
    const endpoints: [string, string, string][] = [
      ["POST", DEF, "application/json"],
      ["PUT", `${DEF}${ids.tr}/`, "application/json"],
      ["POST", JOB, "application/json"],
      ["POST", JOB, "multipart/form-data; boundary=xx"],
      ["PATCH", `${JOB}${ids.newTr}/`, "application/json"],
      ["POST", `${JOB}${ids.newTr}/queue`, "application/json"],
      ["POST", "/api/token/", "application/json"],
    ];
    const bad: string[] = [];
    for (const [method, path, type] of endpoints) {
      for (const body of bodies) {
        const res = await http.request(`http://flue.test${path}`, { method, body, headers: { authorization: basic(), "content-type": type } });
        const text = await res.text();
        let shaped = false;
        try {
          const json = JSON.parse(text);
          shaped = typeof json.error?.code === "string" && typeof json.error?.message === "string";
        } catch {}
        if (res.status < 400 || res.status > 499 || !shaped) bad.push(`${method} ${path} ${String(body).slice(0, 60)} → ${res.status} ${text.slice(0, 100)}`);
      }
    }
    expect(bad).toEqual([]);
    expect(bodies.length * endpoints.length).toBeGreaterThan(1000);
    expect((await f.json("GET", JOB)).body.meta.total_count).toBe(2);
  });
});

describe("a body over the limit", () => {
  let small: InProcess;
  beforeAll(async () => {
    small = await inProcess({ maxBodyBytes: 1000 });
    await small.json("POST", DEF, { definition: { ...TR_DEFINITION, name: "tr" } });
  });
  afterAll(() => small.close());

  test.each([
    ["a definition", DEF, { definition: { exec: "/x", description: "d".repeat(1200) } }],
    ["a job", JOB, job({ inputs: { input_file: { content: "x".repeat(1200) } } })],
    ["a job list", JOB, Array.from({ length: 30 }, () => job({}))],
    ["an upload", JOB, formOf("y".repeat(1500))],
  ])("%s is a 413", async (_, path, body) => {
    const res = await small.json("POST", path, body);
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe("too_large");
    expect((await small.json("GET", JOB)).body.meta.total_count).toBe(0);
  });

  test("a body under the limit is taken", async () => {
    expect((await small.json("POST", JOB, formOf("x".repeat(500)))).status).toBe(201);
  });
});

function formOf(content: string) {
  const form = new FormData();
  form.set("process_definition", "tr");
  form.set("input_file", new Blob([content]), "in.txt");
  return form;
}
