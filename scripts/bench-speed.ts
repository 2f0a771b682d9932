/**
 * The speed cases of scripts/bench: throughput, submit latency, dispatch
 * latency, each beside a baseline measured in the same run.
 */
import { Database } from "bun:sqlite";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { bareServer, concurrently, ms, startFlue, stats, tempDir, until, type Bench } from "./bench-lib.ts";

// ---- baselines ------------------------------------------------------------

/** CPU microseconds a process has used, by thread name (digits folded: "Bun Pool #"), from /proc. */
function threadCpu(pid: number | "self"): Map<string, number> {
  const tick = 1e6 / 100; // USER_HZ
  const by = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
    } catch {
      continue; // the thread ended
    }
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")).replace(/\d+/g, "#");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    by.set(name, (by.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) * tick);
  }
  return by;
}

const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

/** CPU microseconds the whole machine has used (user, nice, system, irq, softirq, steal), from /proc/stat. */
function machineCpu(): number {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.split(/\s+/).slice(1).map(Number);
  return [0, 1, 2, 5, 6, 7].reduce((a, i) => a + (f[i] ?? 0), 0) * (1e6 / 100); // USER_HZ
}

/** Per-thread CPU used between two readings, per job, largest first. */
function cpuPerJob(before: Map<string, number>, after: Map<string, number>, n: number): [string, number][] {
  return [...after]
    .map(([k, v]): [string, number] => [k, (v - (before.get(k) ?? 0)) / n])
    .filter(([, v]) => v >= 1)
    .sort((a, b) => b[1] - a[1]);
}

async function bareSpawnLoop(n: number, cmd: string[], inFlight = 2, stdoutFile?: string): Promise<number> {
  let next = 0;
  const t = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next++ < n) {
        const p = Bun.spawn({ cmd, stdin: "ignore", stdout: stdoutFile ? Bun.file(stdoutFile) : "ignore", stderr: "ignore" });
        await p.exited;
      }
    }),
  );
  return n / ((performance.now() - t) / 1000);
}

function xargs(n: number, command: string): number {
  const t = performance.now();
  const r = Bun.spawnSync(["sh", "-c", `seq ${n} | xargs -P2 -I{} ${command}`], { stdout: "ignore", stderr: "inherit" });
  if (r.exitCode !== 0) throw new Error("xargs failed");
  return n / ((performance.now() - t) / 1000);
}

/** A bare Bun HTTP server in its own process: the floor under flue's API. */

// ---- cases ------------------------------------------------------------------

