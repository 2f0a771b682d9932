/**
 * One queue and fail-over, against a real nats-server and three instances
 * of the compiled binary (2 slots each, heartbeat 0.5 s, --failover-after
 * 3s): labels route jobs; a batch of 300 spreads and runs each job once; an
 * instance killed mid-job has the job run again elsewhere, and once back
 * stops its orphaned process without failing the job; a job no instance
 * can run says so.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { eventually, startBinary, tempDir, TR_DEFINITION, type Binary } from "../helpers/index.ts";
import { startNatsServer, type NatsServer } from "./nats-server.ts";
import { type Job, events, getJob, post, withId } from "./fleet.ts";

type Member = Binary & { id: string; dir: string; labels: string[] };

let nats: NatsServer;
const binaries: Binary[] = [];
const dirs: { path: string; remove: () => void }[] = [];
let a: Member, b: Member, c: Member;

async function member(dir: string, labels: string[] = []): Promise<Member> {
  const args = ["--nats", nats.url, "--heartbeat", "0.5s", "--failover-after", "3s", "--slots", "2"];
  if (labels.length) args.push("--labels", labels.join(","));
  const bin = await startBinary({ dataDir: dir, args });
  binaries.push(bin);
  return Object.assign(withId(bin), { dir, labels });
}

/** The pid of the first attempt's `sleep 31.7`, if it lives. */
function sleeper(): number | undefined {
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, "utf8") === "/bin/sleep\u000031.7\u0000") return Number(pid);
    } catch {}
  }
  return undefined;
}

async function define(x: Binary, definition: object): Promise<number> {
  const made = await post(x, "/api/process_definition/", { definition });
  expect(made.status).toBe(201);
  const id = made.body.id as number;
  for (const y of [a, b, c]) await eventually(async () => (await y.fetch(`/api/process_definition/${id}/`)).status === 200, 3000);
  return id;
}

beforeAll(async () => {
  nats = await startNatsServer();
  for (let i = 0; i < 3; i++) dirs.push(tempDir());
  [a, b, c] = await Promise.all([member(dirs[0].path), member(dirs[1].path, ["gpu"]), member(dirs[2].path)]);
  // Everyone sees everyone ACTIVE before jobs are routed by labels.
  await eventually(async () => ((await (await a.fetch("/api/instance/")).json()) as any).objects?.filter((m: any) => m.state === "ACTIVE").length === 3, 5000).catch(() => {});
});
afterAll(async () => {
  for (const x of binaries) if (x.proc.exitCode === null) await x.kill9();
  await nats.remove();
  for (const d of dirs) d.remove();
});

test("a job submitted on A runs on B when only B has its label", async () => {
  const def = await define(a, { name: "on-gpu", exec: "/bin/echo", argv: ["gpu"], application: "gpu" });
  const job = (await post(a, "/api/job/", { process_definition: def })).body as Job;
  await eventually(async () => (await getJob(a, job.id))?.state === "FINISHED", 10_000);
  expect((await getJob(a, job.id))!.instance).toBe(b.id);
  expect((await getJob(a, job.id))!.messages.some((m) => m.text.includes("no instance offers"))).toBe(false);
});

test("300 short jobs submitted on A spread over the fleet, each run exactly once", async () => {
  const def = await define(a, { name: "short", exec: "/bin/true" });
  const made = await post(a, "/api/job/", Array.from({ length: 300 }, () => ({ process_definition: def })));
  expect(made.status).toBe(201);
  const ids = (made.body.objects ?? made.body).map((j: Job) => j.id) as string[];
  expect(ids.length).toBe(300);
  const finished = async () => ((await (await a.fetch(`/api/job/?state=FINISHED&process_definition=${def}&limit=0`)).json()) as any).meta.total_count as number;
  await eventually(async () => (await finished()) === 300, 45_000, 250).catch(async (e) => {
    const jobs = await Promise.all(ids.map((id) => getJob(a, id)));
    console.log(JSON.stringify(jobs.filter((j) => j?.state !== "FINISHED").map((j) => [j?.id, j?.state, j?.attempts, j?.instance, j?.messages])));
    throw e;
  });
  const ran = new Map<string, number>();
  for (const id of ids) {
    const evs = await events(a, id);
    expect([id, evs.filter((e) => e.type === "execution.started").length]).toEqual([id, 1]);
    expect([id, evs.filter((e) => e.type === "started").length]).toEqual([id, 1]);
    const on = evs.find((e) => e.type === "started")!.executor;
    ran.set(on, (ran.get(on) ?? 0) + 1);
  }
  expect(ran.size).toBeGreaterThanOrEqual(2);
}, 90_000);

