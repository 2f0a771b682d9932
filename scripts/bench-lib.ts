/**
 * Helpers for scripts/bench.ts: the binary under test, percentiles, the
 * machine, and the table.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";

export const ROOT = join(import.meta.dir, "..");
/** The binary measured: scripts/bench builds dist/flue, unless FLUE_BINARY names another build (to compare two). */
export const BINARY = process.env.FLUE_BINARY ?? join(ROOT, "dist/flue");
const AUTH = `Basic ${Buffer.from("admin:bench").toString("base64")}`;

export interface Row {
  case: string;
  value: string;
  baseline: string;
  /** flue's figure over the baseline's, in the direction where higher is better for flue. */
  ratio: string;
  target: string;
  met: boolean | null;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export function stats(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p99: percentile(s, 99), n: s.length };
}

export const ms = (x: number) => `${x.toFixed(2)} ms`;
export const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

/**
 * Polls `check` until it returns a value other than undefined; past `ms`
 * throws with `what` and the last `status` it gave, so a case that stalls
 * fails loudly instead of hanging the run.
 */
export async function until<T>(what: string, ms: number, check: () => Promise<T | undefined>, status: () => Promise<string> | string = () => ""): Promise<T> {
  const deadline = performance.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (performance.now() > deadline) throw new Error(`bench: ${what} did not happen within ${ms / 1000} s ${await status()}`);
    await Bun.sleep(5);
  }
}

export function tempDir(): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), "flue-bench-"));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export function rss(pid: number): number {
  const m = /VmRSS:\s*(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : NaN;
}

export interface Flue {
  url: string;
  pid: number;
  dataDir: string;
  api: (path: string, init?: RequestInit) => Promise<Response>;
  json: (path: string, body?: unknown, method?: string) => Promise<any>;
  stop: () => Promise<void>;
}

/** Starts the compiled binary on a free port. */
export async function startFlue(args: string[] = [], dataDir?: string): Promise<Flue> {
  const dir = dataDir ?? tempDir().path;
  const proc = Bun.spawn({
    cmd: [BINARY, "serve", "--port", "0", "--data-dir", dir, ...args],
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", FLUE_ADMIN_PASSWORD: "bench" },
    stdout: "pipe",
    stderr: "inherit",
  });
  const reader = proc.stdout.getReader();
  let out = "";
  let url: string | undefined;
  while (!url) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`flue exited: ${out}`);
    out += new TextDecoder().decode(value);
    url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
  }
  void (async () => {
    while (!(await reader.read()).done);
  })();
  const api = (path: string, init: RequestInit = {}) =>
    fetch(url + path, { ...init, headers: { authorization: AUTH, "content-type": "application/json", ...(init.headers as object) } });
  return {
    url,
    pid: proc.pid,
    dataDir: dir,
    api,
    json: async (path, body, method) => {
      const res = await api(path, { method: method ?? (body === undefined ? "GET" : "POST"), body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await res.text();
      if (res.status >= 400) throw new Error(`${path}: ${res.status} ${text}`);
      return text ? JSON.parse(text) : null;
    },
    stop: async () => {
      proc.kill("SIGTERM");
      await proc.exited;
      if (!dataDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function machine(): Record<string, string> {
  const sqlite = Bun.spawnSync(["sh", "-c", "command -v sqlite3 >/dev/null && sqlite3 --version | cut -d' ' -f1 || echo bundled"]).stdout.toString().trim();
  return {
    machine: `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`,
    kernel: readFileSync("/proc/sys/kernel/osrelease", "utf8").trim(),
    bun: Bun.version,
    flue: JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version,
    sqlite,
  };
}

export function table(rows: Row[]): string {
  const head = "| case | flue | baseline (same run) | ratio | target | met |\n| --- | --- | --- | --- | --- | --- |";
  const body = rows
    .map((r) => `| ${r.case} | ${r.value} | ${r.baseline} | ${r.ratio} | ${r.target} | ${r.met === null ? "–" : r.met ? "yes" : "**no**"} |`)
    .join("\n");
  return `${head}\n${body}`;
}

/** Runs `fn` with `clients` concurrent loops until `total` calls are done; returns each call's latency in ms. */
export async function concurrently(total: number, clients: number, fn: (i: number) => Promise<void>): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < total) {
        const i = next++;
        const t = performance.now();
        await fn(i);
        latencies.push(performance.now() - t);
      }
    }),
  );
  return latencies;
}

/** What every case reads and adds to. */
export interface Bench {
  tiny: boolean;
  N: {
    throughput: number;
    submit: number;
    dispatch: number;
    store: number;
    storeQueries: number;
    queued: number;
    stdoutBytes: number;
  };
  rows: Row[];
  log: (s: string) => void;
}

export async function bareServer(): Promise<{ url: string; pid: number; stop: () => void }> {
  const code = `const s = Bun.serve({ port: 0, async fetch(r) { if (r.method === "POST") { const b = await r.json(); return Response.json({ id: 1, ...b }, { status: 201 }); } return new Response("ok"); } }); console.log("http://127.0.0.1:" + s.port);`;
  const proc = Bun.spawn({ cmd: [process.execPath, "-e", code], stdout: "pipe", stderr: "inherit" });
  const reader = proc.stdout.getReader();
  const { value } = await reader.read();
  return { url: new TextDecoder().decode(value).trim(), pid: proc.pid, stop: () => proc.kill() };
}
