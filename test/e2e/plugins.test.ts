/**
 * Plugins through the compiled binary: a user's plugin file (importing
 * valibot and flue/plugin) loaded with --plugins, listed, used by a job;
 * bad plugin files stop flue naming the file; several inputs and outputs;
 * an output put to a storage the plugin defines.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, startBinary, tempDir, type Binary } from "../helpers/index.ts";

const USER_PLUGIN = `
import * as v from "valibot";
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { defineAdapter, defineStorage, PluginError } from "flue/plugin";

/** The input's path for the environment; the output gets a suffix appended after the process. */
export const envPath = defineAdapter({
  kind: "adapter",
  type: "env_path",
  version: "1.2.3",
  description: "a path in the environment",
  parameters: v.strictObject({ name: v.string(), suffix: v.optional(v.string()) }),
  input: {
    stageIn(p, ctx, source) {
      if (!source) throw new PluginError("no input", false);
      const to = ctx.resolve(ctx.name);
      copyFileSync(source.path, to);
      ctx.vars[ctx.name] = to;
    },
  },
  output: {
    prepare(p, ctx) { ctx.vars[ctx.name] = ctx.resolve(ctx.name + ".out"); },
    async stageOut(p, ctx) {
      const path = ctx.vars[ctx.name];
      await Bun.write(path, (await Bun.file(path).text()) + (p.suffix ?? ""));
      return { path };
    },
  },
});

