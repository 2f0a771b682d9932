/**
 * One state across the fleet, against a real nats-server and three
 * instances of the compiled binary: definitions, users and tokens made on
 * one are usable on all; every job and event shows everywhere; cancel
 * reaches the instance that runs the job; a NATS restart and an instance
 * restart lose nothing and apply nothing twice. Jobs go to the fleet's one
 * queue, so a test that needs a job to run on a given instance pins it by
 * label: A, B and C offer `a`, `b` and `c`, and definitions name one as
 * their `application`.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { basic, eventually, startBinary, tempDir, type Binary } from "../helpers/index.ts";
import { startNatsServer, type NatsServer } from "./nats-server.ts";
import { type Job, type Member, getJob, post, withId } from "./fleet.ts";


let nats: NatsServer;
const binaries: Binary[] = [];
const dirs: { remove: () => void }[] = [];
let a: Member, b: Member, c: Member;

async function member(dataDir: string, label: string): Promise<Member> {
  const bin = await startBinary({ dataDir, args: ["--nats", nats.url, "--heartbeat", "0.5s", "--slots", "2", "--labels", label] });
  binaries.push(bin);
  return withId(bin);
}

const eventTypes = async (x: Binary, id: string): Promise<string[]> =>
  ((await (await x.fetch(`/api/job/${id}/events/?limit=1000`)).json()) as { objects: { type: string }[] }).objects.map((e) => e.type);
/** Processes whose environment says they belong to the job. */
function pidsOfJob(id: string): number[] {
  return readdirSync("/proc").filter((p) => {
    try {
      return /^\d+$/.test(p) && readFileSync(`/proc/${p}/environ`, "latin1").includes(`FLUE_JOB_ID=${id}\0`);
    } catch {
      return false;
    }
  }).map(Number);
}

const stateOn = async (x: Binary, id: string) => (await getJob(x, id))?.state;
const submit = async (x: Binary, definition: number, extra: object = {}) => (await post(x, "/api/job/", { process_definition: definition, ...extra })).body as Job;

beforeAll(async () => {
  nats = await startNatsServer();
  const dirA = tempDir(), dirB = tempDir(), dirC = tempDir();
  dirs.push(dirA, dirB, dirC);
  [a, b, c] = await Promise.all([member(dirA.path, "a"), member(dirB.path, "b"), member(dirC.path, "c")]);
});
afterAll(async () => {
  for (const x of binaries) if (x.proc.exitCode === null) await x.kill9();
  await nats.remove();
  for (const d of dirs) d.remove();
});

/** `echo hello` on C, the same on A, `sleep 30` on C, and on A a short nap that then says hello. */
let echo: number;
let echoA: number;
let sleeper: number;
let napA: number;

test("a definition made on A is listed on B and C; a job of it submitted on C runs there, and A and B show it FINISHED with all its events", async () => {
  const made = await post(a, "/api/process_definition/", { definition: { name: "hello", exec: "/bin/echo", argv: ["hello"], application: "c" } });
  expect(made.status).toBe(201);
  echo = made.body.id;
  const slept = await post(b, "/api/process_definition/", { definition: { name: "nap", exec: "/bin/sleep", argv: ["30"], application: "c" } });
  expect(slept.status).toBe(201);
  sleeper = slept.body.id;
  expect(sleeper).not.toBe(echo); // ids are fleet-wide
  const onA = await post(c, "/api/process_definition/", { definition: { name: "hello-a", exec: "/bin/echo", argv: ["hello"], application: "a" } });
  expect(onA.status).toBe(201);
  echoA = onA.body.id;
  const napped = await post(c, "/api/process_definition/", { definition: { name: "nap-a", exec: "/bin/sh", argv: ["-c", "sleep 1; echo hello"], application: "a" } });
  expect(napped.status).toBe(201);
  napA = napped.body.id;
  expect(new Set([echo, sleeper, echoA, napA]).size).toBe(4);
  for (const x of [a, b, c]) {
    await eventually(async () => {
      const names = ((await (await x.fetch("/api/process_definition/")).json()) as { objects: { id: number; name: string }[] }).objects.map((d) => `${d.id}:${d.name}`);
      return [`${echo}:hello`, `${sleeper}:nap`, `${echoA}:hello-a`, `${napA}:nap-a`].every((n) => names.includes(n));
    }, 2000);
  }
  const job = await submit(c, echo);
  await eventually(async () => (await stateOn(c, job.id)) === "FINISHED", 10_000);
  expect((await getJob(c, job.id))!.instance).toBe(c.id);
  const onC = await eventTypes(c, job.id);
  for (const x of [a, b]) {
    await eventually(async () => (await stateOn(x, job.id)) === "FINISHED", 2000);
    await eventually(async () => (await eventTypes(x, job.id)).join() === onC.join(), 2000);
  }
  // Its files are on C, and shared: A serves them too (results.test.ts has the rest).
  expect(await (await a.fetch(`/api/job/${job.id}/stdout`)).text()).toBe("hello\n");
  expect(await (await c.fetch(`/api/job/${job.id}/stdout`)).text()).toBe("hello\n");
});

