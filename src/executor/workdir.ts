/**
 * Where a job's files live under the data dir, and the rule that keeps them
 * there: a path that resolves outside its root (`..`, another absolute path,
 * a symlink) is refused.
 *
 *   work/<id>-<n>/                          attempt n's private working directory
 *   logs/<id>-<n>.stdout|.stderr            its logs: the process's stdout and stderr, kept when not empty
 *   logs/<id>-<n>.scratch/                  its plugins' scratch space (fetched inputs), removed after it
 *   jobs/<id>/inputs/<name>                 staged at submission (inline, upload)
 *   jobs/<id>/outputs/<name>                file outputs, kept after the job ends
 *
 *   work/.spare/<n>                         empty workdirs kept for reuse
 *   logs/.spare/<pid>.<n>                   empty log files kept for reuse (process.ts)
 *
 * When jobs run as another user (--run-as), the data dir and work/ are
 * 0711: a job reaches its own workdir by its absolute path but lists
 * nothing. flue.db, jobs/, logs/ and work/.spare/ stay flue's alone. A
 * workdir belongs to the job's user while its attempt runs, and to flue
 * again (0700) once it ends, so no later job can enter it.
 *
 * Flat, and made only when needed: on this hot path every directory and
 * file is a syscall that costs more than spawning the process. A job of
 * /bin/true leaves no file, and its directory and logs are renames: making a
 * directory costs 25–400 µs on ext4 (it allocates a block, and the Orlov
 * allocator searches for a group), a rename 6–8 µs. An attempt that leaves
 * its workdir empty hands it back to the spares; one that leaves files keeps
 * it, for a user to look into.
 */
import { chmodSync, closeSync, existsSync, lchownSync, lstatSync, mkdirSync, openSync, readdirSync, readSync, realpathSync, renameSync, rmSync, statSync } from "node:fs";
import { isAbsolute, join, relative, resolve, sep } from "node:path";

/** How many empty workdirs are kept for reuse, beyond twice the slots. */
const SPARE_EXTRA = 8;

export class JobFiles {
  private readonly spareRoot: string;
  /** Names of the empty directories in work/.spare/. */
  private readonly spares: string[];
  private nextSpare = 0;
  private readonly uid = process.getuid?.() ?? -1;
  private readonly gid = process.getgid?.() ?? -1;

  /** `jobsAsOthers`: jobs run as other users, who must reach their workdirs through the data dir. */
  constructor(
    readonly root: string,
    private readonly maxSpares = SPARE_EXTRA,
    jobsAsOthers = false,
  ) {
    const traverse = jobsAsOthers ? 0o711 : 0o700;
    for (const dir of ["jobs", "logs", "work/.spare"]) {
      mkdirSync(join(root, dir), { recursive: true, mode: 0o700 });
      chmodSync(join(root, dir), 0o700); // an older flue may have made it otherwise
    }
    chmodSync(join(root, "work"), traverse);
    if (jobsAsOthers) chmodSync(root, traverse);
    this.spareRoot = join(root, "work", ".spare");
    // Every spare was empty and flue's when it was put there; a flue that died may have left some.
    this.spares = readdirSync(this.spareRoot).filter((s) => this.isClean(join(this.spareRoot, s)));
    this.nextSpare = this.spares.reduce((n, s) => Math.max(n, Number(s) + 1 || 0), 0);
  }

  jobDir(id: string) {
    return join(this.root, "jobs", id);
  }
  inputsDir(id: string) {
    return join(this.jobDir(id), "inputs");
  }
  input(id: string, name: string) {
    return join(this.inputsDir(id), name);
  }
  workDir(id: string, attempt: number) {
    return join(this.root, "work", `${id}-${attempt}`);
  }
  /** An attempt's log, or a downloaded stdin. */
  attemptFile(id: string, attempt: number, what: "stdout" | "stderr" | "stdin") {
    return join(this.root, attemptFileName(id, attempt, what));
  }
  /** An attempt's scratch dir: flue's alone, outside the workdir the process sees. */
  scratchDir(id: string, attempt: number) {
    return join(this.root, "logs", `${id}-${attempt}.scratch`);
  }
  outputsDir(id: string) {
    return join(this.jobDir(id), "outputs");
  }
  /** Where an output's bytes are: a file output in outputs/, a stream output in its attempt's log. */
  output(id: string, name: string, meta?: { path?: string }) {
    return meta?.path ? join(this.root, meta.path) : join(this.outputsDir(id), name);
  }

  /**
   * An attempt's private workdir: a spare renamed into place, or a new
   * directory. True when it is known to be empty (not so when an earlier
   * run left one of this name).
   */
  makeWorkDir(id: string, attempt: number): boolean {
    const dir = this.workDir(id, attempt);
    for (let spare = this.spares.pop(); spare !== undefined; spare = this.spares.pop()) {
      try {
        renameSync(join(this.spareRoot, spare), dir);
        return true;
      } catch {
        // Gone, or the target exists (an earlier run's attempt): try the next, then mkdir.
      }
    }
    return makeDir(dir);
  }