export async function throughput(bench: Bench) {
  for (const variant of [
    { name: "/bin/true", definition: { exec: "/bin/true" }, cmd: ["/bin/true"], xargs: "/bin/true" },
    {
      name: "sh -c 'echo hello | tr -d l', stdout kept",
      definition: {
        exec: "/bin/sh",
        argv: ["-c", "echo hello | tr -d l"],
        output_adapter: { output_type: "file", output_parameters: { file_type: "stream", stream_name: "STDOUT" } },
      },
      cmd: ["/bin/sh", "-c", "echo hello | tr -d l"],
      xargs: "sh -c 'echo hello | tr -d l >/dev/null'",
    },
  ]) {
    const n = bench.N.throughput;
    bench.log(`throughput: ${variant.name}, ${n} jobs`);
    const flue = await startFlue(["--slots", "2"]);
    const def = await flue.json("/api/process_definition/", { definition: variant.definition });
    // The machine's speed drifts within a run (other guests on the host): the bare loop runs
    // before and after flue, and flue is compared with the mean of the two.
    const bareLoop = async () => {
      const scratch = tempDir();
      try {
        const [self, machine] = [total(threadCpu("self")), machineCpu()];
        const rate = await bareSpawnLoop(n, variant.cmd, 2, variant.definition.output_adapter ? join(scratch.path, "out") : undefined);
        return { rate, machinePerSpawn: (machineCpu() - machine) / n, selfPerSpawn: (total(threadCpu("self")) - self) / n };
      } finally {
        scratch.remove();
      }
    };
    const before = await bareLoop();
    const cpuBefore = threadCpu(flue.pid);
    const machineBefore = machineCpu();
    const t = performance.now();
    let last = "";
    for (let i = 0; i < n; i += 1000) {
      const batch = Array.from({ length: Math.min(1000, n - i) }, () => ({ process_definition: def.id }));
      last = (await flue.json("/api/job/", batch)).objects.at(-1).id;
    }
    // Wait as a user would, without loading flue: a long poll on the last job (queued last, so it
    // ends within a job's time of the others), then the count until the one or two before it end.
    // Polling the count every few ms from the start cost flue ~0.5-1 request a job.
    while (!["FINISHED", "FAILED", "CANCELLED"].includes((await flue.json(`/api/job/${last}/?wait=60`)).state)) {}
    await until(
      `all ${n} jobs ending`,
      n * 20 + 30_000,
      async () => ((await flue.json("/api/job/?state=FINISHED,FAILED&limit=1")).meta.total_count >= n ? true : undefined),
      async () => JSON.stringify(Object.fromEntries(await Promise.all(["NEW", "QUEUED", "RUNNING", "WAITING", "FINISHED", "FAILED", "CANCELLED"].map(async (s) => [s, (await flue.json(`/api/job/?state=${s}&limit=1`)).meta.total_count])))),
    );
    const rate = n / ((performance.now() - t) / 1000);
    const machinePerJob = (machineCpu() - machineBefore) / n;
    const flueCpu = cpuPerJob(cpuBefore, threadCpu(flue.pid), n);
    const failed = (await flue.json("/api/job/?state=FAILED&limit=1")).meta.total_count;
    const db = new Database(join(flue.dataDir, "flue.db"), { readonly: true });
    const events = db.query<{ n: number }, []>("SELECT count(*) AS n FROM events").get()!.n;
    db.close();
    await flue.stop();
    const after = await bareLoop();
    const spawn = (before.rate + after.rate) / 2;
    const machinePerSpawn = (before.machinePerSpawn + after.machinePerSpawn) / 2;
    const selfPerSpawn = (before.selfPerSpawn + after.selfPerSpawn) / 2;
    const xa = xargs(n, variant.xargs);
    bench.rows.push({
      case: `throughput, ${variant.name} (${n} jobs, 2 slots, ${events} events${failed ? `, ${failed} FAILED` : ""})`,
      value: `${rate.toFixed(0)} jobs/s`,
      baseline: `Bun.spawn ×2: ${spawn.toFixed(0)}/s (${before.rate.toFixed(0)} before flue, ${after.rate.toFixed(0)} after); xargs -P2: ${xa.toFixed(0)}/s`,
      ratio: (rate / spawn).toFixed(2),
      target: "≥ 0.75 of Bun.spawn",
      met: rate / spawn >= 0.75 && failed === 0,
    });
    const flueTotal = flueCpu.reduce((a, [, v]) => a + v, 0);
    bench.rows.push({
      case: `CPU of the flue process per job, ${variant.name} (by thread: ${flueCpu.slice(0, 3).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(", ")})`,
      value: `${flueTotal.toFixed(0)} µs`,
      baseline: `Bun.spawn ×2 loop: ${selfPerSpawn.toFixed(0)} µs a spawn`,
      ratio: (selfPerSpawn / flueTotal).toFixed(2),
      target: "–",
      met: null,
    });
    bench.rows.push({
      case: `CPU of the whole machine per job, ${variant.name} (the jobs, flue, the benchmark's polling)`,
      value: `${machinePerJob.toFixed(0)} µs`,
      baseline: `Bun.spawn ×2 loop: ${machinePerSpawn.toFixed(0)} µs a spawn`,
      ratio: (machinePerSpawn / machinePerJob).toFixed(2),
      target: "–",
      met: null,
    });
  }
}

