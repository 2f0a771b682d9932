/**
 * The fleet case of scripts/bench: the same batch of jobs that sleep (so the
 * slots, not the two cores, are the limit) on one instance and on three
 * sharing one nats-server; and the fail-over time, from kill -9 of the
 * instance running a job to its next attempt starting elsewhere.
 */
import { startFlue, tempDir, until, type Bench, type Flue } from "./bench-lib.ts";

const SLEEP = "0.2";
const FAILOVER_AFTER = "5s";

/** A nats-server with JetStream on a free port, in a store of its own. */
async function startNats(): Promise<{ url: string; stop: () => Promise<void> }> {
  const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = probe.port!;
  probe.stop(true);
  const store = tempDir();
  const proc = Bun.spawn(["nats-server", "-js", "-sd", store.path, "-a", "127.0.0.1", "-p", String(port)], { stdout: "ignore", stderr: "ignore" });
  await until("nats-server listening", 10_000, () =>
    Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } }).then(
      (s) => (s.end(), true),
      () => undefined,
    ),
  );
  return {
    url: `nats://127.0.0.1:${port}`,
    stop: async () => {
      proc.kill();
      await proc.exited;
      store.remove();
    },
  };
}

const member = (url: string) => startFlue(["--nats", url, "--slots", "2", "--heartbeat", "0.5s", "--failover-after", FAILOVER_AFTER]);

/** Submits `n` sleeping jobs on `on` and returns jobs/s until every one is FINISHED, as `on` sees them. */
async function batch(on: Flue, definition: number, n: number): Promise<number> {
  const began = performance.now();
  const made = await on.json("/api/job/", Array.from({ length: n }, () => ({ process_definition: definition })));
  const ids: string[] = made.objects.map((j: { id: string }) => j.id);
  await until(`${n} jobs finishing`, 120_000, async () => {
    const finished = (await on.json(`/api/job/?state=FINISHED&process_definition=${definition}&limit=0`)).meta.total_count;
    return finished >= ids.length ? true : undefined;
  });
  return n / ((performance.now() - began) / 1000);
}

export async function fleet(bench: Bench) {
  const n = bench.tiny ? 16 : 240;
  bench.log(`fleet: ${n} jobs of sleep ${SLEEP} on one instance, then on three`);
  const nats = await startNats();
  const members: Flue[] = [];
  try {
    members.push(await member(nats.url));
    const [a] = members;
    // A definition per batch: a batch is done when all of its definition's jobs are.
    const sleeper = async () => (await a.json("/api/process_definition/", { definition: { exec: "/bin/sleep", argv: [SLEEP] } })).id as number;
    const one = await batch(a, await sleeper(), n);
    members.push(await member(nats.url), await member(nats.url));
    const second = await sleeper();
    // Every instance sees the definition (it is shared) before the batch starts.
    for (const m of members) await until("the definition reaching every instance", 10_000, async () => ((await m.api(`/api/process_definition/${second}/`)).status === 200 ? true : undefined));
    const three = await batch(a, second, n);
    const ideal = (2 * 3) / Number(SLEEP);
    bench.rows.push({
      case: `fleet: ${n} jobs of sleep ${SLEEP} s, 2 slots each, three instances against one`,
      value: `${three.toFixed(1)} jobs/s`,
      baseline: `one instance: ${one.toFixed(1)} jobs/s (the slots' limit: ${ideal.toFixed(0)}/s for three)`,
      ratio: (three / one).toFixed(2),
      target: "≈ 3 (three times the slots)",
      met: three / one >= 2.4,
    });

    bench.log("fleet: fail-over");
    const long = (await a.json("/api/process_definition/", { definition: { exec: "/bin/sleep", argv: ["3"] } })).id;
    for (const m of members) await until("the definition reaching every instance", 10_000, async () => ((await m.api(`/api/process_definition/${long}/`)).status === 200 ? true : undefined));
    const job = await a.json("/api/job/", { process_definition: long });
    const running = await until("the long job running", 30_000, async () => {
      const j = await a.json(`/api/job/${job.id}/`);
      return j.state === "RUNNING" && j.instance ? (j.instance as string) : undefined;
    });
    const ids = await Promise.all(members.map(async (m) => (await m.json("/api/instance/")).objects[0].id as string));
    const victim = members[ids.indexOf(running)];
    const watcher = members.find((m) => m !== victim)!;
    const killed = performance.now();
    process.kill(victim.pid, "SIGKILL");
    await until("a second attempt starting elsewhere", 60_000, async () => {
      const j = await watcher.json(`/api/job/${job.id}/`);
      return j.attempts >= 2 && j.state === "RUNNING" ? true : undefined;
    });
    const took = (performance.now() - killed) / 1000;
    members.splice(members.indexOf(victim), 1);
    bench.rows.push({
      case: `fleet: fail-over, kill -9 → the next attempt started (--failover-after ${FAILOVER_AFTER})`,
      value: `${took.toFixed(1)} s`,
      baseline: `--failover-after ${FAILOVER_AFTER}`,
      ratio: "–",
      target: "≤ 15 s",
      met: took <= 15,
    });
  } finally {
    for (const m of members) await m.stop().catch(() => {});
    await nats.stop();
  }
}
