/**
 * The speed cases of scripts/bench: throughput, submit latency, dispatch
 * latency, each beside a baseline measured in the same run.
 */
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { bareServer, concurrently, ms, startFlue, stats, tempDir, type Bench } from "./bench-lib.ts";

// ---- baselines ------------------------------------------------------------

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
    const t = performance.now();
    for (let i = 0; i < n; i += 1000) {
      const batch = Array.from({ length: Math.min(1000, n - i) }, () => ({ process_definition: def.id }));
      await flue.json("/api/job/", batch);
    }
    for (;;) {
      const done = await flue.json("/api/job/?state=FINISHED,FAILED&limit=1");
      if (done.meta.total_count >= n) break;
      await Bun.sleep(25);
    }
    const rate = n / ((performance.now() - t) / 1000);
    const failed = (await flue.json("/api/job/?state=FAILED&limit=1")).meta.total_count;
    const db = new Database(join(flue.dataDir, "flue.db"), { readonly: true });
    const events = db.query<{ n: number }, []>("SELECT count(*) AS n FROM events").get()!.n;
    db.close();
    await flue.stop();
    const scratch = tempDir();
    const spawn = await bareSpawnLoop(n, variant.cmd, 2, variant.definition.output_adapter ? join(scratch.path, "out") : undefined);
    scratch.remove();
    const xa = xargs(n, variant.xargs);
    bench.rows.push({
      case: `throughput, ${variant.name} (${n} jobs, 2 slots, ${events} events${failed ? `, ${failed} FAILED` : ""})`,
      value: `${rate.toFixed(0)} jobs/s`,
      baseline: `Bun.spawn ×2: ${spawn.toFixed(0)}/s; xargs -P2: ${xa.toFixed(0)}/s`,
      ratio: (rate / spawn).toFixed(2),
      target: "≥ 0.75 of Bun.spawn",
      met: rate / spawn >= 0.75 && failed === 0,
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
    const f = stats(
      await concurrently(bench.N.submit, clients, async () => {
        const r = await fetch(`${flue.url}/api/job/`, { method: "POST", headers: auth, body });
        if (r.status !== 201) throw new Error(`submit: ${r.status}`);
        await r.arrayBuffer();
      }),
    );
    const b = stats(
      await concurrently(bench.N.submit, clients, async () => {
        const r = await fetch(bare.url, { method: "POST", headers: auth, body });
        await r.arrayBuffer();
      }),
    );
    bench.rows.push({
      case: `submit latency POST /api/job/, ${clients} client${clients > 1 ? "s" : ""} (p50 / p99)`,
      value: `${ms(f.p50)} / ${ms(f.p99)}`,
      baseline: `bare Bun.serve: ${ms(b.p50)} / ${ms(b.p99)}`,
      ratio: (b.p99 / f.p99).toFixed(2),
      target: clients === 50 ? "p99 < 5 ms" : "–",
      met: clients === 50 ? f.p99 < 5 : null,
    });
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
