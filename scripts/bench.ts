/**
 * flue's benchmark: each case against the compiled binary, beside a baseline
 * measured in the same run on the same machine. Prints one Markdown table and
 * writes it to docs/benchmarks.md.
 *
 *   scripts/bench            the full run (a few minutes)
 *   scripts/bench --tiny     every case on tiny sizes (the test suite runs this)
 *   scripts/bench --only=throughput,store   some cases (throughput, submit, dispatch, store, memory, binary)
 */
import { Database } from "bun:sqlite";
import { mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  BINARY,
  concurrently,
  machine,
  mb,
  ms,
  ROOT,
  rss,
  startFlue,
  stats,
  table,
  tempDir,
  type Row,
} from "./bench-lib.ts";
import { generateJobs } from "./bench-store.ts";

const tiny = process.argv.includes("--tiny");
const out = process.argv.includes("--no-write") || tiny || process.argv.some((a) => a.startsWith("--only=")) ? undefined : join(ROOT, "docs/benchmarks.md");
const N = {
  throughput: tiny ? 200 : 5000,
  submit: tiny ? 100 : 5000,
  dispatch: tiny ? 20 : 300,
  store: tiny ? 5000 : 1_000_000,
  storeQueries: tiny ? 20 : 200,
  queued: tiny ? 500 : 10_000,
  stdoutBytes: tiny ? 16 * 2 ** 20 : 2 ** 30,
};
const rows: Row[] = [];
const log = (s: string) => console.error(`bench: ${s}`);

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
async function bareServer(): Promise<{ url: string; pid: number; stop: () => void }> {
  const code = `const s = Bun.serve({ port: 0, async fetch(r) { if (r.method === "POST") { const b = await r.json(); return Response.json({ id: 1, ...b }, { status: 201 }); } return new Response("ok"); } }); console.log("http://127.0.0.1:" + s.port);`;
  const proc = Bun.spawn({ cmd: [process.execPath, "-e", code], stdout: "pipe", stderr: "inherit" });
  const reader = proc.stdout.getReader();
  const { value } = await reader.read();
  return { url: new TextDecoder().decode(value).trim(), pid: proc.pid, stop: () => proc.kill() };
}

// ---- cases ------------------------------------------------------------------

async function throughput() {
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
    const n = N.throughput;
    log(`throughput: ${variant.name}, ${n} jobs`);
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
    rows.push({
      case: `throughput, ${variant.name} (${n} jobs, 2 slots, ${events} events${failed ? `, ${failed} FAILED` : ""})`,
      value: `${rate.toFixed(0)} jobs/s`,
      baseline: `Bun.spawn ×2: ${spawn.toFixed(0)}/s; xargs -P2: ${xa.toFixed(0)}/s`,
      ratio: (rate / spawn).toFixed(2),
      target: "≥ 0.75 of Bun.spawn",
      met: rate / spawn >= 0.75 && failed === 0,
    });
  }
}