test("a user made on A signs in on B; a token made on B works on C; a revoked one stops working", async () => {
  const made = await post(a, "/api/user/", { username: "carol", password: "carol-password", role: "submitter" });
  expect(made.status).toBe(201);
  const carol = basic("carol", "carol-password");
  await eventually(async () => (await b.fetch("/api/job/", { headers: { authorization: carol } })).status === 200, 2000);
  const token = await post(b, "/api/token/", { name: "ci" }, carol);
  expect(token.status).toBe(201);
  const bearer = `Bearer ${token.body.token}`;
  await eventually(async () => (await c.fetch("/api/job/", { headers: { authorization: bearer } })).status === 200, 2000);
  const revoked = await b.fetch(`/api/token/${token.body.id}/`, { method: "DELETE", headers: { authorization: carol } });
  expect(revoked.status).toBe(204);
  await eventually(async () => (await c.fetch("/api/job/", { headers: { authorization: bearer } })).status === 401, 2000);

  // B has verified carol's password, and keeps it: a change made on A still applies there on the next request once it arrives.
  const submitOnB = async () => (await b.fetch("/api/job/", { method: "POST", headers: { authorization: carol, "content-type": "application/json" }, body: "{}" })).status;
  expect(await submitOnB()).toBe(400); // a submitter's empty job: invalid, not forbidden
  const id = (made.body as { id: number }).id;
  expect((await a.fetch(`/api/user/${id}/`, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify({ role: "viewer" }) })).status).toBe(200);
  await eventually(async () => (await submitOnB()) === 403, 2000);
  expect((await a.fetch(`/api/user/${id}/`, { method: "DELETE" })).status).toBe(204);
  await eventually(async () => (await submitOnB()) === 401, 2000);
});

test("B lists jobs submitted on A and C; SSE on B sees a job finishing on A", async () => {
  const res = await b.fetch("/api/events?pattern=job.*.finished");
  const reader = res.body!.getReader();
  // The job on C may finish first: read until A's job's `finished` arrives.
  let wanted = "";
  const seen = (async () => {
    let text = "";
    const decoder = new TextDecoder();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return text;
      text += decoder.decode(value);
      if (wanted && text.includes(`"routing_key":"job.${wanted}.finished"`)) return text;
    }
  })();
  const onA = await submit(a, echoA);
  wanted = onA.id;
  const onC = await submit(c, echo);
  const sse = await Promise.race([seen, Bun.sleep(5000).then(() => "")]);
  expect(sse).toContain(onA.id);
  await reader.cancel();
  await eventually(async () => {
    const ids = ((await (await b.fetch("/api/job/?limit=100")).json()) as { objects: Job[] }).objects.map((j) => j.id);
    return ids.includes(onA.id) && ids.includes(onC.id);
  }, 2000);
});

test("cancel on A of a long job running on C stops its process, and every instance shows it CANCELLED", async () => {
  const job = await submit(c, sleeper);
  await eventually(async () => (await eventTypes(a, job.id)).includes("execution.started"), 5000);
  const events = ((await (await c.fetch(`/api/job/${job.id}/events/`)).json()) as { objects: { type: string; pid?: number }[] }).objects;
  const pid = events.find((e) => e.type === "execution.started")!.pid!;
  expect(() => process.kill(pid, 0)).not.toThrow();
  const res = await a.fetch(`/api/job/${job.id}/cancel`, { method: "POST" });
  expect(res.status).toBe(200);
  expect(((await res.json()) as Job).state).toBe("CANCELLED");
  await eventually(() => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  }, 3000);
  for (const x of [a, b, c]) await eventually(async () => (await stateOn(x, job.id)) === "CANCELLED", 2000);
});

