/**
 * A definition's resource limits at run time. The kernel enforces them:
 * flue puts /usr/bin/prlimit in front of the command, which sets them on
 * itself and execs the program (same pid, so the process group, the cgroup
 * and the RSS sampling are the program's). Only when a limit is set: a job
 * without limits starts exactly as before, with no extra exec.
 *
 * Limits are per process (RLIMIT_AS, RLIMIT_CPU, RLIMIT_NOFILE), except
 * RLIMIT_NPROC, which the kernel counts per uid: jobs running at once as
 * one user share it, and it does not hold for root.
 */
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { formatSize, type Limits } from "../domain/index.ts";
import type { RunResult } from "./process.ts";

export const PRLIMIT = "/usr/bin/prlimit";

/** `cmd` with prlimit in front when any kernel limit is set; `cmd` itself when none is. */
export function withLimits(cmd: string[], l: Limits): string[] {
  const args: string[] = [];
  if (l.memory !== undefined) args.push(`--as=${l.memory}`);
  // A second between SIGXCPU (soft) and SIGKILL (hard), so the signal says why.
  if (l.cpuTime !== undefined) args.push(`--cpu=${l.cpuTime}:${l.cpuTime + 1}`);
  if (l.openFiles !== undefined) args.push(`--nofile=${l.openFiles}`);
  if (l.processes !== undefined) args.push(`--nproc=${l.processes}`);
  return args.length ? [PRLIMIT, ...args, "--", ...cmd] : cmd;
}

/** The bytes stdout and stderr may each reach: the definition's limit within the instance's. */
export function outputCap(l: Limits, maxOutputBytes: number): number {
  return Math.min(l.outputBytes ?? maxOutputBytes, maxOutputBytes);
}

/** What a program prints when the kernel refuses it memory, a process or a file. */
const SAYS = {
  memory: /MemoryError|Cannot allocate memory|out of memory|bad_alloc|memory exhausted/i,
  processes: /Cannot fork|fork: retry|Resource temporarily unavailable/i,
  openFiles: /Too many open files/i,
};

/**
 * Which limit a failed process ran into, in words, or undefined when its
 * failure does not look like one. A signal is certain; the rest is read
 * from the end of its stderr, as the kernel's refusal reaches the program
 * as an errno it reports in its own way. `retryable`: whether another
 * attempt may fare better (the process limit is shared by the uid's jobs).
 */
export function limitBreach(l: Limits, r: RunResult, stderrFile: string): { reason: string; retryable: boolean } | undefined {
  const cpu = r.metrics.user + r.metrics.system;
  if (l.cpuTime !== undefined && (r.signal === "SIGXCPU" || (r.signal === "SIGKILL" && cpu >= l.cpuTime))) {
    return { reason: `the process exceeded its CPU time limit of ${l.cpuTime} s`, retryable: false };
  }
  if (l.memory === undefined && l.processes === undefined && l.openFiles === undefined) return undefined;
  const said = tail(stderrFile);
  if (l.memory !== undefined && SAYS.memory.test(said)) {
    return { reason: `the process exceeded its memory limit of ${formatSize(l.memory)}`, retryable: false };
  }
  if (l.processes !== undefined && SAYS.processes.test(said)) {
    return { reason: `could not start a process: limit of ${l.processes} processes reached`, retryable: true };
  }
  if (l.openFiles !== undefined && SAYS.openFiles.test(said)) {
    return { reason: `the process reached its limit of ${l.openFiles} open files`, retryable: false };
  }
  return undefined;
}

/** The last 4 KiB of a log, or "" when there is none. */
function tail(file: string, bytes = 4096): string {
  let fd: number | undefined;
  try {
    fd = openSync(file, "r");
    const size = statSync(file).size;
    const buf = Buffer.alloc(Math.min(size, bytes));
    readSync(fd, buf, 0, buf.length, size - buf.length);
    return buf.toString("utf8");
  } catch {
    return "";
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
