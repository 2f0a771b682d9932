/**
 * How a job ends when its process misbehaves: a timeout, a process tree that
 * ignores SIGTERM (stopped by timeout and by cancel, every process gone), a
 * non-zero exit, retries with backoff. Against the compiled binary, with
 * real processes found again through /proc by a marker in their argv.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { eventually, startBinary, tempDir, type Binary } from "../helpers/index.ts";
import { defineOn, job, jobIn, killMarked, pidsWith, post, submit, texts, uniqueSeconds } from "./support.ts";

let b: Binary;
const data = tempDir("flue-e2e-lifecycle-");
const markers: string[] = [];

beforeAll(async () => {
  b = await startBinary({ dataDir: data.path, args: ["--slots", "4", "--max-output", "64KiB"] });
});
afterAll(async () => {
  await b?.stop();
  data.remove();
  for (const m of markers) killMarked(m);
});

/** `sh -c` that ignores SIGTERM and forks a child that does too; every process carries the marker. */
function stubbornTree(): { marker: string; argv: string[] } {
  const marker = uniqueSeconds();
  markers.push(marker);
  return { marker, argv: ["-c", `trap '' TERM; sleep ${marker} & sleep ${marker}`] };
}

test("timeout: sleep 30 with timeout 1 fails, and the message says it timed out", async () => {
  const def = await defineOn(b, { exec: "/bin/sleep", argv: ["30"], timeout: 1 });
  const began = Date.now();
  const id = await submit(b, def);
  const done = await job(b, id, 10);
  expect(done.state).toBe("FAILED");
  expect(texts(done)).toMatch(/timed out after 1 s/);
  expect(done.exit_status).toBeNull();
  expect(Date.now() - began).toBeLessThan(5_000);
});

test("timeout: a tree that ignores SIGTERM is killed to the last process", async () => {
  const { marker, argv } = stubbornTree();
  const def = await defineOn(b, { exec: "/bin/sh", argv, timeout: 1 });
  const id = await submit(b, def);
  // The shell and both sleeps exist, then time runs out.
  await eventually(() => pidsWith(marker).length >= 3);
  const done = await job(b, id, 10);
  expect(done.state).toBe("FAILED");
  expect(texts(done)).toContain("timed out");
  // The process group got SIGKILL after the grace; the backgrounded child went with it.
  await eventually(() => pidsWith(marker).length === 0, 3_000);
});

test("cancel of a RUNNING job stops the whole tree, even one that ignores SIGTERM", async () => {
  const { marker, argv } = stubbornTree();
  const def = await defineOn(b, { exec: "/bin/sh", argv });
  const id = await submit(b, def);
  await jobIn(b, id, "RUNNING");
  await eventually(() => pidsWith(marker).length >= 3);
  const res = await post(b, `/api/job/${id}/cancel`);
  expect(res.status).toBe(200);
  const cancelled = await jobIn(b, id, "CANCELLED");
  expect(texts(cancelled)).toContain("cancelled by admin");
  await eventually(() => pidsWith(marker).length === 0, 3_000);
  // A second cancel is an action in the wrong state.
  expect((await post(b, `/api/job/${id}/cancel`)).status).toBe(409);
});

test("non-zero exit: FAILED with the exit status in the job and its messages", async () => {
  const def = await defineOn(b, { exec: "/bin/sh", argv: ["-c", "echo oops >&2; exit 3"] });
  const id = await submit(b, def);
  const done = await job(b, id, 10);
  expect(done.state).toBe("FAILED");
  expect(done.exit_status).toBe(3);
  expect(done.attempts).toBe(1);
  expect(texts(done)).toContain("exit status 3");
  expect(await (await b.fetch(`/api/job/${id}/stderr`)).text()).toBe("oops\n");
  expect(done.metrics!.wall).toBeGreaterThan(0);
  expect(done.metrics!.user).toBeGreaterThanOrEqual(0);
});

test("a process that floods stdout is stopped at --max-output, and the message says so", async () => {
  const def = await defineOn(b, { exec: "/usr/bin/yes", argv: ["flood"] });
  const done = await job(b, await submit(b, def), 10);
  expect(done.state).toBe("FAILED");
  expect(texts(done)).toContain("stdout exceeded the limit of 65536 bytes");
});

test("a missing executable fails at once without retrying, and says so", async () => {
  const def = await defineOn(b, { exec: "/no/such/program", retries: { count: 3, backoff: 0 } });
  const done = await job(b, await submit(b, def), 10);
  expect(done.state).toBe("FAILED");
  expect(done.attempts).toBe(1);
  expect(texts(done)).toContain("/no/such/program");
});

test("retries with backoff: every attempt counted, each failure said, WAITING in between", async () => {
  const def = await defineOn(b, { exec: "/bin/sh", argv: ["-c", "exit 4"], retries: { count: 2, backoff: 0.3 } });
  const began = Date.now();
  const id = await submit(b, def);
  const done = await job(b, id, 10);
  expect(done.state).toBe("FAILED");
  expect(done.attempts).toBe(3);
  expect(done.exit_status).toBe(4);
  const said = texts(done);
  expect(said).toContain("attempt 1 of 3 failed: exit status 4; retrying in 0.3 s");
  expect(said).toContain("attempt 2 of 3 failed: exit status 4; retrying in 0.6 s");
  expect(said).toContain("attempt 3 of 3 failed: exit status 4");
  // Backoff 0.3 s then 0.6 s (factor 2) really passed.
  expect(Date.now() - began).toBeGreaterThanOrEqual(900);
  const events = (await (await b.fetch(`/api/job/${id}/events/`)).json()) as { objects: { type: string }[] };
  const types = events.objects.map((e) => e.type);
  expect(types.filter((t) => t === "started")).toHaveLength(3);
  expect(types.filter((t) => t === "waiting")).toHaveLength(2);
  expect(types.at(-1)).toBe("failed");
});

test("a retry that succeeds: the second attempt finishes the job", async () => {
  // Fails on the first attempt only; flue tells the process which attempt it is.
  const def = await defineOn(b, {
    exec: "/bin/sh",
    argv: ["-c", 'test "$FLUE_JOB_ATTEMPT" -ge 2 && echo ok'],
    retries: { count: 1, backoff: 0 },
    output_adapter: { output_type: "file", output_parameters: { file_type: "stream", stream_name: "STDOUT" } },
  });
  const id = await submit(b, def);
  const done = await job(b, id, 10);
  expect(done.state).toBe("FINISHED");
  expect(done.attempts).toBe(2);
  expect(texts(done)).toContain("attempt 1 of 2 failed: exit status 1; retrying");
  expect(await (await b.fetch(`/api/job/${id}/outputs/output_file`)).text()).toBe("ok\n");
});