test("NEW jobs queued later all run: their work message reaches the fleet before their `queued` event does", async () => {
  const def = await define(a, { name: "later", exec: "/bin/true" });
  const made = await post(a, "/api/job/", Array.from({ length: 10 }, () => ({ process_definition: def, state: "NEW" })));
  const ids = (made.body.objects ?? made.body).map((j: Job) => j.id) as string[];
  for (const y of [a, b, c]) await eventually(async () => (await getJob(y, ids.at(-1)!))?.state === "NEW", 5000);
  for (const id of ids) expect((await a.fetch(`/api/job/${id}/queue`, { method: "POST" })).status).toBe(200);
  for (const id of ids) await eventually(async () => (await getJob(a, id))?.state === "FINISHED", 15_000);
}, 60_000);

test("jobs with inputs stored at submission run anywhere in the fleet, and finish with the right output", async () => {
  // No labels: any instance takes these; their inline inputs come from the object store where they do not run where submitted.
  const def = await define(a, { name: "tr-inline", ...TR_DEFINITION });
  const onA = await Promise.all(
    Array.from({ length: 6 }, async (_, i) => {
      const made = await post(a, "/api/job/", { process_definition: def, inputs: { input_file: { content: `a${i}xbx` } } });
      expect(made.status).toBe(201);
      return made.body as Job;
    }),
  );
  const made = await post(b, "/api/job/", { process_definition: def, inputs: { input_file: { content_base64: Buffer.from("bxbx").toString("base64") } } });
  expect(made.status).toBe(201);
  const onB = made.body as Job;
  for (const [x, j] of [...onA.map((j) => [a, j] as const), [b, onB] as const]) {
    await eventually(async () => (await getJob(x, j.id))?.state === "FINISHED", 15_000).catch(async (e) => {
      console.log(JSON.stringify(await getJob(x, j.id)), JSON.stringify(await events(x, j.id)));
      throw e;
    });
  }
  for (const [i, j] of onA.entries()) expect(await (await a.fetch(`/api/job/${j.id}/stdout`)).text()).toBe(`a${i}b`);
  expect(await (await b.fetch(`/api/job/${onB.id}/stdout`)).text()).toBe("bb");
  // Every instance sees them finished.
  for (const j of onA) await eventually(async () => (await getJob(c, j.id))?.state === "FINISHED", 3000);
}, 60_000);