test("NATS restarts: submitting meanwhile is a 503 that makes no job; jobs submitted on A before run there, and then B and C see each of them and their events once", async () => {
  const jobs: Job[] = [];
  for (let i = 0; i < 5; i++) jobs.push(await submit(a, napA));
  await eventually(async () => (await stateOn(a, jobs[0].id)) === "RUNNING", 5000);
  const listed = async () => ((await (await a.fetch("/api/job/?limit=1000")).json()) as { meta: { total_count: number } }).meta.total_count;
  const before = await listed();
  await nats.stop();
  await eventually(() => a.output().includes("lost NATS"), 5000);
  const refused = await post(a, "/api/job/", { process_definition: echoA });
  expect(refused.status).toBe(503);
  expect(refused.body.error.message).toBe("the fleet's NATS is unreachable; nothing was queued, try again");
  expect(await listed()).toBe(before);
  // A keeps running what it took before the outage.
  await eventually(async () => (await stateOn(a, jobs[0].id)) === "FINISHED", 5000);
  await nats.start();
  for (const j of jobs) await eventually(async () => (await stateOn(a, j.id)) === "FINISHED", 20_000);
  for (const x of [b, c]) {
    for (const j of jobs) {
      await eventually(async () => (await stateOn(x, j.id)) === "FINISHED", 15_000);
      await eventually(async () => (await eventTypes(x, j.id)).join() === (await eventTypes(a, j.id)).join(), 3000);
    }
  }
  for (const j of jobs) {
    expect((await getJob(a, j.id))!.instance).toBe(a.id);
    expect((await eventTypes(a, j.id)).filter((t) => t === "started").length).toBe(1);
  }
  // Submitting works again.
  const after = await eventually(async () => {
    const res = await post(a, "/api/job/", { process_definition: echoA });
    return res.status === 201 ? (res.body as Job) : undefined;
  }, 10_000, 250);
  await eventually(async () => (await stateOn(b, after!.id)) === "FINISHED", 10_000);
  // A definition made after the restart reaches everyone too: the mirrors were made anew.
  const later = await post(c, "/api/process_definition/", { definition: { name: "later", exec: "/bin/true" } });
  expect(later.status).toBe(201);
  await eventually(async () => (await a.fetch(`/api/process_definition/${later.body.id}/`)).status === 200, 3000);
});

test("cancel and delete of a job whose instance is gone work on another; back, that instance stops what is left and removes its files", async () => {
  const job = await submit(c, sleeper);
  await eventually(async () => (await stateOn(a, job.id)) === "RUNNING", 5000);
  const log = join(c.dataDir, "logs", `${job.id}-1.stdout`);
  expect(existsSync(log)).toBe(true);
  await c.kill9();
  await eventually(async () => {
    const fleet = ((await (await a.fetch("/api/instance/")).json()) as { objects: { id: string; state: string }[] }).objects;
    return fleet.find((m) => m.id === c.id)?.state === "LOST";
  }, 5000);
  const res = await a.fetch(`/api/job/${job.id}/cancel`, { method: "POST" });
  expect(res.status).toBe(200);
  expect(((await res.json()) as Job).state).toBe("CANCELLED");
  await eventually(async () => (await stateOn(b, job.id)) === "CANCELLED", 5000);
  expect((await getJob(a, job.id))!.messages.map((m) => m.text)).toContain(`cancelled by admin; instance ${c.id}, where it ran, is LOST: whatever of it still runs there is stopped when it is back`);
  expect((await a.fetch(`/api/job/${job.id}/`, { method: "DELETE" })).status).toBe(204);
  await eventually(async () => (await getJob(b, job.id)) === undefined, 5000);
  // Back on its data dir: the job's process is stopped (recovery), its log removed (the deleted event), nothing run again.
  c = await member(c.dataDir, "c");
  await eventually(() => !existsSync(log), 5000);
  await eventually(() => pidsOfJob(job.id).length === 0, 5000);
  expect(await getJob(c, job.id)).toBeUndefined();
});

test("an instance taken for gone while it still ran the job (frozen, cut off) stops it once it hears of the cancel made elsewhere", async () => {
  const job = await submit(c, sleeper);
  await eventually(async () => (await stateOn(a, job.id)) === "RUNNING" && pidsOfJob(job.id).length > 0, 5000);
  c.proc.kill("SIGSTOP");
  try {
    await eventually(async () => {
      const fleet = ((await (await a.fetch("/api/instance/")).json()) as { objects: { id: string; state: string }[] }).objects;
      return fleet.find((m) => m.id === c.id)?.state === "LOST";
    }, 5000);
    expect((await a.fetch(`/api/job/${job.id}/cancel`, { method: "POST" })).status).toBe(200);
  } finally {
    c.proc.kill("SIGCONT");
  }
  await eventually(() => pidsOfJob(job.id).length === 0, 10_000);
  await eventually(async () => (await stateOn(c, job.id)) === "CANCELLED", 5000);
  expect(await stateOn(a, job.id)).toBe("CANCELLED");
});

test("an instance restarted on its data dir catches up with what happened while it was down, nothing twice", async () => {
  const dirB = b.dataDir;
  expect(await b.stop()).toBe(0);
  const jobs = [await submit(a, echoA), await submit(a, echoA)];
  const def = await post(a, "/api/process_definition/", { definition: { name: "while-away", exec: "/bin/true" } });
  for (const j of jobs) await eventually(async () => (await stateOn(a, j.id)) === "FINISHED", 10_000);
  b = await member(dirB, "b");
  for (const j of jobs) {
    await eventually(async () => (await stateOn(b, j.id)) === "FINISHED", 5000);
    expect(await eventTypes(b, j.id)).toEqual(await eventTypes(a, j.id));
  }
  expect((await b.fetch(`/api/process_definition/${def.body.id}/`)).status).toBe(200);
});
