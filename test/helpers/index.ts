/**
 * Shared test helpers. Everything real: a temp data dir with a real SQLite
 * file, real processes, the compiled binary. Each helper cleans up after
 * itself when the test calls the returned `close`/`stop`.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, type AppOptions } from "../../src/app.ts";
import type { FlueEvent } from "../../src/domain/index.ts";
import { Store } from "../../src/store/index.ts";
import { loadConfig, type Config } from "../../src/config.ts";
import { createHttp } from "../../src/http/index.ts";

export const ROOT = join(import.meta.dir, "../..");
/** The compiled binary under test; FLUE_BINARY points elsewhere (a build of work in progress). */
export const BINARY = process.env.FLUE_BINARY || join(ROOT, "dist/flue");
export const ADMIN = { user: "admin", password: "test-password" };
export const basic = (user = ADMIN.user, password = ADMIN.password) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

export function tempDir(prefix = "flue-test-"): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** A store on a fresh data dir, and what removes it. */
export function tempStore(): { store: Store; remove: () => void } {
  const dir = tempDir();
  return { store: Store.open(join(dir.path, "flue.db")), remove: () => dir.remove() };
}

/** A job's event as the store takes it, now unless `fields` says when; for tests that drive the store directly. */
export const jobEvent = (type: string, id: string, fields: Record<string, unknown> = {}): FlueEvent => ({ type, id, executor: "x", timestamp: Date.now() / 1000, ...fields });

/** The seed's `tr -d x` definition, verbatim. */
export const TR_DEFINITION = {
  exec: "/usr/bin/tr",
  argv: ["-d", "x"],
  input_adapter: { input_type: "file", input_parameters: { file_type: "stream", stream_name: "STDIN" } },
  output_adapter: { output_type: "file", output_parameters: { file_type: "stream", stream_name: "STDOUT" } },
};

export interface InProcess {
  app: App;
  dataDir: string;
  /** app.request with admin Basic auth (unless `auth` is given, or null for none) and JSON bodies. */
  call: (method: string, path: string, body?: unknown, auth?: string | null) => Promise<Response>;
  /** The same, parsed: status and JSON body. */
  json: <T = any>(method: string, path: string, body?: unknown, auth?: string | null) => Promise<{ status: number; body: T; headers: Headers }>;
  close: () => Promise<void>;
}

/** A whole flue in this process, on a temp data dir, with its executor running. */
export async function inProcess(overrides: Partial<Config> = {}, options: AppOptions = {}): Promise<InProcess> {
  const dir = tempDir();
  const config = { ...loadConfig(["--data-dir", dir.path, "--kill-grace", "1s"], {}), ...overrides };
  const app = new App(config, options);
  await app.auth.ensureAdmin(ADMIN.user, ADMIN.password);
  app.start();
  const http = createHttp(app);
  const call = (method: string, path: string, body?: unknown, auth: string | null = basic()) => {
    const headers: Record<string, string> = {};
    if (auth !== null) headers.authorization = auth;
    let payload: RequestInit["body"];
    if (body instanceof FormData) payload = body;
    else if (typeof body === "string") payload = body;
    else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers["content-type"] = "application/json";
    }
    return Promise.resolve(http.request(`http://flue.test${path}`, { method, headers, body: payload }));
  };
  return {
    app,
    dataDir: dir.path,
    call,
    json: async (method, path, body, auth) => {
      const res = await call(method, path, body, auth);
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
    },
    close: async () => {
      await app.stop(2000);
      dir.remove();
    },
  };
}

export interface Binary {
  url: string;
  dataDir: string;
  proc: ReturnType<typeof Bun.spawn>;
  /** Everything the binary printed on stdout so far. */
  output: () => string;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop: () => Promise<number>;
  /** SIGKILL, as a crash would. */
  kill9: () => Promise<void>;
  /** `fetch` against the binary with admin Basic auth. */
  fetch: (path: string, init?: RequestInit) => Promise<Response>;
}

/**
 * Where a flue binary keeps its jobs' cgroups: `flue-<instance>` under its
 * own cgroup, when cgroup v2 is in use. A flue killed with -9 leaves that
 * directory for its next start to reclaim; a test that never starts it
 * again would leave it on the host for good, so kill9 removes it when
 * nothing runs in it.
 */
function cgroupDirOf(pid: number, instance: () => string | undefined): () => string | undefined {
  let base: string | undefined;
  try {
    const home = /^0::(.*)$/m.exec(readFileSync(`/proc/${pid}/cgroup`, "utf8"))?.[1];
    const mount = readFileSync("/proc/self/mountinfo", "utf8").split("\n").find((l) => l.includes(" - cgroup2 "))?.split(" ")[4];
    if (home !== undefined && mount) base = `${mount}${home === "/" ? "" : home}`;
  } catch {}
  return () => (base && instance() ? `${base}/flue-${instance()}` : undefined);
}