test("kill -9 the instance running a job: it runs again elsewhere as attempt 2 and finishes; back, the killed one stops its orphan without failing the job", async () => {
  // The first attempt stays (and is left behind as an orphan); the second ends fast.
  const script = 'if [ "$FLUE_JOB_ATTEMPT" = 1 ]; then exec /bin/sleep 31.7; else /bin/sleep 2; fi';
  const def = await define(a, { name: "long", exec: "/bin/sh", argv: ["-c", script] });
  const job = (await post(a, "/api/job/", { process_definition: def })).body as Job;
  const running = (await eventually(async () => {
    const j = await getJob(a, job.id);
    return j?.state === "RUNNING" && sleeper() ? j : undefined;
  }, 10_000))!;
  const x = [a, b, c].find((m) => m.id === running.instance)!;
  const watcher = [a, b, c].find((m) => m !== x)!;
  const orphan = sleeper()!;
  const killedAt = Date.now();
  await x.kill9();
  const again = (await eventually(async () => {
    const j = await getJob(watcher, job.id);
    return j?.state === "RUNNING" && j.attempts === 2 ? j : undefined;
  }, 15_000, 50))!;
  const failover = (Date.now() - killedAt) / 1000;
  console.log(`fail-over: kill -9 → attempt 2 running on another instance in ${failover.toFixed(1)} s`);
  expect(failover).toBeLessThan(3 + 6);
  expect(again.instance).not.toBe(x.id);
  expect(again.messages.some((m) => m.text === `instance ${x.id} was lost while attempt 1 ran; running again on ${again.instance}`)).toBe(true);
  await eventually(async () => (await getJob(watcher, job.id))?.state === "FINISHED", 10_000);

  // The orphan of attempt 1 lives on until its instance comes back.
  expect(() => process.kill(orphan, 0)).not.toThrow();
  const back = await member(x.dir, x.labels);
  expect(back.id).toBe(x.id);
  await eventually(() => {
    try {
      process.kill(orphan, 0);
      return false;
    } catch {
      return true;
    }
  }, 5000);
  await eventually(async () => (await getJob(back, job.id))?.state === "FINISHED", 5000);
  const evs = await events(watcher, job.id);
  expect(evs.filter((e) => e.type === "failed").length).toBe(0);
  expect(evs.filter((e) => e.type === "started").map((e) => e.attempt)).toEqual([1, 2]);

  // Deleted on the instance that ran attempt 2: the one that ran attempt 1 removes its log of it too.
  const log1 = join(x.dir, "logs", `${job.id}-1.stdout`);
  expect(existsSync(log1)).toBe(true);
  expect((await watcher.fetch(`/api/job/${job.id}/`, { method: "DELETE" })).status).toBe(204);
  await eventually(() => !existsSync(log1), 5000);
  if (x === a) a = back;
  else if (x === b) b = back;
  else c = back;
}, 60_000);

test("a job whose application no instance offers says so, and waits", async () => {
  const def = await define(a, { name: "nowhere", exec: "/bin/true", application: "cuda" });
  const job = (await post(a, "/api/job/", { process_definition: def })).body as Job;
  const got = (await getJob(a, job.id))!;
  expect(got.messages.some((m) => m.level === "warning" && m.text === "no instance offers application cuda yet; it waits until one joins")).toBe(true);
  await Bun.sleep(500);
  expect((await getJob(a, job.id))!.state).toBe("QUEUED");
});

test("submitting while NATS is unreachable is a clear 503 and makes no job; once NATS is back, submitting works", async () => {
  const def = await define(a, { name: "while-down", exec: "/bin/echo", argv: ["up"] });
  const list = async () => ((await (await a.fetch("/api/job/?limit=1000")).json()) as { objects: Job[] }).objects.map((j) => j.id).sort();
  const before = await list();
  await nats.stop();
  try {
    await eventually(async () => a.output().includes("lost NATS"), 5000);
    for (const body of [{ process_definition: def }, [{ process_definition: def }, { process_definition: def }]]) {
      const res = await post(a, "/api/job/", body);
      expect(res.status).toBe(503);
      expect(res.body.error.message).toBe("the fleet's NATS is unreachable; nothing was queued, try again");
    }
    // A NEW job can be made, but not queued.
    const draft = await post(a, "/api/job/", { process_definition: def, state: "NEW" });
    expect(draft.status).toBe(201);
    const queued = await a.fetch(`/api/job/${draft.body.id}/queue`, { method: "POST" });
    expect(queued.status).toBe(503);
    expect((await getJob(a, draft.body.id))!.state).toBe("NEW");
    expect(await list()).toEqual([...before, draft.body.id].sort());
  } finally {
    await nats.start();
  }
  const job = (await eventually(async () => {
    const res = await post(a, "/api/job/", { process_definition: def });
    return res.status === 201 ? (res.body as Job) : undefined;
  }, 15_000, 250))!;
  await eventually(async () => (await getJob(a, job.id))?.state === "FINISHED", 15_000);
  expect(await list()).toContain(job.id);
}, 60_000);
