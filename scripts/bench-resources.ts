/**
 * The resource cases of scripts/bench: the store at scale, memory, the
 * binary's size and start-up, each beside a baseline measured in the same run.
 */
import { Database } from "bun:sqlite";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, bareServer, concurrently, mb, ms, rss, startFlue, stats, tempDir, until, type Bench, type Flue } from "./bench-lib.ts";
import { generateJobs } from "./bench-store.ts";

export async function storeScale(bench: Bench) {
  const dir = tempDir();
  bench.log(`store: generating ${bench.N.store} finished jobs`);
  const gen = generateJobs(dir.path, bench.N.store);
  bench.log(`store: generated in ${(gen.seconds).toFixed(1)} s`);
  const size = ["flue.db", "flue.db-wal"].reduce((s, f) => {
    try {
      return s + statSync(join(dir.path, f)).size;
    } catch {
      return s;
    }
  }, 0);
  const flue = await startFlue(["--slots", "2"], dir.path);
  const raw = new Database(join(dir.path, "flue.db"), { readonly: true });
  const deep = Math.floor(bench.N.store * 0.9);
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
      await concurrently(bench.N.storeQueries, 1, async () => {
        const r = await flue.api(c.path);
        if (r.status !== 200) throw new Error(`${c.path}: ${r.status}`);
        await r.arrayBuffer();
      }),
    );
    const q = raw.query(c.sql);
    const b = stats(
      await concurrently(bench.N.storeQueries, 1, async () => {
        q.all(...c.args);
      }),
    );
    bench.rows.push({
      case: `store at ${bench.N.store.toLocaleString("en")} jobs: GET ${c.name} (p50 / p99)`,
      value: `${ms(f.p50)} / ${ms(f.p99)}`,
      baseline: `the SQL alone: ${ms(b.p50)} / ${ms(b.p99)}`,
      ratio: (b.p99 / f.p99).toFixed(2),
      target: "p99 < 20 ms",
      met: f.p99 < 20,
    });
  }
  await uiPages(bench, flue, gen, deep, cursor);
  raw.close();
  await flue.stop();
  bench.rows.push({
    case: `store: database size per job (${gen.eventsPerJob} events each)`,
    value: `${(size / bench.N.store).toFixed(0)} B`,
    baseline: "–",
    ratio: "–",
    target: "< 2 KB",
    met: size / bench.N.store < 2048,
  });
  dir.remove();
}

export async function memory(bench: Bench) {
  bench.log("memory");
  const bare = await bareServer();
  await Bun.sleep(500);
  const bareRss = rss(bare.pid);
  bare.stop();
  const flue = await startFlue(["--slots", "2", "--shutdown-grace", "0"]);
  await Bun.sleep(1000);
  const idle = rss(flue.pid);
  bench.rows.push({ case: "RSS idle", value: mb(idle), baseline: `bare Bun.serve: ${mb(bareRss)}`, ratio: (bareRss / idle).toFixed(2), target: "< 60 MB", met: idle < 60e6 });

  const sleeper = await flue.json("/api/process_definition/", { definition: { exec: "/bin/sleep", argv: ["600"] } });
  for (let i = 0; i < bench.N.queued; i += 1000) {
    await flue.json("/api/job/", Array.from({ length: Math.min(1000, bench.N.queued - i) }, () => ({ process_definition: sleeper.id })));
  }
  await Bun.sleep(1000);
  Bun.gc?.(true);
  const queued = rss(flue.pid);
  bench.rows.push({ case: `RSS with ${bench.N.queued.toLocaleString("en")} queued jobs`, value: mb(queued), baseline: `idle: ${mb(idle)}`, ratio: (idle / queued).toFixed(2), target: "< 150 MB", met: queued < 150e6 });
  await flue.stop();

  const streamer = await startFlue(["--slots", "2", "--max-output", String(bench.N.stdoutBytes)]);
  const def = await streamer.json("/api/process_definition/", {
    definition: { exec: "/usr/bin/head", argv: ["-c", String(bench.N.stdoutBytes), "/dev/zero"] },
  });
  const job = await streamer.json("/api/job/", { process_definition: def.id });
  let peak = 0;
  const ended = await until("the stdout job ending", 120_000, async () => {
    peak = Math.max(peak, rss(streamer.pid));
    const j = await streamer.json(`/api/job/${job.id}/`);
    return j.state === "FINISHED" || j.state === "FAILED" ? j : undefined;
  });
  if (ended.state === "FAILED") throw new Error(`the stdout job failed: ${JSON.stringify(ended.messages)}`);
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
  const size = `${(bench.N.stdoutBytes / 2 ** 30).toFixed(bench.N.stdoutBytes < 2 ** 30 ? 3 : 0)} GiB`;
  bench.rows.push({ case: `RSS peak while a job writes ${size} to stdout and it is read back`, value: mb(peak), baseline: `idle: ${mb(idle)}`, ratio: (idle / peak).toFixed(2), target: "< 100 MB", met: peak < 100e6 && read === bench.N.stdoutBytes });
}