  /**
   * Hands an ended attempt's workdir back to the spares when the process
   * left it as it got it: empty, ours, mode 0700. Anything else stays where
   * it is. Call only once the attempt's processes are gone.
   */
  recycleWorkDir(id: string, attempt: number): void {
    if (this.spares.length >= this.maxSpares) return;
    const dir = this.workDir(id, attempt);
    try {
      if (!this.isClean(dir)) return;
      const name = String(this.nextSpare++);
      renameSync(dir, join(this.spareRoot, name));
      this.spares.push(name);
    } catch {
      // Not there, or not movable: nothing to reuse.
    }
  }

  /** Whether `dir` is as a new workdir is: an empty directory, flue's, mode 0700. */
  private isClean(dir: string): boolean {
    try {
      const st = lstatSync(dir);
      return st.isDirectory() && (st.mode & 0o7777) === 0o700 && st.uid === this.uid && readdirSync(dir).length === 0;
    } catch {
      return false;
    }
  }

  /**
   * Gives an attempt's workdir, and all stage-in put in it, to the user its
   * job runs as. Call before the process starts: the tree is flue's own
   * then, and lchown follows no link. `empty`: nothing can be in it (it
   * was made empty, see makeWorkDir, and nothing was staged in), so there
   * is nothing to walk.
   */
  giveWorkDir(id: string, attempt: number, to: { uid: number; gid: number }, empty = false): void {
    const dir = this.workDir(id, attempt);
    lchownSync(dir, to.uid, to.gid);
    if (empty) return;
    for (const entry of readdirSync(dir, { recursive: true })) lchownSync(join(dir, String(entry)), to.uid, to.gid);
  }

  /**
   * Takes an ended attempt's workdir back: flue's and 0700, so no later job
   * enters it (what is inside stays as the job left it). Call once the
   * attempt's processes are gone; work/ is flue's, so the job cannot have
   * put anything else at this name.
   */
  reclaimWorkDir(id: string, attempt: number): void {
    const dir = this.workDir(id, attempt);
    try {
      lchownSync(dir, this.uid, this.gid);
      chmodSync(dir, 0o700);
    } catch {
      // Never made (stage-in failed first), or removed already.
    }
  }

  /** Removes every file of a job: its directory, and each attempt's workdir and logs. */
  remove(id: string, attempts: number): void {
    rmSync(this.jobDir(id), { recursive: true, force: true });
    for (let n = 1; n <= attempts; n++) {
      rmSync(this.workDir(id, n), { recursive: true, force: true });
      for (const what of ["stdout", "stderr", "stdin"] as const) rmSync(this.attemptFile(id, n, what), { force: true });
      rmSync(this.scratchDir(id, n), { recursive: true, force: true }); // left by a flue that died mid-attempt
    }
  }
}

/** An attempt's log, relative to the data dir: what a stream output's `path` records. */
export function attemptFileName(id: string, attempt: number, what: "stdout" | "stderr" | "stdin"): string {
  return join("logs", `${id}-${attempt}.${what}`);
}

/** mkdir (0700) that tolerates an existing directory, without recursive's walk; true when it made it. */
export function makeDir(path: string): boolean {
  try {
    mkdirSync(path, { mode: 0o700 });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    return false;
  }
}

/** Whether `path` is `root` or lies under it, by their resolved text. */
export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

/**
 * Resolves `path` (relative to `base`) and returns it if it lies inside one of
 * `roots` once every symlink in its existing part is followed; otherwise throws
 * an Error whose message says so.
 */
export function resolveInside(base: string, path: string, roots: readonly string[], what: string): string {
  const abs = resolve(base, path);
  let real = abs;
  // Follow symlinks in the longest existing prefix; the rest is created later.
  let probe = abs;
  for (;;) {
    try {
      real = join(realpathSync(probe), relative(probe, abs));
      break;
    } catch {
      const parent = resolve(probe, "..");
      if (parent === probe) break;
      probe = parent;
    }
  }
  for (const root of roots) {
    let realRoot = root;
    try {
      realRoot = realpathSync(root);
    } catch {}
    if (isInside(realRoot, real)) return abs;
  }
  throw new Error(`${what} ${JSON.stringify(path)} resolves outside the job's working directory`);
}

/** Whether a path is a regular file and not a symlink. */
export function isPlainFile(path: string): boolean {
  try {
    return lstatSync(path).isFile();
  } catch {
    return false;
  }
}

/** A file's size, 0 when it is not there. */
export const sizeOf = (path: string | undefined) => (path && existsSync(path) ? statSync(path).size : 0);

/** Up to `max` bytes of a file from `offset` (a log growing as it is read, say). */
export function readFrom(path: string, offset: number, max: number): Uint8Array {
  const size = sizeOf(path);
  if (size <= offset) return new Uint8Array(0);
  const buf = new Uint8Array(Math.min(max, size - offset));
  const fd = openSync(path, "r");
  try {
    const n = readSync(fd, buf, 0, buf.length, offset);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}
