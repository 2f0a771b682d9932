/**
 * Inputs given as an http:// URI are downloaded at stage-in, from a real
 * HTTP server this test starts on loopback: on stdin and as a file path,
 * bytes unchanged, counted in stage-in.finished; a failed download fails
 * the attempt with a message saying why; a server's error is retried by the
 * policy, a missing object is not (another attempt cannot find it).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { inProcess, TR_DEFINITION, type InProcess } from "../helpers/index.ts";

let f: InProcess;
let server: ReturnType<typeof Bun.serve>;
const bytes = crypto.getRandomValues(new Uint8Array(200_000));
let hits = 0;

beforeAll(async () => {
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(req) {
      hits++;
      const path = new URL(req.url).pathname;
      if (path === "/text") return new Response("axbxcx");
      if (path === "/bytes.bin") return new Response(bytes);
      if (path === "/busy") return new Response("try later", { status: 503 });
      return new Response("no such thing", { status: 404 });
    },
  });
  f = await inProcess();
  const definitions = {
    tr: TR_DEFINITION,
    cp: {
      exec: "/bin/cp",
      argv: ["${input_file}", "${output_file}"],
      input_adapter: { input_type: "file", input_parameters: { file_path: "${input_file}" } },
      output_adapter: { output_type: "file", output_parameters: { file_path: "${output_file}" } },
      retries: { count: 1, backoff: 0 },
    },
  };
  for (const [name, definition] of Object.entries(definitions)) {
    expect((await f.json("POST", "/api/process_definition/", { definition: { ...definition, name } })).status).toBe(201);
  }
});
afterAll(async () => {
  await f.close();
  server.stop(true);
});

const run = async (definition: string, uri: string) => {
  const res = await f.json("POST", "/api/job/", { process_definition: definition, inputs: { input_file: { uri } } });
  expect(res.status).toBe(201);
  expect(res.body.inputs.input_file).toEqual({ source: "uri", uri });
  return (await f.json("GET", `/api/job/${res.body.id}/?wait=20`)).body;
};

test("a URI fed on stdin", async () => {
  const job = await run("tr", `${server.url}text`);
  expect(job.state).toBe("FINISHED");
  expect(await (await f.call("GET", `/api/job/${job.id}/outputs/output_file`)).text()).toBe("abc");
  const events = (await f.json("GET", `/api/job/${job.id}/events/`)).body.objects;
  expect(events.find((e: any) => e.type === "stage-in.finished").bytes).toBe(6);
});

test("a URI downloaded to a file path, bytes unchanged", async () => {
  const job = await run("cp", `${server.url}bytes.bin`);
  expect(job.state).toBe("FINISHED");
  const out = new Uint8Array(await (await f.call("GET", `/api/job/${job.id}/outputs/output_file`)).arrayBuffer());
  expect(out).toEqual(bytes);
  const events = (await f.json("GET", `/api/job/${job.id}/events/`)).body.objects;
  expect(events.find((e: any) => e.type === "stage-in.finished").bytes).toBe(bytes.length);
});

test("a download the server fails is retried, and each attempt says why", async () => {
  const before = hits;
  const job = await run("cp", `${server.url}busy`);
  expect(job.state).toBe("FAILED");
  expect(job.attempts).toBe(2);
  expect(hits - before).toBe(2);
  const texts = job.messages.map((m: any) => m.text).join("\n");
  expect(texts).toContain(`stage-in failed: GET ${server.url}busy answered HTTP 503`);
  expect(job.messages.at(-1)).toMatchObject({ level: "error", text: expect.stringContaining("attempt 2 of 2 failed") });
});

test("a download that is not there fails at once: another attempt would not find it either", async () => {
  const before = hits;
  const job = await run("cp", `${server.url}missing`);
  expect(job.state).toBe("FAILED");
  expect(job.attempts).toBe(1);
  expect(hits - before).toBe(1);
  expect(job.messages.map((m: any) => m.text).join("\n")).toContain(`stage-in failed: GET ${server.url}missing answered HTTP 404`);
});

test("a server that is not there", async () => {
  const job = await run("tr", "http://127.0.0.1:1/nothing");
  expect(job.state).toBe("FAILED");
  expect(job.messages.map((m: any) => m.text).join("\n")).toMatch(/stage-in failed: GET http:\/\/127\.0\.0\.1:1\/nothing failed: .*ECONNREFUSED/);
});

test("a URI's user and password are used to fetch it, and shown nowhere: not in the job, not in its events", async () => {
  const secret = "s3cr3t-pw";
  const uri = `${server.url}text`.replace("http://", `http://reader:${secret}@`);
  const created = await f.json("POST", "/api/job/", { process_definition: "tr", inputs: { input_file: { uri } } });
  expect(created.status).toBe(201);
  const job = (await f.json("GET", `/api/job/${created.body.id}/?wait=20`)).body;
  expect(job.state).toBe("FINISHED");
  expect(job.inputs.input_file.uri).toBe(`${server.url}text`);
  const events = (await f.json("GET", `/api/job/${job.id}/events/`)).body;
  expect(JSON.stringify(events)).not.toContain(secret);
  expect(JSON.stringify(job)).not.toContain(secret);
});
