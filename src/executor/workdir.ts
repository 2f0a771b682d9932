/**
 * Where a job's files live under the data dir, and the rule that keeps them
 * there: a path that resolves outside its root (`..`, another absolute path,
 * a symlink) is refused.
 *
 *   jobs/<id>/inputs/<name>              staged at submission (inline, upload)
 *   jobs/<id>/attempts/<n>/work/         the attempt's private working directory
 *   jobs/<id>/attempts/<n>/stdout|stderr
 *   jobs/<id>/outputs/<name>             results, kept after the job ends
 */
import { lstatSync, realpathSync } from "node:fs";
import { isAbsolute, join, relative, resolve, sep } from "node:path";

export class JobFiles {
  constructor(readonly root: string) {}

  jobDir(id: string) {
    return join(this.root, "jobs", id);
  }
  inputsDir(id: string) {
    return join(this.jobDir(id), "inputs");
  }
  input(id: string, name: string) {
    return join(this.inputsDir(id), name);
  }
  attemptDir(id: string, attempt: number) {
    return join(this.jobDir(id), "attempts", String(attempt));
  }
  workDir(id: string, attempt: number) {
    return join(this.attemptDir(id, attempt), "work");
  }
  log(id: string, attempt: number, stream: "stdout" | "stderr") {
    return join(this.attemptDir(id, attempt), stream);
  }
  outputsDir(id: string) {
    return join(this.jobDir(id), "outputs");
  }
  output(id: string, name: string) {
    return join(this.outputsDir(id), name);
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
