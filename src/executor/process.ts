/**
 * Running one process: argv array (never a shell), its own session and
 * process group, stdio straight to files (no bytes pass through flue),
 * timeout as SIGTERM then SIGKILL after a grace, cancel the same way, the
 * whole group killed when it ends, an output cap, and rusage metrics.
 */
import { closeSync, fstatSync, openSync, readFileSync } from "node:fs";
import { constants } from "node:os";

export interface RunSpec {
  cmd: string[];
  cwd: string;
  env: Record<string, string>;
  /** File fed on stdin, or null for /dev/null. */
  stdin: string | null;
  stdout: string;
  stderr: string;
  /** Seconds, or null for none. */
  timeout: number | null;
  /** Milliseconds between SIGTERM and SIGKILL. */
  killGraceMs: number;
  /** Bytes stdout and stderr may each reach before the process is stopped. */
  maxOutputBytes: number;
  signal?: AbortSignal;
  /** Called once the process exists, with what recovery needs to find it again. */
  onSpawn?: (pid: number, pidStart: string | null) => void;
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

/** The start time of a process in clock ticks since boot, to tell it apart from a later one with the same pid. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses; fields after it are plain.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

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
 * Kills the process group an earlier flue left running, if its leader is
 * still the process that was started (same pid and start time).
 */
export function killOrphan(pid: number, pidStart: string | null): boolean {
  const start = processStartTime(pid);
  // A live process with that pid but another start time is not ours.
  if (start !== null && pidStart !== null && start !== pidStart) return false;
  // Otherwise kill the group, even if its leader is gone: its children may not be.
  return signalGroup(pid, "SIGKILL");
}

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

export async function runProcess(spec: RunSpec): Promise<RunResult> {
  const began = performance.now();
  const fds: number[] = [];
  const open = (path: string, flags: string) => {
    const fd = openSync(path, flags, 0o600);
    fds.push(fd);
    return fd;
  };
  let proc: ReturnType<typeof Bun.spawn>;
  let outFd: number;
  let errFd: number;
  try {
    const inFd = spec.stdin === null ? "ignore" : open(spec.stdin, "r");
    outFd = open(spec.stdout, "w");
    errFd = open(spec.stderr, "w");
    proc = Bun.spawn({
      cmd: spec.cmd,
      cwd: spec.cwd,
      env: spec.env,
      stdin: inFd,
      stdout: outFd,
      stderr: errFd,
      detached: true,
    });
  } catch (e) {
    for (const fd of fds) closeSync(fd);
    const err = e as NodeJS.ErrnoException;
    const message =
      err.code === "ENOENT"
        ? `cannot start ${spec.cmd[0]}: no such file or directory`
        : err.code === "EACCES"
          ? `cannot start ${spec.cmd[0]}: permission denied`
          : `cannot start ${spec.cmd[0]}: ${err.message}`;
    return { outcome: "spawn-error", exitStatus: null, signal: null, message, metrics: zeroMetrics((performance.now() - began) / 1000), stdoutBytes: 0, stderrBytes: 0 };
  }
  const pid = proc.pid;
  spec.onSpawn?.(pid, processStartTime(pid));

  let outcome: Outcome | undefined;
  let message: string | undefined;
  let killTimer: Timer | undefined;
  const stop = (why: Outcome, text: string) => {
    if (outcome !== undefined) return;
    outcome = why;
    message = text;
    signalGroup(pid, "SIGTERM");
    killTimer = setTimeout(() => signalGroup(pid, "SIGKILL"), spec.killGraceMs);
  };
  const timeoutTimer =
    spec.timeout === null
      ? undefined
      : setTimeout(() => stop("timeout", `timed out after ${spec.timeout} s`), spec.timeout * 1000);
  const onAbort = () => stop("cancelled", String(spec.signal?.reason ?? "cancelled"));
  if (spec.signal?.aborted) onAbort();
  spec.signal?.addEventListener("abort", onAbort);
  let maxRss: number | null = null;
  const sizeTimer = setInterval(() => {
    const rss = peakRss(pid);
    if (rss !== null && (maxRss === null || rss > maxRss)) maxRss = rss;
    for (const [fd, name] of [[outFd, "stdout"], [errFd, "stderr"]] as const) {
      if (fstatSync(fd).size > spec.maxOutputBytes) {
        stop("output-limit", `${name} exceeded the limit of ${spec.maxOutputBytes} bytes`);
        // A process that ignores SIGTERM while filling the disk gets no grace.
        signalGroup(pid, "SIGKILL");
      }
    }
  }, 250);

  const exitCode = await proc.exited;
  // Whatever the leader left behind in its group goes with it.
  signalGroup(pid, "SIGKILL");
  clearTimeout(timeoutTimer);
  clearTimeout(killTimer);
  clearInterval(sizeTimer);
  spec.signal?.removeEventListener("abort", onAbort);
  const stdoutBytes = fstatSync(outFd).size;
  const stderrBytes = fstatSync(errFd).size;
  for (const fd of fds) closeSync(fd);

  const usage = proc.resourceUsage();
  const metrics: Metrics = {
    wall: (performance.now() - began) / 1000,
    user: usage ? Number(usage.cpuTime.user) / 1e6 : 0,
    system: usage ? Number(usage.cpuTime.system) / 1e6 : 0,
    max_rss: maxRss,
  };
  const signalCode = proc.signalCode ?? null;
  const signal = signalCode === null ? null : typeof signalCode === "number" ? (SIGNAL_NAMES.get(signalCode) ?? String(signalCode)) : signalCode;
  if (outcome === undefined) {
    outcome = signal === null ? "exited" : "signaled";
    if (signal !== null) message = `killed by ${signal}`;
  }
  return { outcome, exitStatus: signal === null ? exitCode : null, signal, message, metrics, stdoutBytes, stderrBytes };
}
