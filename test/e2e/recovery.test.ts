/**
 * Nothing lost: kill -9 flue while two jobs run and more wait. The running
 * jobs' processes outlive it (their own process groups); the next start on
 * the same data dir kills them, fails or re-runs each job by its retry
 * policy with a message saying why, runs every queued job, and loses no row.
 */
import { afterAll, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { eventually, startBinary, tempDir, type Binary } from "../helpers/index.ts";
import { defineOn, job, jobIn, jobWhere, killMarked, pidsWith, post, submit, texts, uniqueSeconds } from "./support.ts";

const data = tempDir("flue-e2e-recovery-");
const runs: Binary[] = [];
const markers: string[] = [];

afterAll(async () => {
  for (const b of runs) if (b.proc.exitCode === null && b.proc.signalCode === null) await b.stop();
  for (const m of markers) killMarked(m);
  data.remove();
});

async function start(): Promise<Binary> {
  const b = await startBinary({ dataDir: data.path, args: ["--slots", "2"] });
  runs.push(b);
  return b;
}

/** `sh -c 'sleep N; :' marker-…`: the shell stays (no exec of the last command), both carry the marker. */
function longDefinition(retries?: object) {
  const marker = uniqueSeconds();
  markers.push(marker);
  return { marker, definition: { exec: "/bin/sh", argv: ["-c", `sleep ${marker}; :`, `marker-${marker}`], ...(retries ? { retries } : {}) } };
}

const total = async (b: Binary) => ((await (await b.fetch("/api/job/?limit=0")).json()) as { meta: { total_count: number } }).meta.total_count;

test("kill -9 while jobs run and wait: orphans killed, running jobs failed or re-run, queued jobs run, no row lost", async () => {
  const first = await start();
  const once = longDefinition();
  const twice = longDefinition({ count: 1, backoff: 0 });
  const failing = await submit(first, await defineOn(first, once.definition));
  const rerun = await submit(first, await defineOn(first, twice.definition));
  const short = await defineOn(first, { exec: "/bin/echo", argv: ["short"] });
  const queued: string[] = [];
  for (let i = 0; i < 5; i++) queued.push(await submit(first, short));
  await jobIn(first, failing, "RUNNING");
  await jobIn(first, rerun, "RUNNING");
  for (const id of queued) expect((await job(first, id)).state).toBe("QUEUED");
  await eventually(() => pidsWith(once.marker).length === 2 && pidsWith(twice.marker).length === 2);
  const before = await total(first);
  expect(before).toBe(7);

  await first.kill9();
  // flue is gone; the jobs' process groups are not.
  expect(pidsWith(once.marker)).toHaveLength(2);
  expect(pidsWith(twice.marker)).toHaveLength(2);
  const orphans = pidsWith(once.marker);

  const second = await start();
  // The orphaned groups are killed before anything runs again.
  await eventually(() => orphans.every((pid) => !pidsWith(once.marker).includes(pid)), 3_000);
  expect(pidsWith(once.marker)).toHaveLength(0);

  // No retries left: FAILED, saying flue stopped while it ran.
  const failed = await jobIn(second, failing, "FAILED");
  expect(failed.attempts).toBe(1);
  expect(texts(failed)).toMatch(/flue stopped while attempt 1 was running; its (process was|\d+ processes were) stopped; no attempts left/);

  // One retry: runs again as attempt 2, with the same message and "retrying".
  const again = await jobWhere(second, rerun, (j) => j.state === "RUNNING" && j.attempts === 2);
  expect(texts(again)).toMatch(/flue stopped while attempt 1 was running; its (process was|\d+ processes were) stopped; retrying/);
  await eventually(() => pidsWith(twice.marker).length === 2);

  // Every queued job runs to the end, on the slot left free.
  for (const id of queued) {
    const done = await jobIn(second, id, "FINISHED");
    expect(await (await second.fetch(`/api/job/${id}/stdout`)).text()).toBe("short\n");
    expect(done.attempts).toBe(1);
  }
  expect(await total(second)).toBe(before);

  // Clean up the re-run through the API: cancel takes its tree down.
  expect((await post(second, `/api/job/${rerun}/cancel`)).status).toBe(200);
  await jobIn(second, rerun, "CANCELLED");
  await eventually(() => pidsWith(twice.marker).length === 0, 3_000);
  expect(await second.stop()).toBe(0);
});

test("kill -9 while a job's daemon runs outside its process group: the next start kills the daemon and leaves no cgroup behind", async () => {
  const dir = tempDir("flue-e2e-recovery-daemon-");
  const marker = uniqueSeconds();
  markers.push(marker);
  const first = await startBinary({ dataDir: dir.path });
  runs.push(first);
  // The daemon calls setsid: a process group no longer holds it; a cgroup, or the job's environment, still finds it.
  const def = await defineOn(first, { exec: "/bin/sh", argv: ["-c", `setsid sh -c 'sleep ${marker}' & sleep ${marker}; :`] });
  const id = await submit(first, def);
  await jobIn(first, id, "RUNNING");
  await eventually(() => pidsWith(marker).length >= 3);
  const instance = ((await (await first.fetch("/api/instance/")).json()) as { objects: { id: string; containment: string }[] }).objects[0];
  const home = readFileSync(`/proc/${first.proc.pid}/cgroup`, "utf8").match(/^0::(.*)$/m)?.[1] ?? "/";
  await first.kill9();
  expect(pidsWith(marker).length).toBeGreaterThanOrEqual(3);

  const second = await startBinary({ dataDir: dir.path });
  runs.push(second);
  await eventually(() => pidsWith(marker).length === 0, 3_000);
  expect(texts(await jobIn(second, id, "FAILED"))).toMatch(/flue stopped while attempt 1 was running/);
  if (instance.containment === "cgroup") {
    const mount = readFileSync("/proc/self/mountinfo", "utf8").split("\n").find((l) => l.includes(" - cgroup2 "))!.split(" ")[4];
    const cells = `${mount}${home === "/" ? "" : home}/flue-${instance.id}`;
    // The second flue has the same instance id and cgroup home; no cell of the dead one's job is left.
    expect(existsSync(cells) ? readdirSync(cells).filter((d) => d.startsWith(id)) : []).toEqual([]);
  }
  expect(await second.stop()).toBe(0);
  dir.remove();
});