async function submitLatency() {
  const flue = await startFlue(["--slots", "2"]);
  const def = await flue.json("/api/process_definition/", { definition: { exec: "/bin/true" } });
  const bare = await bareServer();
  const body = JSON.stringify({ process_definition: def.id, state: "NEW" });
  const auth = { authorization: `Basic ${Buffer.from("admin:bench").toString("base64")}`, "content-type": "application/json" };
  for (const clients of [1, 50]) {
    log(`submit latency, ${clients} clients`);
    const f = stats(
      await concurrently(N.submit, clients, async () => {
        const r = await fetch(`${flue.url}/api/job/`, { method: "POST", headers: auth, body });
        if (r.status !== 201) throw new Error(`submit: ${r.status}`);
        await r.arrayBuffer();
      }),
    );
    const b = stats(
      await concurrently(N.submit, clients, async () => {
        const r = await fetch(bare.url, { method: "POST", headers: auth, body });
        await r.arrayBuffer();
      }),
    );
    rows.push({
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

async function dispatchLatency() {
  log("dispatch latency");
  const flue = await startFlue(["--slots", "2"]);
  const def = await flue.json("/api/process_definition/", { definition: { exec: "/bin/true" } });
  const lat: number[] = [];
  for (let i = 0; i < N.dispatch; i++) {
    const job = await flue.json("/api/job/", { process_definition: def.id });
    await flue.json(`/api/job/${job.id}/?wait=10`);
    const events = (await flue.json(`/api/job/${job.id}/events/`)).objects as { type: string; timestamp: number }[];
    const queued = events.find((e) => e.type === "queued")!.timestamp;
    const started = events.find((e) => e.type === "execution.started")!.timestamp;
    lat.push((started - queued) * 1000);
  }
  await flue.stop();
  const spawnLat: number[] = [];
  for (let i = 0; i < N.dispatch; i++) {
    const t = performance.now();
    const p = Bun.spawn({ cmd: ["/bin/true"], stdio: ["ignore", "ignore", "ignore"] });
    spawnLat.push(performance.now() - t);
    await p.exited;
  }
  const f = stats(lat);
  const b = stats(spawnLat);
  rows.push({
    case: `dispatch latency, queued → execution.started, slot free (p50 / p99, ${N.dispatch} jobs)`,
    value: `${ms(f.p50)} / ${ms(f.p99)}`,
    baseline: `Bun.spawn call: ${ms(b.p50)} / ${ms(b.p99)}`,
    ratio: (b.p99 / f.p99).toFixed(2),
    target: "p99 < 5 ms",
    met: f.p99 < 5,
  });
}

async function storeScale() {
  const dir = tempDir();
  log(`store: generating ${N.store} finished jobs`);
  const gen = generateJobs(dir.path, N.store);
  log(`store: generated in ${(gen.seconds).toFixed(1)} s`);
  const size = ["flue.db", "flue.db-wal"].reduce((s, f) => {
    try {
      return s + statSync(join(dir.path, f)).size;
    } catch {
      return s;
    }
  }, 0);
  const flue = await startFlue(["--slots", "2"], dir.path);
  const raw = new Database(join(dir.path, "flue.db"), { readonly: true });
  const deep = Math.floor(N.store * 0.9);
  // What a client following `next` links holds at that depth: the id of the row before it.
  const cursor = raw.query<{ id: string }, [number]>("SELECT id FROM jobs ORDER BY seq DESC LIMIT 1 OFFSET ?").get(deep - 1)!.id;
  const cursorSeq = raw.query<{ seq: number }, [string]>("SELECT seq FROM jobs WHERE id = ?").get(cursor)!.seq;
  const cases: { name: string; path: string; sql: string; args: (string | number)[] }[] = [
    { name: "first page", path: "/api/job/", sql: "SELECT * FROM jobs ORDER BY seq DESC LIMIT 20", args: [] },
    { name: "filtered page (state=FAILED, definition)", path: `/api/job/?state=FAILED&process_definition=${gen.definitionId}`, sql: "SELECT * FROM jobs WHERE state = 'FAILED' AND definition_id = ? ORDER BY seq DESC LIMIT 20", args: [gen.definitionId] },
    { name: `page ${deep / 20 + 1}, following next links`, path: `/api/job/?offset=${deep}&before=${cursor}`, sql: "SELECT * FROM jobs WHERE seq < ? ORDER BY seq DESC LIMIT 20", args: [cursorSeq] },
    { name: `page at ?offset=${deep} alone`, path: `/api/job/?offset=${deep}`, sql: `SELECT * FROM jobs ORDER BY seq DESC LIMIT 20 OFFSET ${deep}`, args: [] },
    { name: "one job", path: `/api/job/${gen.sampleId}/`, sql: "SELECT * FROM jobs WHERE id = ?", args: [gen.sampleId] },
  ];
  for (const c of cases) {
    const f = stats(
      await concurrently(N.storeQueries, 1, async () => {
        const r = await flue.api(c.path);
        if (r.status !== 200) throw new Error(`${c.path}: ${r.status}`);
        await r.arrayBuffer();
      }),
    );
    const q = raw.query(c.sql);
    const b = stats(
      await concurrently(N.storeQueries, 1, async () => {
        q.all(...c.args);
      }),
    );
    rows.push({
      case: `store at ${N.store.toLocaleString("en")} jobs: GET ${c.name} (p50 / p99)`,
      value: `${ms(f.p50)} / ${ms(f.p99)}`,
      baseline: `the SQL alone: ${ms(b.p50)} / ${ms(b.p99)}`,
      ratio: (b.p99 / f.p99).toFixed(2),
      target: "p99 < 20 ms",
      met: f.p99 < 20,
    });
  }
  raw.close();
  await flue.stop();
  rows.push({
    case: `store: database size per job (${gen.eventsPerJob} events each)`,
    value: `${(size / N.store).toFixed(0)} B`,
    baseline: "–",
    ratio: "–",
    target: "< 2 KB",
    met: size / N.store < 2048,
  });
  dir.remove();
}

async function memory() {
  log("memory");
  const bare = await bareServer();
  await Bun.sleep(500);
  const bareRss = rss(bare.pid);
  bare.stop();
  const flue = await startFlue(["--slots", "2", "--shutdown-grace", "0"]);
  await Bun.sleep(1000);
  const idle = rss(flue.pid);
  rows.push({ case: "RSS idle", value: mb(idle), baseline: `bare Bun.serve: ${mb(bareRss)}`, ratio: (bareRss / idle).toFixed(2), target: "< 60 MB", met: idle < 60e6 });

  const sleeper = await flue.json("/api/process_definition/", { definition: { exec: "/bin/sleep", argv: ["600"] } });
  for (let i = 0; i < N.queued; i += 1000) {
    await flue.json("/api/job/", Array.from({ length: Math.min(1000, N.queued - i) }, () => ({ process_definition: sleeper.id })));
  }
  await Bun.sleep(1000);
  Bun.gc?.(true);
  const queued = rss(flue.pid);
  rows.push({ case: `RSS with ${N.queued.toLocaleString("en")} queued jobs`, value: mb(queued), baseline: `idle: ${mb(idle)}`, ratio: (idle / queued).toFixed(2), target: "< 150 MB", met: queued < 150e6 });
  await flue.stop();

  const streamer = await startFlue(["--slots", "2", "--max-output", String(N.stdoutBytes)]);
  const def = await streamer.json("/api/process_definition/", {
    definition: { exec: "/usr/bin/head", argv: ["-c", String(N.stdoutBytes), "/dev/zero"] },
  });
  const job = await streamer.json("/api/job/", { process_definition: def.id });
  let peak = 0;
  for (;;) {
    peak = Math.max(peak, rss(streamer.pid));
    const j = await streamer.json(`/api/job/${job.id}/`);
    if (j.state === "FINISHED" || j.state === "FAILED") {
      if (j.state === "FAILED") throw new Error(`the stdout job failed: ${JSON.stringify(j.messages)}`);
      break;
    }
    await Bun.sleep(20);
  }
  // Reading it back streams the file; that is where buffering would show.
  const res = await streamer.api(`/api/job/${job.id}/stdout`);
  const reader = res.body!.getReader();
  let read = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    read += value.length;
    if (read % (64 * 2 ** 20) < value.length) peak = Math.max(peak, rss(streamer.pid));
  }
  await streamer.stop();
  const size = `${(N.stdoutBytes / 2 ** 30).toFixed(N.stdoutBytes < 2 ** 30 ? 3 : 0)} GiB`;
  rows.push({ case: `RSS peak while a job writes ${size} to stdout and it is read back`, value: mb(peak), baseline: `idle: ${mb(idle)}`, ratio: (idle / peak).toFixed(2), target: "< 100 MB", met: peak < 100e6 && read === N.stdoutBytes });
}

async function firstResponse(binary: string, args: string[]): Promise<number> {
  const dir = tempDir();
  const port = 20000 + Math.floor(Math.random() * 20000);
  const t = performance.now();
  const proc = Bun.spawn({ cmd: [binary, ...args.map((a) => a.replace("PORT", String(port)).replace("DIR", dir.path))], stdout: "ignore", stderr: "ignore", env: { PATH: "/usr/bin:/bin", FLUE_ADMIN_PASSWORD: "bench" } });
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (r.status === 200) break;
    } catch {}
    await Bun.sleep(1);
  }
  const took = performance.now() - t;
  proc.kill();
  await proc.exited;
  dir.remove();
  return took;
}

async function binary() {
  log("binary");
  const dir = tempDir();
  const src = join(dir.path, "hello.ts");
  writeFileSync(src, `const port = Number(process.argv[2]); Bun.serve({ port, fetch: () => new Response("ok") });`);
  const hello = join(dir.path, "hello");
  Bun.spawnSync([process.execPath, "build", "--compile", src, "--outfile", hello], { stdout: "ignore" });
  const flueTimes: number[] = [];
  const helloTimes: number[] = [];
  for (let i = 0; i < (tiny ? 2 : 7); i++) {
    flueTimes.push(await firstResponse(BINARY, ["serve", "--port", "PORT", "--data-dir", "DIR"]));
    helloTimes.push(await firstResponse(hello, ["PORT"]));
  }
  const f = stats(flueTimes).p50;
  const b = stats(helloTimes).p50;
  const size = statSync(BINARY).size;
  rows.push({ case: "binary size", value: mb(size), baseline: `compiled hello server: ${mb(statSync(hello).size)}`, ratio: (statSync(hello).size / size).toFixed(2), target: "–", met: null });
  rows.push({ case: "exec → first HTTP 200, empty data dir (median)", value: ms(f), baseline: `compiled hello server: ${ms(b)}`, ratio: (b / f).toFixed(2), target: "< 50 ms", met: f < 50 });
  dir.remove();
}

// ---- main -----------------------------------------------------------------

const build = Bun.spawnSync([process.execPath, join(ROOT, "scripts/build.ts")], { stdout: "inherit", stderr: "inherit" });
if (build.exitCode !== 0) process.exit(1);
const began = Date.now();
const only = process.argv.find((a) => a.startsWith("--only="))?.slice(7).split(",");
const cases = { throughput, submit: submitLatency, dispatch: dispatchLatency, store: storeScale, memory, binary };
for (const [name, run] of Object.entries(cases)) if (!only || only.includes(name)) await run();

const m = machine();
const report = [
  `# flue benchmarks`,
  ``,
  `${new Date().toISOString().slice(0, 10)}, ${tiny ? "tiny sizes (a smoke run, not a measurement)" : "full sizes"}, ${((Date.now() - began) / 1000).toFixed(0)} s. Made by \`scripts/bench\`.`,
  ``,
  Object.entries(m).map(([k, v]) => `- ${k}: ${v}`).join("\n"),
  ``,
  table(rows),
  ``,
  `Ratio: flue's figure against the baseline measured in the same run (for latencies and memory, baseline ÷ flue), so 1.00 is the limit and lower is further from it.`,
  ``,
].join("\n");
console.log(report);
if (out) {
  mkdirSync(join(ROOT, "docs"), { recursive: true });
  writeFileSync(out, report);
  log(`wrote ${out}`);
}
