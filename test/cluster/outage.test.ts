/**
 * The fleet through NATS outages, against real nats-servers and three
 * instances of the compiled binary (2 slots each, heartbeat 0.5 s): the
 * server restarted mid-batch on the same port and store, and one node of a
 * three-node JetStream cluster stopped mid-batch. Either way every job
 * ends FINISHED, each run exactly once, and every instance sees them all.
 */
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { expect, test } from "bun:test";
import { eventually, type Binary } from "../helpers/index.ts";
import { startNatsCluster, startNatsServer } from "./nats-server.ts";
import { type Member, events, fleetScope, post } from "./fleet.ts";

const { later, dataDir, member: joined } = fleetScope();

function member(nats: string, failoverAfter: string, more: string[] = []): Promise<Member> {
  return joined(nats, dataDir(), ["--failover-after", failoverAfter, "--slots", "2", ...more]);
}


const finishedOn = async (x: Binary, def: number) =>
  ((await (await x.fetch(`/api/job/?state=FINISHED&process_definition=${def}&limit=0`)).json()) as any).meta.total_count as number;

/** A batch of `n` jobs of `sleep` on `on`, once every member knows the definition; returns the definition and the job ids. */
async function batch(on: Member, members: Member[], n: number, sleep: string): Promise<{ def: number; ids: string[] }> {
  const made = await post(on, "/api/process_definition/", { definition: { exec: "/bin/sleep", argv: [sleep] } });
  expect(made.status).toBe(201);
  const def = made.body.id as number;
  for (const y of members) await eventually(async () => (await y.fetch(`/api/process_definition/${def}/`)).status === 200, 5000);
  const jobs = await post(on, "/api/job/", Array.from({ length: n }, () => ({ process_definition: def })));
  expect(jobs.status).toBe(201);
  return { def, ids: jobs.body.objects.map((j: { id: string }) => j.id) };
}

/** Which of the cluster's nodes leads stream `flue_work` (node names end in their index). */
async function workLeader(urls: string[]): Promise<number> {
  const nc = await connect({ servers: urls });
  try {
    const info = await (await jetstreamManager(nc)).streams.info("flue_work");
    expect(info.config.num_replicas).toBe(3);
    return Number(info.cluster!.leader!.split("-").at(-1));
  } finally {
    await nc.close();
  }
}

/** Every member sees every job FINISHED, and each ran exactly once. */
async function allFinishedOnce(members: Member[], def: number, ids: string[], ms: number): Promise<void> {
  for (const y of members) {
    await eventually(async () => (await finishedOn(y, def)) === ids.length, ms, 250).catch(async (e) => {
      throw new Error(`${y.id} sees ${await finishedOn(y, def)} of ${ids.length} FINISHED: ${e}`);
    });
  }
  for (const id of ids) {
    const evs = await events(members[0], id);
    expect([id, evs.filter((e) => e.type === "execution.started").length, evs.filter((e) => e.type === "finished").length]).toEqual([id, 1, 1]);
  }
}

test("NATS restarted mid-batch (same port and store): every job finishes exactly once and every instance sees all of them", async () => {
  const nats = await startNatsServer();
  later(() => nats.remove());
  const members = await Promise.all([0, 1, 2].map(() => member(nats.url, "3s")));
  const [a] = members;
  const { def, ids } = await batch(a, members, 60, "0.5");
  await eventually(async () => (await finishedOn(a, def)) >= 6, 20_000, 50);
  await nats.stop();
  for (const y of members) await eventually(() => y.output().includes("lost NATS"), 10_000);
  // Jobs running now end during the outage: recorded where they ran, seen nowhere else until NATS is back.
  await Bun.sleep(1500);
  const views = await Promise.all(members.map(async (y) => new Set(((await (await y.fetch(`/api/job/?state=FINISHED&process_definition=${def}&limit=1000`)).json()) as any).objects.map((j: { id: string }) => j.id))));
  const duringOutage = ids.filter((id) => views.some((v) => v.has(id)) && !views.every((v) => v.has(id)));
  expect(duringOutage.length).toBeGreaterThan(0);
  await nats.start();
  await allFinishedOnce(members, def, ids, 60_000);
}, 120_000);

test("a node of a three-node NATS cluster stopped mid-batch: nothing is lost, each job runs once, every instance sees them all", async () => {
  const cluster = await startNatsCluster();
  later(() => cluster.remove());
  // Each instance prefers its own node and knows the others.
  const urls = cluster.nodes.map((n) => n.url);
  const members: Member[] = [];
  for (let i = 0; i < 3; i++) members.push(await member([...urls.slice(i), ...urls.slice(0, i)].join(","), "10s", ["--nats-replicas", "3"]));
  const [a] = members;
  const { def, ids } = await batch(a, members, 60, "0.3");
  await eventually(async () => (await finishedOn(a, def)) >= 6, 20_000, 50);
  // The node the work queue's leader is on: the hardest one to lose.
  const leader = await workLeader(urls);
  await cluster.nodes[leader].stop();
  await allFinishedOnce(members, def, ids, 60_000);
}, 150_000);
