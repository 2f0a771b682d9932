/**
 * Retries in a fleet, against a real nats-server and the compiled binary:
 * a retry's work message goes through the outbox, so it survives NATS being
 * away and its instance dying meanwhile; and a WAITING job whose instance
 * is gone is queued again by another one when its backoff ends.
 */
import { expect, test } from "bun:test";
import { chmodSync } from "node:fs";
import { join } from "node:path";
import { eventually, tempDir, type Binary } from "../helpers/index.ts";
import { startNatsServer } from "./nats-server.ts";
import { events, fleetScope, post } from "./fleet.ts";

const { later, dataDir, member: joined } = fleetScope();
const member = (nats: string, dir: string, labels: string) => joined(nats, dir, ["--failover-after", "3s", "--labels", labels]);

const jobOn = async (x: Binary, id: string) => (await (await x.fetch(`/api/job/${id}/`)).json()) as { state: string; attempts: number; messages: { text: string }[] };

/** A job that fails its first attempt (after `delay` seconds) and succeeds its second: a flag file in a directory any job user may write. */
function failOnce(delay: number, retries: { count: number; backoff: number }) {
  const flags = tempDir();
  chmodSync(flags.path, 0o777);
  later(() => flags.remove());
  const flag = join(flags.path, "tried");
  return { exec: "/bin/sh", argv: ["-c", `sleep ${delay}; [ -e ${flag} ] && exit 0; touch ${flag}; exit 1`], application: "retry", retries };
}

test("a retry queued while NATS is away reaches the queue even though its instance was killed before NATS came back", async () => {
  const nats = await startNatsServer();
  later(() => nats.remove());
  const dir = dataDir();
  let a = await member(nats.url, dir, "retry");
  const def = (await post(a, "/api/process_definition/", { definition: failOnce(0, { count: 1, backoff: 3 }) })).body.id;
  const id = (await post(a, "/api/job/", { process_definition: def })).body.id as string;
  // Attempt 1 fails while NATS is there (its message is acked); the backoff ends while NATS is away.
  await eventually(async () => (await jobOn(a, id)).state === "WAITING", 10_000);
  await nats.stop();
  await eventually(async () => {
    const j = await jobOn(a, id);
    return j.state === "QUEUED" && j.attempts === 1;
  }, 10_000);
  // Its work message is only in the outbox now; killed, nothing of it is in memory either.
  await a.kill9();
  await nats.start();
  a = await member(nats.url, dir, "retry");
  await eventually(async () => (await jobOn(a, id)).state === "FINISHED", 20_000, 250);
  expect((await jobOn(a, id)).attempts).toBe(2);
}, 60_000);

test("a WAITING job whose instance is killed is queued again by another when its backoff ends, and says so", async () => {
  const nats = await startNatsServer();
  later(() => nats.remove());
  const a = await member(nats.url, dataDir(), "retry");
  const def = (await post(a, "/api/process_definition/", { definition: failOnce(0, { count: 1, backoff: 4 }) })).body.id;
  const id = (await post(a, "/api/job/", { process_definition: def })).body.id as string;
  await eventually(async () => (await jobOn(a, id)).state === "WAITING", 10_000);
  const b = await member(nats.url, dataDir(), "retry");
  await eventually(async () => (await jobOn(b, id)).state === "WAITING", 5000);
  await a.kill9();
  await eventually(async () => (await jobOn(b, id)).state === "FINISHED", 20_000, 250);
  const done = await jobOn(b, id);
  expect(done.attempts).toBe(2);
  expect(done.messages.map((m) => m.text)).toContain(`instance ${a.id} is gone; its retry is queued by ${b.id}`);
}, 60_000);

test("an instance back after others took over and finished its WAITING job queues nothing for it, even with many events to catch up on", async () => {
  const nats = await startNatsServer();
  later(() => nats.remove());
  const dirA = dataDir();
  let a = await member(nats.url, dirA, "retry");
  const b = await member(nats.url, dataDir(), "retry");
  const def = (await post(a, "/api/process_definition/", { definition: failOnce(0, { count: 1, backoff: 8 }) })).body.id;
  const nop = (await post(b, "/api/process_definition/", { definition: { exec: "/bin/true" } })).body.id;
  const id = (await post(a, "/api/job/", { process_definition: def })).body.id as string;
  await eventually(async () => (await jobOn(b, id)).state === "WAITING", 10_000);
  a.proc.kill("SIGTERM");
  await a.proc.exited;
  // While A is away: many events, and after them the end of its job (B takes the retry over when the backoff ends).
  for (let i = 0; i < 20; i++) expect((await post(b, "/api/job/", Array.from({ length: 1000 }, () => ({ process_definition: nop, state: "NEW" })))).status).toBe(201);
  await eventually(async () => (await jobOn(b, id)).state === "FINISHED", 30_000, 250);
  a = await member(nats.url, dirA, "retry");
  await eventually(async () => (await jobOn(a, id)).state === "FINISHED", 30_000, 250);
  await Bun.sleep(1000);
  const evs = await events(b, id);
  const afterWaiting = evs.slice(evs.findIndex((e) => e.type === "waiting"));
  expect(afterWaiting.filter((e) => e.type === "queued").map((e) => e.executor)).toEqual([b.id]);
}, 120_000);
