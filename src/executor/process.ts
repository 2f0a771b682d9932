/**
 * Running one process: argv array (never a shell), its own session and
 * process group, stdio straight to files (no bytes pass through flue),
 * timeout as SIGTERM then SIGKILL after a grace, cancel the same way, the
 * whole group killed when it ends, an output cap, and rusage metrics.
 */
import { closeSync, openSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, open, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { constants } from "node:os";
import { processGroupOnly, type Cell, type Containment } from "./containment.ts";

export interface RunSpec {
  cmd: string[];
  cwd: string;
  env: Record<string, string>;
  /** File fed on stdin, or null for /dev/null. */
  stdin: string | null;
  /** Files for stdout and stderr, made (with their directory) when the first byte arrives. */
  stdout: string;
  stderr: string;
  /** Seconds, or null for none. */
  timeout: number | null;
  /** Milliseconds between SIGTERM and SIGKILL. */
  killGraceMs: number;
  /** Bytes stdout and stderr may each reach before the process is stopped. */
  maxOutputBytes: number;
  signal?: AbortSignal;
  /** What holds the process and its descendants; process groups alone when not given. */
  containment?: Containment;
  /** The cell's name, unique among the attempts running (job id and attempt). */
  cellName?: string;
  /** Whom the process runs as; flue's own user when not given. */
  user?: { uid: number; gid: number };
  /** Called once the process exists. */
  onSpawn?: (pid: number) => void;
}

export type Outcome = "exited" | "signaled" | "timeout" | "cancelled" | "output-limit" | "spawn-error";

export interface Metrics {
  /** Seconds. */
  wall: number;
  user: number;
  system: number;
  /**
   * Bytes: the leader's peak resident set, sampled from /proc while it runs;
   * null when it ended before the first sample. (The kernel's rusage figure
   * would count the memory of flue itself, which the child was forked from.)
   */
  max_rss: number | null;
}

export interface RunResult {
  outcome: Outcome;
  exitStatus: number | null;
  signal: string | null;
  /** Why, in words, when the outcome is not a plain exit. */
  message?: string;
  metrics: Metrics;
  stdoutBytes: number;
  stderrBytes: number;
}

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, n]) => [n, name]));

/** Signals a whole process group; false when none of it is left. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * The processes an earlier flue left running for these jobs, found by the
 * FLUE_JOB_ID and FLUE_JOB_WORKDIR every job's process and its descendants
 * inherit: a pid alone could have been reused, and a child that left its
 * process group (setsid, a daemon) is found all the same. Killed with their
 * process groups. Returns how many processes were found per job.
 */
export function killLeftovers(jobIds: ReadonlySet<string>, workRoot: string): Map<string, number> {
  const found = new Map<string, number>();
  if (jobIds.size === 0) return found;
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  } catch {
    return found;
  }
  const marker = `FLUE_JOB_WORKDIR=${workRoot}/`;
  for (const pid of pids) {
    let environ: string;
    try {
      environ = readFileSync(`/proc/${pid}/environ`, "latin1");
    } catch {
      continue; // gone, or not ours to read
    }
    if (!environ.includes(marker)) continue;
    const id = /(?:^|\0)FLUE_JOB_ID=([^\0]*)/.exec(environ)?.[1];
    if (id === undefined || !jobIds.has(id)) continue;
    signalGroup(Number(pid), "SIGKILL");
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {}
    found.set(id, (found.get(id) ?? 0) + 1);
  }
  return found;
}

const groupOnly = processGroupOnly();
let unnamed = 0;

const zeroMetrics = (wall: number): Metrics => ({ wall, user: 0, system: 0, max_rss: null });

