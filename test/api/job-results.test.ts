/**
 * What a job leaves behind: its events, stdout and stderr, output bytes, and
 * the reasons a FAILED job gives (exit status, timeout, spawn error, retries).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { FINISHED_JOB_EVENTS, inProcess, TR_DEFINITION, type InProcess } from "../helpers/index.ts";

let f: InProcess;
const STDIO = { input_adapter: TR_DEFINITION.input_adapter, output_adapter: TR_DEFINITION.output_adapter };
const FILES = {
  input_adapter: { input_type: "file", input_parameters: { file_path: "${input_file}" } },
  output_adapter: { output_type: "file", output_parameters: { file_path: "${output_file}" } },
};
const sh = (script: string, extra: Record<string, unknown> = {}) => ({ exec: "/bin/sh", argv: ["-c", script, "sh", "${attempt}"], ...extra });

beforeAll(async () => {
  f = await inProcess();
  const all: Record<string, Record<string, unknown>> = {
    tr: TR_DEFINITION,
    cat: { exec: "cat", ...STDIO },
    logs: sh("echo out; echo err >&2"),
    slow: sh("echo a; sleep 0.3; echo b"),
    sort: { exec: "/usr/bin/sort", argv: ["-o", "${output_file}", "${input_file}"], ...FILES },
    secret: {
      exec: "/bin/sh",
      argv: ["-c", 'printf %s "$1"', "sh", "${password}"],
      parameters: { password: { secret: true, required: true }, user: { default: "me" } },
      output_adapter: STDIO.output_adapter,
    },
    exit3: sh("exit 3"),
    timeout: { exec: "sleep", argv: ["10"], timeout: 0.5 },
    nosuch: { exec: "/nonexistent/flue-test-binary" },
    retried: sh("echo attempt $1 >&2; exit 1", { retries: { count: 2, backoff: 0 } }),
    flaky: sh('test "$1" -ge 2', { retries: { count: 2, backoff: 0 } }),
  };
  for (const [name, definition] of Object.entries(all)) {
    const res = await f.json("POST", "/api/process_definition/", { definition: { ...definition, name } });
    expect(res.status).toBe(201);
  }
});
afterAll(() => f.close());

const run = async (body: Record<string, unknown>) => {
  const res = await f.json("POST", "/api/job/", body);
  expect(res.status).toBe(201);
  return (await f.json("GET", `/api/job/${res.body.id}/?wait=20`)).body;
};
const text = async (path: string) => {
  const res = await f.call("GET", path);
  expect(res.status).toBe(200);
  return res.text();
};

describe("events", () => {
  test("a job's events, in order, with executor, timestamp, type, id and thread", async () => {
    const job = await run({ process_definition: "tr", inputs: { input_file: { content: "axbxcx" } } });
    const { status, body } = await f.json("GET", `/api/job/${job.id}/events/`);
    expect(status).toBe(200);
    const events = body.objects as any[];
    expect(events.map((e) => e.type)).toEqual(FINISHED_JOB_EVENTS);
    expect(body.meta.total_count).toBe(events.length);
    let last = 0;
    for (const e of events) {
      expect(e).toMatchObject({ executor: f.app.instance.id, id: job.id });
      expect(typeof e.timestamp).toBe("number");
      expect(Math.abs(e.timestamp - Date.now() / 1000)).toBeLessThan(60);
      expect(e.timestamp).toBeGreaterThanOrEqual(last);
      last = e.timestamp;
      if (!["created", "queued"].includes(e.type)) expect(e.thread).toBeInteger();
    }
    expect(events.some((e) => !Number.isInteger(e.timestamp))).toBe(true);
    const byType = Object.fromEntries(events.map((e) => [e.type, e]));
    expect(byType["stage-in.finished"].bytes).toBe(6);
    expect(byType["execution.finished"]).toMatchObject({ executable: "/usr/bin/tr", exit_status: 0 });
    expect(byType["execution.finished"].metrics.wall).toBeGreaterThan(0);
    expect(byType["stage-out.finished"].bytes).toBe(3);
    const page = await f.json("GET", `/api/job/${job.id}/events/?limit=3&offset=2`);
    expect(page.body.objects.map((e: any) => e.type)).toEqual(["started", "stage-in.started", "stage-in.finished"]);
  });
});

describe("logs and outputs", () => {
  test("stdout and stderr", async () => {
    const job = await run({ process_definition: "logs" });
    expect(await text(`/api/job/${job.id}/stdout`)).toBe("out\n");
    expect(await text(`/api/job/${job.id}/stderr`)).toBe("err\n");
  });

  test("stdout?follow=1 streams until the job ends", async () => {
    const { body } = await f.json("POST", "/api/job/", { process_definition: "slow" });
    expect(await text(`/api/job/${body.id}/stdout?follow=1`)).toBe("a\nb\n");
    expect((await f.json("GET", `/api/job/${body.id}/`)).body.state).toBe("FINISHED");
  });

  test("an output comes back byte for byte", async () => {
    const bytes = new Uint8Array(4096).map((_, i) => (i * 7919) % 256);
    const job = await run({ process_definition: "cat", inputs: { input_file: { content_base64: Buffer.from(bytes).toString("base64") } } });
    expect(job.state).toBe("FINISHED");
    expect(job.outputs.output_file).toMatchObject({ size: 4096, resource_uri: `/api/job/${job.id}/outputs/output_file` });
    const res = await f.call("GET", `/api/job/${job.id}/outputs/output_file`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/octet-stream");
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
  });

  test("a missing output is a 404 in JSON", async () => {
    const job = await run({ process_definition: "logs" });
    for (const name of ["output_file", "nope", "__proto__", "constructor"]) {
      const res = await f.json("GET", `/api/job/${job.id}/outputs/${name}`);
      expect([name, res.status]).toEqual([name, 404]);
      expect(res.body.error.code).toBe("not_found");
    }
    expect((await f.json("GET", "/api/job/00000000000000000000000000/outputs/output_file")).status).toBe(404);
  });

  test("a file_path definition reads and writes files named in argv", async () => {
    const form = new FormData();
    form.set("process_definition", "sort");
    form.set("input_file", new Blob(["pear\napple\nfig\n"]), "fruit.txt");
    const res = await f.call("POST", "/api/job/", form);
    expect(res.status).toBe(201);
    const job = (await f.json("GET", `/api/job/${((await res.json()) as any).id}/?wait=20`)).body;
    expect(job.state).toBe("FINISHED");
    expect(await text(`/api/job/${job.id}/outputs/output_file`)).toBe("apple\nfig\npear\n");
  });

  test("secret parameters are masked in the job, and reach the process", async () => {
    const job = await run({ process_definition: "secret", parameters: { password: "hunter2" } });
    expect(job.state).toBe("FINISHED");
    expect(job.parameters).toEqual({ password: "********", user: "me" });
    expect(JSON.stringify(job)).not.toContain("hunter2");
    const list = await f.json("GET", "/api/job/?process_definition=secret");
    expect(JSON.stringify(list.body)).not.toContain("hunter2");
    const events = await f.json("GET", `/api/job/${job.id}/events/`);
    expect(events.body.objects.find((e: any) => e.type === "created").parameters).toEqual({ password: "********", user: "me" });
    expect(JSON.stringify(events.body)).not.toContain("hunter2");
    expect(JSON.stringify((await f.json("GET", "/api/audit/")).body)).not.toContain("hunter2");
    expect(await text(`/api/job/${job.id}/outputs/output_file`)).toBe("hunter2");
  });
});

describe("why a job failed", () => {
  const cases: { name: string; definition: string; message: RegExp; attempts: number; exit: number | null }[] = [
    { name: "a non-zero exit", definition: "exit3", message: /exit status 3/, attempts: 1, exit: 3 },
    { name: "a timeout", definition: "timeout", message: /timed out/, attempts: 1, exit: null },
    { name: "an exec that does not exist", definition: "nosuch", message: /no such file/, attempts: 1, exit: null },
    { name: "retries used up", definition: "retried", message: /attempt 3 of 3 failed: exit status 1/, attempts: 3, exit: 1 },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const began = performance.now();
      const job = await run({ process_definition: c.definition });
      expect(job.state).toBe("FAILED");
      expect(job.attempts).toBe(c.attempts);
      expect(job.exit_status).toBe(c.exit);
      const errors = job.messages.filter((m: any) => m.level === "error");
      expect(errors).toHaveLength(1);
      expect(errors[0].text).toMatch(c.message);
      expect(performance.now() - began).toBeLessThan(5000);
    });
  }

  test("each failed attempt says so, and the last attempt's log is served", async () => {
    const job = await run({ process_definition: "retried" });
    expect(job.messages.map((m: any) => m.text)).toEqual([
      "attempt 1 of 3 failed: exit status 1; retrying",
      "attempt 2 of 3 failed: exit status 1; retrying",
      "attempt 3 of 3 failed: exit status 1",
    ]);
    expect(await text(`/api/job/${job.id}/stderr`)).toBe("attempt 3\n");
  });

  test("a job that fails once and then succeeds finishes on attempt 2", async () => {
    const job = await run({ process_definition: "flaky" });
    expect(job).toMatchObject({ state: "FINISHED", attempts: 2, exit_status: 0 });
    expect(job.messages.map((m: any) => m.text)).toEqual(["attempt 1 of 3 failed: exit status 1; retrying"]);
  });
});
