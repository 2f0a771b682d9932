/**
 * Graceful shutdown: on SIGTERM flue takes no new jobs and lets running ones
 * finish within --shutdown-grace; past it they are stopped and go back to
 * the queue, with a message, to run again on the next start.
 */
import { afterAll, expect, test } from "bun:test";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { basic, eventually, startBinary, tempDir, type Binary } from "../helpers/index.ts";
import { defineOn, job, jobIn, jobWhere, killMarked, pidsWith, post, rawGet, submit, texts, uniqueSeconds } from "./support.ts";

const dirs: { remove: () => void }[] = [];
const runs: Binary[] = [];
const markers: string[] = [];

afterAll(async () => {
  for (const b of runs) if (b.proc.exitCode === null && b.proc.signalCode === null) await b.stop();
  for (const m of markers) killMarked(m);
  for (const d of dirs) d.remove();
});

function dataDir(): string {
  const d = tempDir("flue-e2e-shutdown-");
  dirs.push(d);
  return d.path;
}

async function start(dir: string, args: string[] = []): Promise<Binary> {
  const b = await startBinary({ dataDir: dir, args });
  runs.push(b);
  return b;
}

test("SIGTERM with a job shorter than the grace: the job finishes, flue exits 0", async () => {
  const dir = dataDir();
  const marker = uniqueSeconds(1);
  markers.push(marker);
  const first = await start(dir, ["--shutdown-grace", "20s", "--slots", "1"]);
  const id = await submit(first, await defineOn(first, { exec: "/bin/sleep", argv: [marker] }));
  await jobIn(first, id, "RUNNING");
  await eventually(() => pidsWith(marker).length === 1);
  // One slot, taken: this one waits in the queue.
  const queued = await submit(first, await defineOn(first, { exec: "/bin/echo", argv: ["later"] }));

  // An open event stream and a long poll must not hold shutdown up; the poll gets its answer.
  const events = await first.fetch("/api/events?pattern=job.*.finished");
  let streamed = "";
  const reading = (async () => {
    try {
      for await (const chunk of events.body!) streamed += new TextDecoder().decode(chunk);
    } catch {} // closed by the server as it exits
  })();
  const poll = await rawGet(first.url, `/api/job/${id}/?wait=30`, basic());
  // This round trip, begun after the poll was written, proves the server has read the poll.
  expect((await first.fetch("/api/process_definition/")).status).toBe(200);

  const began = Date.now();
  expect(await first.stop()).toBe(0);
  const answer = await poll.answer;
  expect(answer).toStartWith("HTTP/1.1 200");
  expect(answer).toContain('"state":"FINISHED"');
  await reading;
  expect(streamed).toContain(`job.${id}.finished`);
  // It waited for the job (about a second), not for the whole grace.
  expect(Date.now() - began).toBeLessThan(10_000);
  expect(first.output()).toContain("SIGTERM");
  expect(first.output()).toContain("flue: stopped");

  const restarted = Date.now();
  const second = await start(dir, ["--slots", "1"]);
  const done = await job(second, id);
  expect(done.state).toBe("FINISHED");
  expect(done.attempts).toBe(1);
  expect(done.exit_status).toBe(0);
  // The queued job did not start during shutdown; it runs now, as its first attempt.
  const later = await job(second, queued, 10);
  expect(later.state).toBe("FINISHED");
  expect(later.attempts).toBe(1);
  expect(Date.parse(later.started_at!)).toBeGreaterThanOrEqual(restarted);
  expect(await second.stop()).toBe(0);
});

test("SIGTERM with a job longer than --shutdown-grace 1s: stopped, recorded, run again after restart", async () => {
  const dir = dataDir();
  const marker = uniqueSeconds();
  markers.push(marker);
  const first = await start(dir, ["--shutdown-grace", "1s"]);
  const def = await defineOn(first, { exec: "/bin/sh", argv: ["-c", `trap '' TERM; sleep ${marker} & sleep ${marker}`] });
  const id = await submit(first, def);
  await jobIn(first, id, "RUNNING");
  await eventually(() => pidsWith(marker).length === 3);

  expect(await first.stop()).toBe(0);
  // Grace, then SIGTERM and SIGKILL to the group: nothing of the job is left.
  expect(pidsWith(marker)).toHaveLength(0);

  const second = await start(dir, ["--shutdown-grace", "1s"]);
  const again = await jobWhere(second, id, (j) => j.state === "RUNNING" && j.attempts === 2);
  expect(texts(again)).toContain("attempt 1 was stopped because flue shut down; the job will run again");
  await eventually(() => pidsWith(marker).length === 3);

  expect((await post(second, `/api/job/${id}/cancel`)).status).toBe(200);
  await jobIn(second, id, "CANCELLED");
  await eventually(() => pidsWith(marker).length === 0, 3_000);
  expect(await second.stop()).toBe(0);
});

test("a second SIGTERM stops running jobs at once: exit 130, the job queued again", async () => {
  const dir = dataDir();
  const marker = uniqueSeconds();
  markers.push(marker);
  const first = await start(dir, ["--shutdown-grace", "60s"]);
  const id = await submit(first, await defineOn(first, { exec: "/bin/sleep", argv: [marker] }));
  await jobIn(first, id, "RUNNING");
  await eventually(() => pidsWith(marker).length === 1);
  first.proc.kill("SIGTERM");
  await eventually(() => first.output().includes("waiting up to 60 s for 1 running"));
  first.proc.kill("SIGTERM");
  expect(await first.proc.exited).toBe(130);
  expect(first.output()).toContain("SIGTERM again");
  expect(pidsWith(marker)).toHaveLength(0);

  const second = await start(dir);
  const again = await jobWhere(second, id, (j) => j.state === "RUNNING" && j.attempts === 2);
  expect(texts(again)).toContain("stopped because flue shut down");
  expect((await post(second, `/api/job/${id}/cancel`)).status).toBe(200);
  await eventually(() => pidsWith(marker).length === 0, 3_000);
  expect(await second.stop()).toBe(0);
});

test("the WAL is copied back into the database while flue runs, off the main thread, and is gone after SIGTERM", async () => {
  const dir = dataDir();
  const b = await start(dir);
  const dbSize = () => statSync(join(dir, "flue.db")).size;
  const before = dbSize();
  const def = await defineOn(b, { exec: "/bin/true" });
  // Far fewer pages than SQLite's own threshold (1000): without the checkpointer, flue.db would not grow yet.
  const batch = Array.from({ length: 50 }, () => ({ process_definition: def }));
  const sent = await b.fetch("/api/job/", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(batch) });
  expect(sent.status).toBe(201);
  // The main connection never checkpoints (wal_autocheckpoint = 0): only the checkpointer grows flue.db.
  await eventually(() => dbSize() > before, 10_000);
  expect(await b.stop()).toBe(0);
  expect(existsSync(join(dir, "flue.db-wal"))).toBe(false);
});
