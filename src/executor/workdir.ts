/**
 * Where a job's files live under the data dir, and the rule that keeps them
 * there: a path that resolves outside its root (`..`, another absolute path,
 * a symlink) is refused.
 *
 *   work/<id>-<n>/                          attempt n's private working directory
 *   jobs/<id>/inputs/<name>                 staged at submission (inline, upload)
 *   jobs/<id>/attempt-<n>.stdout|.stderr    logs, made when the first byte arrives
 *   jobs/<id>/outputs/<name>                file outputs, kept after the job ends
 *
 * Flat, and made only when needed: on this hot path every directory and
 * file is a syscall that costs more than spawning the process. A job of
 * /bin/true makes one directory and no file.
 */
import { lstatSync, mkdirSync, realpathSync, rmSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { isAbsolute, join, relative, resolve, sep } from "node:path";

export class JobFiles {
  /** The workdir made ahead for a job's next attempt, by job id. */
  private readonly prepared = new Map<string, { dir: string; made: Promise<Error | undefined> }>();

  constructor(readonly root: string) {
    mkdirSync(join(root, "jobs"), { recursive: true, mode: 0o700 });
    mkdirSync(join(root, "work"), { recursive: true, mode: 0o700 });
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
    return join(this.jobDir(id), `attempt-${attempt}.${what}`);
  }
  outputsDir(id: string) {
    return join(this.jobDir(id), "outputs");
  }
  /** Where an output's bytes are: a file output in outputs/, a stream output in its attempt's log. */
  output(id: string, name: string, meta?: { path?: string }) {
    return meta?.path ? join(this.jobDir(id), meta.path) : join(this.outputsDir(id), name);
  }

  /** Starts making an attempt's workdir ahead of time, off the event loop's thread. */
  prepareWorkDir(id: string, attempt: number): void {
    const dir = this.workDir(id, attempt);
    if (this.prepared.get(id)?.dir === dir) return;
    // Never rejects: a failure is kept for makeWorkDir to throw, so nothing goes unhandled.
    const made = mkdir(dir, { mode: 0o700 }).then(
      () => undefined,
      (e: NodeJS.ErrnoException) => (e.code === "EEXIST" ? undefined : e),
    );
    this.prepared.set(id, { dir, made });
  }

  /** Forgets the workdir prepared for a job that will not run. */
  forgetPrepared(id: string): void {
    this.prepared.delete(id);
  }

  /**
   * An attempt's workdir: one mkdir. While slots are busy it is made ahead on
   * the thread pool (on these machines it costs more than the spawn).
   */
  async makeWorkDir(id: string, attempt: number): Promise<string> {
    const dir = this.workDir(id, attempt);
    const ahead = this.prepared.get(id);
    if (ahead?.dir === dir) {
      this.prepared.delete(id);
      const failed = await ahead.made;
      if (failed) throw failed;
    } else {
      // Not made ahead: a slot was free and waiting, so a thread hop would only add latency.
      makeDir(dir);
    }
    return dir;
  }

  /** Removes every file of a job: its directory and each attempt's workdir. */
  remove(id: string, attempts: number): void {
    rmSync(this.jobDir(id), { recursive: true, force: true });
    // One past the last attempt: its workdir may have been made ahead.
    for (let n = 1; n <= attempts + 1; n++) rmSync(this.workDir(id, n), { recursive: true, force: true });
  }
}

/** mkdir that tolerates an existing directory, without recursive's walk. */
export function makeDir(path: string): void {
  try {
    mkdirSync(path, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
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