/** testdir://name: a file under FLUE_TESTDIR_ROOT. */
export default defineStorage({
  kind: "storage",
  schemes: ["testdir"],
  version: "0.1.0",
  settings: v.object({ root: v.string() }),
  async fetch(uri, to, ctx) { return { bytes: await Bun.write(to, Bun.file(join(ctx.settings.root as string, uri.host + uri.pathname))) }; },
  async put(uri, from, ctx) {
    const to = join(ctx.settings.root as string, uri.host + uri.pathname);
    mkdirSync(dirname(to), { recursive: true });
    return { bytes: await Bun.write(to, Bun.file(from)) };
  },
});
`;

let b: Binary;
const dir = tempDir("flue-e2e-plugins-");
const store = tempDir("flue-e2e-testdir-");

beforeAll(async () => {
  writeFileSync(join(dir.path, "user.ts"), USER_PLUGIN);
  b = await startBinary({ args: ["--plugins", dir.path], env: { FLUE_TESTDIR_ROOT: store.path } });
});
afterAll(async () => {
  await b?.stop();
  dir.remove();
  store.remove();
});

/** A response's JSON, as the tests read it. */
const json = (res: Response): Promise<any> => res.json();

async function register(definition: object) {
  const res = await b.fetch("/api/process_definition/", { method: "POST", body: JSON.stringify({ definition }), headers: { "content-type": "application/json" } });
  return { status: res.status, body: await json(res) };
}

async function run(definition: number, body: object) {
  const res = await b.fetch("/api/job/", { method: "POST", body: JSON.stringify({ process_definition: definition, ...body }), headers: { "content-type": "application/json" } });
  expect(res.status).toBe(201);
  const { id } = await json(res);
  return json(await b.fetch(`/api/job/${id}/?wait=20`));
}

test("the user's plugins are listed with their JSON Schema and source", async () => {
  const list = await json(await b.fetch("/api/plugins/"));
  const env = list.objects.find((p: any) => p.type === "env_path");
  expect(env).toMatchObject({ kind: "adapter", version: "1.2.3", source: join(dir.path, "user.ts"), directions: ["input", "output"] });
  expect(env.parameters.properties.suffix).toEqual({ type: "string" });
  expect(env.parameters.required).toEqual(["name"]);
  expect(list.objects.find((p: any) => p.schemes?.includes("testdir"))).toMatchObject({ kind: "storage", settings: { properties: { root: { type: "string" } } } });
  expect(list.objects.find((p: any) => p.type === "file")).toMatchObject({ source: "built-in" });
  expect((await json(await b.fetch("/api"))).plugins).toEqual({ list_endpoint: "/api/plugins/" });
});

test("a job through the user's adapter finishes with the right output", async () => {
  const def = await register({
    exec: "/bin/sh",
    argv: ["-c", 'tr a-z A-Z < "$IN" > "$1"', "sh", "${result}"],
    environment: { IN: "${data}" },
    input_adapters: [{ input_type: "env_path", input_parameters: { name: "data" } }],
    output_adapters: [{ output_type: "env_path", output_parameters: { name: "result", suffix: "!" } }],
  });
  expect(def.status).toBe(201);
  const job = await run(def.body.id, { inputs: { data: { content: "hello" } } });
  expect(job.state).toBe("FINISHED");
  expect(await (await b.fetch(`/api/job/${job.id}/outputs/result`)).text()).toBe("HELLO!");
});

test("an unknown adapter type is a 400 listing the known ones, with the entry's path", async () => {
  const r = await register({ exec: "/bin/true", input_adapters: [{ input_type: "file", input_parameters: { file_path: "${a}" } }, { input_type: "nope" }] });
  expect(r.status).toBe(400);
  // Every adapter that can take an input, built-in or the user's, in order.
  expect(r.body.error.fields).toContainEqual({ path: "definition.input_adapters.1.input_type", message: 'unknown input_type "nope"; known: env_path, file, nats, pipe, tcp' });
});

test("two inputs (path and stdin) and two outputs (path and STDOUT): both outputs download", async () => {
  const def = await register({
    exec: "/bin/sh",
    argv: ["-c", 'cat; cp "$1" "$2"', "sh", "${a}", "${b}"],
    input_adapters: [
      { input_type: "file", input_parameters: { file_path: "${a}" } },
      { input_type: "file", input_parameters: { file_type: "stream", stream_name: "STDIN", name: "s" } },
    ],
    output_adapters: [
      { output_type: "file", output_parameters: { file_path: "${b}" } },
      { output_type: "file", output_parameters: { file_type: "stream", stream_name: "STDOUT", name: "o" } },
    ],
  });
  expect(def.status).toBe(201);
  const job = await run(def.body.id, { inputs: { a: { content: "by path" }, s: { content: "on stdin" } } });
  expect(job.state).toBe("FINISHED");
  expect(await (await b.fetch(`/api/job/${job.id}/outputs/b`)).text()).toBe("by path");
  expect(await (await b.fetch(`/api/job/${job.id}/outputs/o`)).text()).toBe("on stdin");
  const dup = await register({ exec: "/bin/true", input_adapters: [{ input_type: "file", input_parameters: { file_path: "${a}" } }, { input_type: "file", input_parameters: { file_path: "${a}" } }] });
  expect(dup.body.error.fields).toContainEqual({ path: "definition.input_adapters.1", message: 'input "a" has the same name as an input' });
});

test("an output sent to a storage is put there; inputs come from it; unknown schemes are 400s", async () => {
  const def = await register({ exec: "/usr/bin/tr", argv: ["a-z", "A-Z"], input_adapter: { input_type: "file", input_parameters: { file_type: "stream", stream_name: "STDIN" } }, output_adapter: { output_type: "file", output_parameters: { file_type: "stream", stream_name: "STDOUT" } } });
  writeFileSync(join(store.path, "in.txt"), "from storage");
  const job = await run(def.body.id, { inputs: { input_file: { uri: "testdir://in.txt" } }, outputs: { output_file: { uri: "testdir://out/result.txt" } } });
  expect(job.state).toBe("FINISHED");
  expect(readFileSync(join(store.path, "out/result.txt"), "utf8")).toBe("FROM STORAGE");
  expect(job.outputs.output_file).toMatchObject({ uri: "testdir://out/result.txt", size: 12 });
  const bad = await b.fetch("/api/job/", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ process_definition: def.body.id, inputs: { input_file: { uri: "gopher://x/y" } } }) });
  expect(bad.status).toBe(400);
  const fields = (await json(bad)).error.fields;
  expect(fields[0].path).toBe("inputs.input_file.uri");
  expect(fields[0].message).toContain("known schemes: file, http, https, s3, testdir");
});

/** Starts the binary on a plugins dir holding one file; returns its exit code and stderr. */
async function startWith(fileName: string, text: string) {
  const d = tempDir("flue-e2e-badplugin-");
  const data = tempDir("flue-e2e-baddata-");
  writeFileSync(join(d.path, fileName), text);
  const proc = Bun.spawn({ cmd: [BINARY, "serve", "--port", "0", "--data-dir", data.path, "--plugins", d.path], stdout: "pipe", stderr: "pipe" });
  const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
  d.remove();
  data.remove();
  return { code, stderr, path: join(d.path, fileName) };
}

test.each([
  ["a syntax error", "broken.ts", "export default {{{", "cannot import"],
  ["a definition without a version", "bad.ts", 'export default { kind: "adapter", type: "x", parameters: {}, input: { stageIn() {} } };', "malformed adapter"],
  ["a duplicate type", "dup.ts", 'import * as v from "valibot"; export default { kind: "adapter", type: "file", version: "1", parameters: v.object({}), input: { stageIn() {} } };', 'adapter type "file" is registered already'],
  ["nothing exported", "empty.ts", "export const x = 1;", "exports no plugin"],
])("a plugin file with %s stops flue, naming the file", async (_what, fileName, text, problem) => {
  const r = await startWith(fileName, text);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(r.path);
  expect(r.stderr).toContain(problem);
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
});