/** The peak RSS (VmHWM) of a live process in bytes, or null. */
export function peakRss(pid: number): number | null {
  try {
    const m = /VmHWM:\s*(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Live processes whose peak RSS is sampled, by one timer for all of them. */
const sampled = new Map<number, { max: number | null }>();
let sampler: Timer | undefined;

function sample(pid: number): { max: number | null } {
  const entry = { max: null as number | null };
  sampled.set(pid, entry);
  sampler ??= setInterval(() => {
    for (const [p, e] of sampled) {
      const rss = peakRss(p);
      if (rss !== null && (e.max === null || rss > e.max)) e.max = rss;
    }
  }, 250);
  return entry;
}

function unsample(pid: number): void {
  sampled.delete(pid);
  if (sampled.size === 0 && sampler) {
    clearInterval(sampler);
    sampler = undefined;
  }
}

/**
 * Copies a process's output stream into a file made when the first byte
 * arrives (a silent process costs no file), up to `cap` bytes; past that it
 * reads and discards, and calls `onOver` once. Writes are awaited, so a fast
 * writer is held back by the pipe rather than buffered in flue's memory.
 */
function drain(stream: ReadableStream<Uint8Array>, path: string, cap: number, onOver: () => void) {
  const reader = stream.getReader();
  const done = (async () => {
    let handle: FileHandle | undefined;
    let bytes = 0;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (bytes >= cap) continue;
        handle ??= await openMakingDir(path);
        const room = cap - bytes;
        const part = value.length > room ? value.subarray(0, room) : value;
        for (let off = 0; off < part.length; ) off += (await handle.write(part, off)).bytesWritten;
        bytes += part.length;
        if (value.length > room) onOver();
      }
    } catch {
      // The stream was cancelled: what was written stays.
    } finally {
      await handle?.close();
    }
    return bytes;
  })();
  return { done, cancel: () => reader.cancel().catch(() => {}) };
}

/** Opens a file for writing, making its directory first if it is not there yet. */
async function openMakingDir(path: string): Promise<FileHandle> {
  try {
    return await open(path, "w", 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    return open(path, "w", 0o600);
  }
}

/** How long output may still arrive after the process group is gone (a detached daemon may hold the pipe). */
const DRAIN_GRACE_MS = 2000;

export async function runProcess(spec: RunSpec): Promise<RunResult> {
  const began = performance.now();
  let proc: Bun.Subprocess<number | "ignore", "pipe", "pipe">;
  let cell: Cell;
  let inFd: number | undefined;
  try {
    if (spec.stdin !== null) inFd = openSync(spec.stdin, "r");
    ({ value: proc, cell } = (spec.containment ?? groupOnly).spawnIn(spec.cellName ?? `run-${++unnamed}`, () =>
      Bun.spawn({
        cmd: spec.cmd,
        cwd: spec.cwd,
        env: spec.env,
        stdio: [inFd ?? "ignore", "pipe", "pipe"],
        detached: true,
        ...spec.user,
      }),
    ));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const message =
      err.code === "ENOENT"
        ? `cannot start ${spec.cmd[0]}: no such file or directory`
        : err.code === "EACCES"
          ? `cannot start ${spec.cmd[0]}: permission denied`
          : `cannot start ${spec.cmd[0]}: ${err.message}`;
    return { outcome: "spawn-error", exitStatus: null, signal: null, message, metrics: zeroMetrics((performance.now() - began) / 1000), stdoutBytes: 0, stderrBytes: 0 };
  } finally {
    if (inFd !== undefined) closeSync(inFd);
  }
  const pid = proc.pid;
  spec.onSpawn?.(pid);
  const rss = sample(pid);

  let outcome: Outcome | undefined;
  let message: string | undefined;
  let killTimer: Timer | undefined;
  const stop = (why: Outcome, text: string) => {
    if (outcome !== undefined) return;
    outcome = why;
    message = text;
    signalGroup(pid, "SIGTERM");
    killTimer = setTimeout(() => {
      signalGroup(pid, "SIGKILL");
      cell.kill();
    }, spec.killGraceMs);
  };
  const overLimit = (name: string) => () => {
    stop("output-limit", `${name} exceeded the limit of ${spec.maxOutputBytes} bytes`);
    // A process that ignores SIGTERM while filling the disk gets no grace.
    signalGroup(pid, "SIGKILL");
    cell.kill();
  };
  const out = drain(proc.stdout, spec.stdout, spec.maxOutputBytes, overLimit("stdout"));
  const err = drain(proc.stderr, spec.stderr, spec.maxOutputBytes, overLimit("stderr"));
  const timeoutTimer =
    spec.timeout === null
      ? undefined
      : setTimeout(() => stop("timeout", `timed out after ${spec.timeout} s`), spec.timeout * 1000);
  const onAbort = () => stop("cancelled", String(spec.signal?.reason ?? "cancelled"));
  if (spec.signal?.aborted) onAbort();
  spec.signal?.addEventListener("abort", onAbort);

  const exitCode = await proc.exited;
  // Whatever the leader left behind in its group goes with it.
  signalGroup(pid, "SIGKILL");
  await cell.destroy();
  clearTimeout(timeoutTimer);
  clearTimeout(killTimer);
  spec.signal?.removeEventListener("abort", onAbort);
  unsample(pid);
  const grace = setTimeout(() => {
    out.cancel();
    err.cancel();
  }, DRAIN_GRACE_MS);
  const [stdoutBytes, stderrBytes] = await Promise.all([out.done, err.done]);
  clearTimeout(grace);

  const usage = proc.resourceUsage();
  const metrics: Metrics = {
    wall: (performance.now() - began) / 1000,
    user: usage ? Number(usage.cpuTime.user) / 1e6 : 0,
    system: usage ? Number(usage.cpuTime.system) / 1e6 : 0,
    max_rss: rss.max,
  };
  const signalCode = proc.signalCode ?? null;
  const signal = signalCode === null ? null : typeof signalCode === "number" ? (SIGNAL_NAMES.get(signalCode) ?? String(signalCode)) : signalCode;
  if (outcome === undefined) {
    outcome = signal === null ? "exited" : "signaled";
    if (signal !== null) message = `killed by ${signal}`;
  }
  return { outcome, exitStatus: signal === null ? exitCode : null, signal, message, metrics, stdoutBytes, stderrBytes };
}