/** Milliseconds from exec to the first 200; a random port that turns out taken is tried again with another. */
async function firstResponse(binary: string, args: string[]): Promise<number> {
  for (let tries = 0; ; tries++) {
    const dir = tempDir();
    const port = 20000 + Math.floor(Math.random() * 20000);
    const t = performance.now();
    const proc = Bun.spawn({ cmd: [binary, ...args.map((a) => a.replace("PORT", String(port)).replace("DIR", dir.path))], stdout: "ignore", stderr: "ignore", env: { PATH: "/usr/bin:/bin", FLUE_ADMIN_PASSWORD: "bench" } });
    let took: number | undefined;
    while (took === undefined && proc.exitCode === null && performance.now() - t < 10_000) {
      try {
        if ((await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200) took = performance.now() - t;
      } catch {}
      if (took === undefined) await Bun.sleep(1);
    }
    proc.kill();
    await proc.exited;
    dir.remove();
    if (took !== undefined) return took;
    if (tries === 3) throw new Error(`bench: ${binary} never answered on a free port`);
  }
}

export async function binary(bench: Bench) {
  bench.log("binary");
  const dir = tempDir();
  const src = join(dir.path, "hello.ts");
  writeFileSync(src, `const port = Number(process.argv[2]); Bun.serve({ port, fetch: () => new Response("ok") });`);
  const hello = join(dir.path, "hello");
  Bun.spawnSync([process.execPath, "build", "--compile", src, "--outfile", hello], { stdout: "ignore" });
  const flueTimes: number[] = [];
  const helloTimes: number[] = [];
  for (let i = 0; i < (bench.tiny ? 2 : 7); i++) {
    flueTimes.push(await firstResponse(BINARY, ["serve", "--port", "PORT", "--data-dir", "DIR"]));
    helloTimes.push(await firstResponse(hello, ["PORT"]));
  }
  const f = stats(flueTimes).p50;
  const b = stats(helloTimes).p50;
  const size = statSync(BINARY).size;
  bench.rows.push({ case: "binary size", value: mb(size), baseline: `compiled hello server: ${mb(statSync(hello).size)}`, ratio: (statSync(hello).size / size).toFixed(2), target: "–", met: null });
  bench.rows.push({ case: "exec → first HTTP 200, empty data dir (median)", value: ms(f), baseline: `compiled hello server: ${ms(b)}`, ratio: (b / f).toFixed(2), target: "< 50 ms", met: f < 50 });
  dir.remove();
}

/** The admin UI's pages at the same million jobs, rendered server-side for a signed-in admin. */
async function uiPages(bench: Bench, flue: Flue, gen: { definitionId: number; sampleId: string }, deep: number, cursor: string) {
  const signIn = await fetch(`${flue.url}/login`, { method: "POST", body: new URLSearchParams({ username: "admin", password: "bench" }), redirect: "manual" });
  const cookie = signIn.headers.get("set-cookie")?.split(";")[0];
  if (signIn.status !== 303 || !cookie) throw new Error(`sign-in to the UI failed: ${signIn.status}`);
  const pages = [
    ["dashboard", "/"],
    ["jobs, first page", "/jobs"],
    ["jobs, filtered (state=FAILED, definition)", `/jobs?state=FAILED&definition=${gen.definitionId}`],
    [`jobs, page ${deep / 50 + 1} by its Next link`, `/jobs?offset=${deep}&before=${cursor}`],
    ["one job", `/jobs/${gen.sampleId}`],
    ["definitions", "/definitions"],
    ["audit", "/audit"],
  ];
  for (const [name, path] of pages) {
    const f = stats(
      await concurrently(bench.N.storeQueries, 1, async () => {
        const r = await fetch(flue.url + path, { headers: { cookie }, redirect: "manual" });
        if (r.status !== 200) throw new Error(`${path}: ${r.status}`);
        await r.arrayBuffer();
      }),
    );
    bench.rows.push({
      case: `UI at ${bench.N.store.toLocaleString("en")} jobs: ${name} (p50 / p99)`,
      value: `${ms(f.p50)} / ${ms(f.p99)}`,
      baseline: "–",
      ratio: "–",
      target: "p50 < 5 ms, p99 < 20 ms",
      met: f.p50 < 5 && f.p99 < 20,
    });
  }
}