/** Removes a killed flue's cgroup directory, when nothing runs in it any more. */
function removeEmptyCgroup(dir: string | undefined): void {
  if (!dir || !existsSync(dir)) return;
  try {
    for (const cell of readdirSync(dir, { withFileTypes: true })) if (cell.isDirectory()) rmdirSync(`${dir}/${cell.name}`);
    rmdirSync(dir);
  } catch {} // a job's processes live on there: the next start of that flue reclaims it
}

/** What `follow(...).until` rejects with when the output ends without a match. */
export class OutputEnded extends Error {}

/**
 * A child's output as it comes: `text()` is all of it so far; `until(re, ms)`
 * resolves with the first match, or rejects when the stream ends or `ms` pass
 * first. It reads to the end, so the child never blocks on a full pipe.
 */
export function follow(stream: ReadableStream<Uint8Array>): { text: () => string; until: (re: RegExp, ms: number) => Promise<RegExpExecArray> } {
  let text = "";
  let ended = false;
  const waiters = new Set<() => void>();
  void (async () => {
    const reader = stream.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true as const }));
      if (done) break;
      text += decoder.decode(value, { stream: true });
      for (const w of waiters) w();
    }
    ended = true;
    for (const w of waiters) w();
  })();
  const until = (re: RegExp, ms: number) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const timer = setTimeout(() => settle(new Error(`nothing matching ${re} within ${ms} ms`)), ms);
      const settle = (result: RegExpExecArray | Error) => {
        clearTimeout(timer);
        waiters.delete(check);
        if (result instanceof Error) reject(result);
        else resolve(result);
      };
      const check = () => {
        const m = re.exec(text);
        if (m) settle(m);
        else if (ended) settle(new OutputEnded("the output ended"));
      };
      waiters.add(check);
      check();
    });
  return { text: () => text, until };
}

/**
 * Starts the compiled binary on a free port. `dataDir` reuses a data dir
 * (for restart tests); `cwd` runs it from another directory.
 */
export async function startBinary(opts: { dataDir?: string; args?: string[]; env?: Record<string, string>; cwd?: string; binary?: string } = {}): Promise<Binary> {
  const owned = opts.dataDir === undefined ? tempDir() : undefined;
  const dataDir = opts.dataDir ?? owned!.path;
  const proc = Bun.spawn({
    cmd: [opts.binary ?? BINARY, "serve", "--port", "0", "--data-dir", dataDir, "--kill-grace", "1s", ...(opts.args ?? [])],
    cwd: opts.cwd ?? dataDir,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", FLUE_ADMIN_USER: ADMIN.user, FLUE_ADMIN_PASSWORD: ADMIN.password, ...opts.env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const out = follow(proc.stdout);
  let url: string;
  try {
    url = (await out.until(/listening on (https?:\/\/\S+)/, 15_000))[1];
  } catch (e) {
    if (!(e instanceof OutputEnded)) throw new Error(`flue did not start: ${out.text()}`);
    throw new Error(`flue exited before listening: ${out.text()}${await new Response(proc.stderr).text()}`);
  }
  const cgroupDir = cgroupDirOf(proc.pid, () => /instance: (\w+)/.exec(out.text())?.[1]);
  return {
    url,
    dataDir,
    proc,
    output: out.text,
    /** Stops the binary; a data dir this helper made is removed with it. */
    stop: async () => {
      proc.kill("SIGTERM");
      const code = await proc.exited;
      owned?.remove();
      return code;
    },
    kill9: async () => {
      proc.kill("SIGKILL");
      await proc.exited;
      removeEmptyCgroup(cgroupDir());
    },
    fetch: (path, init = {}) => {
      const headers = new Headers(init.headers);
      if (!headers.has("authorization")) headers.set("authorization", basic());
      return fetch(`${url}${path}`, { ...init, headers });
    },
  };
}

/** A loopback TCP port nothing listens on right now (a server is opened on port 0 and closed at once). */
export function freePort(): number {
  const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = probe.port!;
  void probe.stop(true);
  return port;
}

/** Polls `check` until it returns a truthy value or `ms` pass. */
export async function eventually<T>(check: () => T | Promise<T>, ms = 10_000, every = 25): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms${last ? `: ${last}` : ""}`);
    await Bun.sleep(every);
  }
}

/** The events of a job that runs once and finishes, in order, as the executor seed lists them. */
export const FINISHED_JOB_EVENTS = [
  "created",
  "queued",
  "started",
  "stage-in.started",
  "stage-in.finished",
  "execution.started",
  "execution.finished",
  "stage-out.started",
  "stage-out.finished",
  "finished",
];
