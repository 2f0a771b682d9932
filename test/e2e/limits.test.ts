/**
 * A definition's `limits` with real processes: each limit stops a process
 * that goes past it, and the job fails with a message naming the limit.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { inProcess, type InProcess } from "../helpers/index.ts";
import { pidsWith, uniqueSeconds } from "./support.ts";

let f: InProcess;
beforeAll(async () => {
  f = await inProcess({ slots: 4 });
});
afterAll(() => f.close());

const STDOUT = { output_type: "file", output_parameters: { file_type: "stream", stream_name: "STDOUT" } };
const PYTHON = "/usr/bin/python3";

/** Runs one job of `definition` to its end; returns it with its stderr. */
async function run(definition: object) {
  const def = await f.json("POST", "/api/process_definition/", { definition: { output_adapter: STDOUT, ...definition } });
  expect(def.status).toBe(201);
  const res = await f.json("POST", "/api/job/", { process_definition: def.body.id });
  expect(res.status).toBe(201);
  const job = (await f.json("GET", `/api/job/${res.body.id}/?wait=15`)).body;
  const stderr = await (await f.call("GET", `/api/job/${job.id}/stderr`)).text();
  return { job, stderr, text: job.messages.map((m: { text: string }) => m.text).join("\n") as string };
}

describe("each limit stops a process that goes past it", () => {
  test("cpu_time: a busy loop is stopped by SIGXCPU", async () => {
    const { job, text } = await run({ exec: "/bin/sh", argv: ["-c", "while :; do :; done"], limits: { cpu_time: 1 }, timeout: 10 });
    expect(job.state).toBe("FAILED");
    expect(text).toContain("the process exceeded its CPU time limit of 1 s (killed by SIGXCPU)");
  });

  test("memory: an allocation past it fails, as a string size", async () => {
    const { job, text, stderr } = await run({ exec: PYTHON, argv: ["-c", "b = bytearray(300 * 1024 * 1024)"], limits: { memory: "64MiB" } });
    expect(job.state).toBe("FAILED");
    expect(stderr).toContain("MemoryError");
    expect(text).toContain("the process exceeded its memory limit of 64 MiB (exit status 1)");
  });

  test("memory: within it, as a number of bytes, the process runs", async () => {
    const { job } = await run({ exec: PYTHON, argv: ["-c", "b = bytearray(10 * 1024 * 1024)"], limits: { memory: 256 * 1024 * 1024 } });
    expect(job.state).toBe("FINISHED");
  });

  test("open_files: the 11th file is refused", async () => {
    const { job, text } = await run({ exec: PYTHON, argv: ["-c", "fs = [open('/dev/null') for _ in range(50)]"], limits: { open_files: 10 } });
    expect(job.state).toBe("FAILED");
    expect(text).toContain("the process reached its limit of 10 open files (exit status 1)");
  });

  test("processes: a fork bomb is stopped, and nothing of it is left", async () => {
    const marker = uniqueSeconds(5);
    const { job, text, stderr } = await run({
      exec: "/bin/sh",
      argv: ["-c", `for i in $(seq 50); do sleep ${marker} & done; wait`],
      limits: { processes: 5 },
    });
    expect(job.state).toBe("FAILED");
    expect(stderr).toContain("Cannot fork");
    expect(text).toContain("could not start a process: limit of 5 processes reached");
    expect(pidsWith(marker)).toEqual([]);
  });

  test("output_bytes: stdout past it stops the process", async () => {
    const { job, text } = await run({ exec: "/usr/bin/yes", limits: { output_bytes: 1000 } });
    expect(job.state).toBe("FAILED");
    expect(text).toContain("stdout exceeded the limit of 1000 bytes");
    expect((await (await f.call("GET", `/api/job/${job.id}/stdout`)).text()).length).toBe(1000);
  });

  test("a process within all of them runs as before", async () => {
    const limits = { memory: "512MiB", cpu_time: 5, open_files: 64, processes: 50, output_bytes: "1KiB" };
    const { job } = await run({ exec: "/bin/sh", argv: ["-c", "echo hi | cat"], limits });
    expect(job.state).toBe("FINISHED");
    expect(await (await f.call("GET", `/api/job/${job.id}/stdout`)).text()).toBe("hi\n");
  });

  test("a failure that is not a limit is not blamed on one", async () => {
    const { job, text } = await run({ exec: "/bin/sh", argv: ["-c", "echo no >&2; exit 3"], limits: { memory: "64MiB", processes: 5 } });
    expect(job.state).toBe("FAILED");
    expect(text).toBe("exit status 3");
  });
});

describe("the registry", () => {
  test("limits are stored as written and read back", async () => {
    const limits = { memory: "512MiB", cpu_time: 60, open_files: 256, processes: 32, output_bytes: 1048576 };
    const created = await f.json("POST", "/api/process_definition/", { definition: { exec: "/bin/true", limits } });
    expect(created.status).toBe(201);
    expect((await f.json("GET", `/api/process_definition/${created.body.id}/`)).body.definition.limits).toEqual(limits);
  });

  test.each([
    [{ memory: "lots" }, "definition.limits.memory", "memory must be a whole number of bytes or a size such as 512MiB"],
    [{ memory: 1000 }, "definition.limits.memory", "memory must be at least 1MiB"],
    [{ memory: true }, "definition.limits.memory", "memory must be a number of bytes or a size such as 512MiB"],
    [{ cpu_time: 0 }, "definition.limits.cpu_time", "cpu_time must be at least 1"],
    [{ cpu_time: 1.5 }, "definition.limits.cpu_time", "cpu_time must be a whole number of seconds"],
    [{ open_files: "10" }, "definition.limits.open_files", "open_files must be a number"],
    [{ processes: -1 }, "definition.limits.processes", "processes must be at least 1"],
    [{ output_bytes: "1TB" }, "definition.limits.output_bytes", "output_bytes must be a whole number of bytes or a size such as 512MiB"],
    [{ threads: 4 }, "definition.limits.threads", 'unknown field "threads"'],
  ])("%j is a 400 naming the field", async (limits, path, message) => {
    const res = await f.json("POST", "/api/process_definition/", { definition: { exec: "/bin/true", limits } });
    expect(res.status).toBe(400);
    expect(res.body.error.fields).toEqual([{ path, message }]);
  });

  test("limits that are not an object", async () => {
    const res = await f.json("POST", "/api/process_definition/", { definition: { exec: "/bin/true", limits: 5 } });
    expect(res.status).toBe(400);
    expect(res.body.error.fields.map((x: { path: string }) => x.path)).toEqual(["definition.limits"]);
  });
});
