/**
 * What arrives late or forged on the fleet's streams: a put-back sent from
 * an instance's outbox after the fleet has finished the job meanwhile, and
 * `deleted` events no flue made (a job id with path characters, a huge
 * attempts). Real nats-server, the compiled binary, a TCP proxy to cut one
 * instance off.
 */
import { expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { eventually, tempDir, type Binary } from "../helpers/index.ts";
import { startNatsServer } from "./nats-server.ts";
import { events, fleetScope, getJob, post } from "./fleet.ts";
import { natsProxy } from "./proxy.ts";

const { later, dataDir, member: joined } = fleetScope();
const member = (nats: string, dir: string, labels: string) => joined(nats, dir, ["--failover-after", "3s", "--labels", labels, "--shutdown-grace", "1s"]);

const stateOf = async (x: Binary, id: string) => (await getJob(x, id))?.state;

test("a put-back that waited in a cut-off instance's outbox while the fleet finished the job does not run it again", async () => {
  const nats = await startNatsServer();
  later(() => nats.remove());
  const proxy = natsProxy(nats.port);
  later(() => proxy.close());
  const flags = tempDir();
  chmodSync(flags.path, 0o777);
  later(() => flags.remove());
  const flag = join(flags.path, "tried");
  const runs = join(flags.path, "runs");
  const dirA = dataDir();
  let a = await member(proxy.url, dirA, "w");
  const b = await member(nats.url, dataDir(), "none");
  // The first run takes long; every later one is quick.
  const def = (await post(a, "/api/process_definition/", { definition: { exec: "/bin/sh", argv: ["-c", `echo run >> ${runs}; [ -e ${flag} ] && exit 0; touch ${flag}; sleep 60`], application: "w" } })).body.id;
  const id = (await post(a, "/api/job/", { process_definition: def })).body.id as string;
  await eventually(async () => (await stateOf(b, id)) === "RUNNING", 10_000);
  // A is cut off, then stopped: its put-back (`queued` and the work message) stays in its outbox.
  proxy.cut();
  await Bun.sleep(500);
  a.proc.kill("SIGTERM");
  await a.proc.exited;
  // Another instance with label w takes the job over and finishes it.
  const c = await member(nats.url, dataDir(), "w");
  await eventually(async () => (await stateOf(b, id)) === "FINISHED", 30_000, 250);
  // A back: its outbox goes out, late.
  proxy.restore();
  a = await member(proxy.url, dirA, "none");
  await eventually(async () => (await events(b, id)).some((e) => e.type === "queued" && e.executor === a.id), 10_000);
  await Bun.sleep(4000);
  for (const x of [a, b, c]) expect(await stateOf(x, id)).toBe("FINISHED");
  expect((await Bun.file(runs).text()).trim().split("\n").length).toBe(2);
}, 120_000);

async function forge(url: string, seq: number, event: Record<string, unknown>) {
  const nc = await connect({ servers: url });
  await jetstream(nc).publish("flue.events.evil.job.x.deleted", JSON.stringify({ executor: "evil", timestamp: Date.now() / 1000, type: "deleted", ...event }), { msgID: `evil.${seq}` });
  await nc.close();
}

test("forged deleted events remove nothing outside the data dir and cannot hang an instance", async () => {
  const nats = await startNatsServer();
  later(() => nats.remove());
  const a = await member(nats.url, dataDir(), "x");
  const victim = tempDir("flue-victim-");
  later(() => victim.remove());
  mkdirSync(join(victim.path, "precious"));
  writeFileSync(join(victim.path, "precious", "data.txt"), "keep me");
  writeFileSync(join(victim.path, "precious-1.stdout"), "keep me too");
  await forge(nats.url, 1, { id: `../../..${victim.path}/precious`, attempts: 1 });
  await forge(nats.url, 2, { id: "01m8000000000000000000000z", attempts: 1e12 });
  await forge(nats.url, 3, { id: "01m8000000000000000000000y", attempts: 1 });
  // The last is applied (a well-formed id): the others before it were dealt with, and quickly.
  await eventually(async () => (await a.fetch("/api/events/?limit=1000")).status === 200 && existsSync(join(victim.path, "precious")), 5000);
  const began = performance.now();
  expect((await a.fetch("/api/job/")).status).toBe(200);
  expect(performance.now() - began).toBeLessThan(2000);
  expect(existsSync(join(victim.path, "precious", "data.txt"))).toBe(true);
  expect(existsSync(join(victim.path, "precious-1.stdout"))).toBe(true);
}, 60_000);