export async function submitLatency(bench: Bench) {
  const flue = await startFlue(["--slots", "2"]);
  const def = await flue.json("/api/process_definition/", { definition: { exec: "/bin/true" } });
  const bare = await bareServer();
  const body = JSON.stringify({ process_definition: def.id, state: "NEW" });
  const auth = { authorization: `Basic ${Buffer.from("admin:bench").toString("base64")}`, "content-type": "application/json" };
  for (const clients of [1, 50]) {
    bench.log(`submit latency, ${clients} clients`);
    const cpuBefore = threadCpu(flue.pid);
    let t = performance.now();
    const f = stats(
      await concurrently(bench.N.submit, clients, async () => {
        const r = await fetch(`${flue.url}/api/job/`, { method: "POST", headers: auth, body });
        if (r.status !== 201) throw new Error(`submit: ${r.status}`);
        await r.arrayBuffer();
      }),
    );
    const flueRate = bench.N.submit / ((performance.now() - t) / 1000);
    const flueCpu = cpuPerJob(cpuBefore, threadCpu(flue.pid), bench.N.submit);
    t = performance.now();
    const b = stats(
      await concurrently(bench.N.submit, clients, async () => {
        const r = await fetch(bare.url, { method: "POST", headers: auth, body });
        await r.arrayBuffer();
      }),
    );
    const bareRate = bench.N.submit / ((performance.now() - t) / 1000);
    bench.rows.push({
      case: `submit latency POST /api/job/, ${clients} client${clients > 1 ? "s" : ""} (p50 / p99)`,
      value: `${ms(f.p50)} / ${ms(f.p99)}`,
      baseline: `bare Bun.serve: ${ms(b.p50)} / ${ms(b.p99)}`,
      ratio: (b.p99 / f.p99).toFixed(2),
      target: clients === 50 ? "p99 < 5 ms" : "–",
      met: clients === 50 ? f.p99 < 5 : null,
    });
    // With every client always waiting, latency is clients ÷ rate: the rate and what bounds it.
    if (clients > 1) {
      bench.rows.push({
        case: `submissions a second at ${clients} clients (flue's CPU a request, by thread: ${flueCpu.slice(0, 3).map(([k, v]) => `${k} ${v.toFixed(0)} µs`).join(", ") || "too few requests to tell"})`,
        value: `${flueRate.toFixed(0)}/s`,
        baseline: `bare Bun.serve: ${bareRate.toFixed(0)}/s`,
        ratio: (flueRate / bareRate).toFixed(2),
        target: "–",
        met: null,
      });
    }
  }
  bare.stop();
  await flue.stop();
}

export async function dispatchLatency(bench: Bench) {
  bench.log("dispatch latency");
  const flue = await startFlue(["--slots", "2"]);
  const def = await flue.json("/api/process_definition/", { definition: { exec: "/bin/true" } });
  const lat: number[] = [];
  for (let i = 0; i < bench.N.dispatch; i++) {
    const job = await flue.json("/api/job/", { process_definition: def.id });
    await flue.json(`/api/job/${job.id}/?wait=10`);
    const events = (await flue.json(`/api/job/${job.id}/events/`)).objects as { type: string; timestamp: number }[];
    const queued = events.find((e) => e.type === "queued")!.timestamp;
    const started = events.find((e) => e.type === "execution.started")!.timestamp;
    lat.push((started - queued) * 1000);
  }
  await flue.stop();
  const spawnLat: number[] = [];
  for (let i = 0; i < bench.N.dispatch; i++) {
    const t = performance.now();
    const p = Bun.spawn({ cmd: ["/bin/true"], stdio: ["ignore", "ignore", "ignore"] });
    spawnLat.push(performance.now() - t);
    await p.exited;
  }
  const f = stats(lat);
  const b = stats(spawnLat);
  bench.rows.push({
    case: `dispatch latency, queued → execution.started, slot free (p50 / p99, ${bench.N.dispatch} jobs)`,
    value: `${ms(f.p50)} / ${ms(f.p99)}`,
    baseline: `Bun.spawn call: ${ms(b.p50)} / ${ms(b.p99)}`,
    ratio: (b.p99 / f.p99).toFixed(2),
    target: "p99 < 5 ms",
    met: f.p99 < 5,
  });
}
