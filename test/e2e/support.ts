/**
 * What the end-to-end suites share: curl run as a real process, job polling
 * over the binary's API, and finding (and killing, by pid) the processes a
 * test started by a marker that appears in each one's command line.
 */
import { readdirSync, readFileSync } from "node:fs";
import { ADMIN, eventually, type Binary } from "../helpers/index.ts";

export const USERPASS = `${ADMIN.user}:${ADMIN.password}`;

export interface CurlResult {
  code: number;
  stdout: string;
  bytes: Uint8Array;
  stderr: string;
}

/** Runs `curl` with exactly these arguments (an argv array, no shell). */
export async function curl(...args: string[]): Promise<CurlResult> {
  const proc = Bun.spawn({ cmd: ["curl", ...args], stdout: "pipe", stderr: "pipe" });
  const [bytes, stderr, code] = await Promise.all([
    new Response(proc.stdout).bytes(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, bytes, stdout: new TextDecoder().decode(bytes), stderr };
}

/** curl that must succeed and print JSON. */
export async function curlJson<T = any>(...args: string[]): Promise<T> {
  const r = await curl("-sS", ...args);
  if (r.code !== 0) throw new Error(`curl ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** A number-like marker no other process on the machine has in its command line. */
export function uniqueSeconds(whole = 300): string {
  return `${whole}.${String(Math.floor(Math.random() * 1e9)).padStart(9, "1")}`;
}

/** Pids of live (not zombie) processes whose command line contains `marker`. */
export function pidsWith(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      // A zombie has an empty command line; it is dead already.
      if (cmdline.includes(marker)) pids.push(Number(entry));
    } catch {}
  }
  return pids;
}

/** Kills, one pid at a time, whatever a test left running under `marker`. */
export function killMarked(marker: string): void {
  for (const pid of pidsWith(marker)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
}

export async function defineOn(b: Binary, definition: Record<string, unknown>): Promise<number> {
  const res = await b.fetch("/api/process_definition/", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ definition }),
  });
  if (res.status !== 201) throw new Error(`definition refused: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: number }).id;
}

export async function submit(b: Binary, definition: number, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await b.fetch("/api/job/", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ process_definition: definition, ...extra }),
  });
  if (res.status !== 201) throw new Error(`job refused: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

export interface JobView {
  id: string;
  state: string;
  attempts: number;
  exit_status: number | null;
  started_at: string | null;
  messages: { level: string; text: string }[];
  outputs: Record<string, { size: number; file_name: string }>;
  metrics: { wall: number; user: number; system: number; max_rss: number | null } | null;
}

export async function job(b: Binary, id: string, wait?: number): Promise<JobView> {
  const res = await b.fetch(`/api/job/${id}/${wait === undefined ? "" : `?wait=${wait}`}`);
  if (res.status !== 200) throw new Error(`GET job ${id}: ${res.status} ${await res.text()}`);
  return (await res.json()) as JobView;
}

/** Polls a job until `ok` holds for it; returns it. */
export async function jobWhere(b: Binary, id: string, ok: (j: JobView) => boolean, ms = 10_000): Promise<JobView> {
  let last: JobView | undefined;
  await eventually(async () => ok((last = await job(b, id))), ms);
  return last!;
}

export const jobIn = (b: Binary, id: string, state: string, ms?: number) => jobWhere(b, id, (j) => j.state === state, ms);

export const texts = (j: JobView) => j.messages.map((m) => m.text).join("\n");

export async function post(b: Binary, path: string): Promise<Response> {
  return b.fetch(path, { method: "POST" });
}

/**
 * Sends a GET on its own connection and resolves once the request is written,
 * so a later request's round trip proves the server has read it. The answer
 * is the whole raw response, read until the server closes.
 */
export async function rawGet(url: string, path: string, authorization: string): Promise<{ answer: Promise<string> }> {
  const { hostname, port } = new URL(url);
  let text = "";
  const { promise: answer, resolve } = Promise.withResolvers<string>();
  const socket = await Bun.connect({
    hostname,
    port: Number(port),
    socket: {
      data: (_s, chunk) => void (text += chunk.toString()),
      close: () => resolve(text),
      error: () => resolve(text),
    },
  });
  socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAuthorization: ${authorization}\r\nConnection: close\r\n\r\n`);
  socket.flush();
  // Wrapped: an async function returning a bare promise would wait for it.
  return { answer };
}
