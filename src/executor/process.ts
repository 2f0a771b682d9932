/**
 * Running one process: argv array (never a shell), its own session and
 * process group, stdio straight to files (no bytes pass through flue),
 * timeout as SIGTERM then SIGKILL after a grace, cancel the same way, the
 * whole group killed when it ends, an output cap, and rusage metrics.
 *
 * stdout and stderr are the log files themselves, opened by flue and handed
 * to the child: no byte of output passes through flue's memory, and a job
 * costs no pipes to drain. The price is the cap: it is checked on a timer
 * while the process runs (a fast writer may get a few tens of MB past it
 * before it is stopped) and the file is cut back to the cap when it ends. A
 * log that stays empty is removed or put aside for the next attempt, so a
 * silent job leaves no file. With process
 * groups alone a process that left its group may still write to the log
 * after the job: it lingers, cut back to the cap every second.
 */
import { closeSync, constants as fsConstants, fchmodSync, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, truncateSync, unlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { constants } from "node:os";
import { processGroupOnly, type Cell, type Containment } from "./containment.ts";

export interface RunSpec {
  cmd: string[];
  cwd: string;
  env: Record<string, string>;
  /** File fed on stdin, or null for /dev/null. */
  stdin: string | null;
  /** Files for stdout and stderr (their directory is made when missing); removed again if nothing was written. */
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
  /** Whom the process runs as; flue's own user when not given. */
  user?: { uid: number; gid: number };
  /**
   * Whether an empty log of this process may later be another's (a spare,
   * below). Not with a uid per slot: a process can pass its stdout to one of
   * another slot's that outlives it, which could then write into a later
   * job's log. With one user for every job, jobs are not kept from each
   * other anyway.
   */
  reuseLogs?: boolean;
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

/** A running process as the one watch timer sees it: its peak RSS, and its logs against the cap. */
interface Watched {
  max: number | null;
  check: () => void;
}

/** Running processes, watched by one timer for all of them. */
const watched = new Map<number, Watched>();
let watcher: Timer | undefined;
/** How often logs are held against the cap (and, every few ticks, peak RSS sampled). */
const WATCH_MS = 50;
const RSS_EVERY = 5;
let ticks = 0;

function watch(pid: number, check: () => void): Watched {
  const entry: Watched = { max: null, check };
  watched.set(pid, entry);
  watcher ??= setInterval(() => {
    const rssNow = ++ticks % RSS_EVERY === 0;
    for (const [p, e] of watched) {
      e.check();
      if (!rssNow) continue;
      const rss = peakRss(p);
      if (rss !== null && (e.max === null || rss > e.max)) e.max = rss;
    }
  }, WATCH_MS);
  return entry;
}

function unwatch(pid: number): void {
  watched.delete(pid);
  if (watched.size === 0 && watcher) {
    clearInterval(watcher);
    watcher = undefined;
  }
}

/**
 * Empty log files kept for the next attempt, in `.spare/` beside the logs.
 * Making a file costs ext4 an inode allocation (its search past recently
 * deleted inodes was ~10 % of flue's CPU in a run of silent jobs); a rename
 * costs a few µs. A log goes back only when no process of its attempt is
 * left to hold it (a cgroup that emptied) and the process allowed it
 * (`reuseLogs`); a spare is checked before use: flue's, one link, not
 * readable by others.
 */
class SpareLogs {
  private readonly names: string[];
  private made = 0;

  constructor(private readonly dir: string) {
    try {
      this.names = readdirSync(dir);
    } catch {
      this.names = [];
    }
  }

  /** Renames a spare to `path`; false when there is none. */
  take(path: string): boolean {
    for (let name = this.names.pop(); name !== undefined; name = this.names.pop()) {
      try {
        renameSync(join(this.dir, name), path);
        return true;
      } catch {} // gone meanwhile: the next one
    }
    return false;
  }

  /** Keeps an empty log for later; false when there are enough, or it cannot be (it is then the caller's to remove). */
  give(path: string): boolean {
    if (this.names.length >= SPARE_LOGS) return false;
    const name = `${process.pid}.${++this.made}`;
    try {
      try {
        renameSync(path, join(this.dir, name));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") return false;
        mkdirSync(this.dir, { recursive: true, mode: 0o700 });
        renameSync(path, join(this.dir, name));
      }
    } catch {
      return false;
    }
    this.names.push(name);
    return true;
  }
}

/** How many empty logs are kept for reuse: two per slot is plenty. */
const SPARE_LOGS = 64;
const spareLogs = new Map<string, SpareLogs>();
const sparesFor = (path: string) => {
  const dir = join(dirname(path), ".spare");
  let s = spareLogs.get(dir);
  if (!s) spareLogs.set(dir, (s = new SpareLogs(dir)));
  return s;
};
const ownUid = process.geteuid?.() ?? -1;

/** Opens a log file for writing, making its directory first if it is not there yet. */
function openMaking(path: string): number {
  try {
    return openSync(path, LOG_FLAGS, 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    return openSync(path, LOG_FLAGS, 0o600);
  }
}

/**
 * Opens a log for the child to write, in append mode, so that a job that
 * truncates its own log (`> /dev/stdout` reopens the file) goes on writing
 * at its start, not past a hole: a spare renamed into place when there is
 * one, else a new file. It stays flue's. A job of another user gets it with
 * mode 0622: it may reopen it for writing through /proc/self/fd, but not
 * read it, and so not hard-link it either (protected_hardlinks); logs/ is
 * not its to enter.
 */
function openLog(path: string, user: RunSpec["user"], reuse: boolean): number {
  const mode = user ? 0o622 : 0o600;
  let fd = reuse && sparesFor(path).take(path) ? openSpare(path) : undefined;
  if (fd !== undefined) {
    const st = fstatSync(fd);
    if (st.uid !== ownUid || st.nlink !== 1 || (st.mode & 0o044) !== 0 || st.size !== 0) {
      // Not a spare this flue made (another version, planted): a new file instead.
      closeSync(fd);
      fd = undefined;
    } else if ((st.mode & 0o7777) === mode) {
      return fd; // a spare of the last attempt of this kind: already so
    }
  }
  if (fd === undefined) {
    unlinkQuietly(path); // O_CREAT keeps the owner and mode of a file that is there
    fd = openMaking(path);
  }
  try {
    fchmodSync(fd, mode);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  return fd;
}

const LOG_FLAGS = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC | fsConstants.O_APPEND;
/**
 * A spare is opened without O_TRUNC and refused unless empty: truncating
 * even an empty file costs ext4 a truncate, and marks it to be flushed to
 * disk when closed after the job writes to it (auto_da_alloc), on the main
 * thread (~7 % of it in a run of jobs whose stdout is kept).
 */
const SPARE_FLAGS = fsConstants.O_WRONLY | fsConstants.O_APPEND;

/** Opens a spare just renamed into place; undefined when it is gone meanwhile. */
function openSpare(path: string): number | undefined {
  try {
    return openSync(path, SPARE_FLAGS);
  } catch {
    return undefined;
  }
}

/** A log's size now (what the child has written so far). */
const logSize = (fd: number) => fstatSync(fd).size;

/**
 * Logs whose attempt ended while something may still hold them open: with
 * process groups alone, a process of the job that left its group (setsid)
 * keeps writing to its stdout. Each is looked at every second; one past the
 * cap is cut back to it, and one that has not grown for LINGER_QUIET_MS is
 * let go (removed if it is still empty). An empty one is not removed before:
 * a file removed while a process holds it would grow where no one sees it.
 */
const lingering = new Map<string, { size: number; cap: number; until: number }>();
let lingerTimer: Timer | undefined;
const LINGER_MS = 1000;
const LINGER_QUIET_MS = 5000;

function linger(path: string, size: number, cap: number): void {
  lingering.set(path, { size, cap, until: Date.now() + LINGER_QUIET_MS });
  lingerTimer ??= setInterval(() => {
    const now = Date.now();
    for (const [p, e] of lingering) {
      const st = statSync(p, { throwIfNoEntry: false });
      if (!st) {
        lingering.delete(p);
        continue;
      }
      let size = st.size;
      if (size > e.cap) {
        truncateSync(p, e.cap);
        size = e.cap;
      }
      if (st.size !== e.size) [e.size, e.until] = [size, now + LINGER_QUIET_MS];
      if (now < e.until) continue;
      lingering.delete(p);
      if (size === 0) unlinkQuietly(p);
    }
    if (lingering.size === 0) {
      clearInterval(lingerTimer);
      lingerTimer = undefined;
    }
  }, LINGER_MS);
  lingerTimer.unref();
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {}
}

/**
 * Ends a log: cut back to the cap, and returns the bytes it keeps. When no
 * process of the attempt can hold it any more (`alone`), an empty one is
 * kept as a spare (`spare`: see RunSpec.reuseLogs) or removed;
 * otherwise it lingers (above).
 */
function closeLog(fd: number, path: string, cap: number, alone: boolean, spare: boolean, known?: number): number {
  let size = 0;
  try {
    size = known ?? logSize(fd);
    if (size > cap) {
      ftruncateSync(fd, cap);
      size = cap;
    }
  } finally {
    closeSync(fd);
  }
  if (!alone) linger(path, size, cap);
  else if (size === 0 && !(spare && sparesFor(path).give(path))) unlinkQuietly(path);
  return size;
}

export async function runProcess(spec: RunSpec): Promise<RunResult> {
  const began = performance.now();
  let proc: Bun.Subprocess<number | "ignore", number, number>;
  let cell: Cell;
  let inFd: number | undefined;
  let outFd: number | undefined;
  let errFd: number | undefined;
  try {
    if (spec.stdin !== null) inFd = openSync(spec.stdin, "r");
    const reuse = spec.reuseLogs ?? false;
    outFd = openLog(spec.stdout, spec.user, reuse);
    errFd = openLog(spec.stderr, spec.user, reuse);
    const stdio: [number | "ignore", number, number] = [inFd ?? "ignore", outFd, errFd];
    ({ value: proc, cell } = (spec.containment ?? groupOnly).spawnIn((cgroup) =>
      Bun.spawn({ cmd: spec.cmd, cwd: spec.cwd, env: spec.env, stdio, detached: true, ...spec.user, ...(cgroup && { cgroup }) }),
    ));
  } catch (e) {
    // Nothing was started: no one else holds them.
    if (outFd !== undefined) closeLog(outFd, spec.stdout, 0, true, spec.reuseLogs ?? false);
    if (errFd !== undefined) closeLog(errFd, spec.stderr, 0, true, spec.reuseLogs ?? false);
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
  const cap = spec.maxOutputBytes;
  /** The log past the cap, if one is. */
  const overOf = (outSize: number, errSize: number) => (outSize > cap ? "stdout" : errSize > cap ? "stderr" : undefined);
  const overCap = () => overOf(logSize(outFd), logSize(errFd));
  const capped = (name: string) => `${name} exceeded the limit of ${cap} bytes`;
  const checkCap = () => {
    const name = overCap();
    if (name === undefined) return;
    stop("output-limit", capped(name));
    // A process that ignores SIGTERM while filling the disk gets no grace.
    signalGroup(pid, "SIGKILL");
    cell.kill();
  };
  const rss = watch(pid, checkCap);
  const timeoutTimer =
    spec.timeout === null
      ? undefined
      : setTimeout(() => stop("timeout", `timed out after ${spec.timeout} s`), spec.timeout * 1000);
  const onAbort = () => stop("cancelled", String(spec.signal?.reason ?? "cancelled"));
  if (spec.signal?.aborted) onAbort();
  spec.signal?.addEventListener("abort", onAbort);

  const exitCode = await proc.exited;
  // Nothing may kill through the cell once it is destroyed: it then holds the next attempt.
  clearTimeout(timeoutTimer);
  clearTimeout(killTimer);
  spec.signal?.removeEventListener("abort", onAbort);
  unwatch(pid);
  // Whatever the leader left behind in its group goes with it: a cell kills all it holds, the group included.
  if (!cell.holdsAll) signalGroup(pid, "SIGKILL");
  const alone = await cell.destroy();
  if (!alone && cell.holdsAll) signalGroup(pid, "SIGKILL"); // the cell would not empty: the group at least
  // A log past the cap at the end counts as one caught running: the outcome does not depend on the timer.
  const [outSize, errSize] = [logSize(outFd), logSize(errFd)];
  const over = outcome === undefined ? overOf(outSize, errSize) : undefined;
  if (over !== undefined) [outcome, message] = ["output-limit", capped(over)];
  const stdoutBytes = closeLog(outFd, spec.stdout, cap, alone, spec.reuseLogs ?? false, outSize);
  const stderrBytes = closeLog(errFd, spec.stderr, cap, alone, spec.reuseLogs ?? false, errSize);

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
