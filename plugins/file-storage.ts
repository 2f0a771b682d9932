/**
 * The `file` storage: a shared filesystem (NFS, SMB, a local disk), reached
 * by `file:///absolute/path` URIs, in one of two modes, as the executor
 * flue inherits had them:
 * - `nfs` (default): the job works on a copy. Fetch copies the shared file
 *   into the workdir; put copies the output back, creating directories.
 * - `local`: the job works on the shared file in place. Fetch hard-links
 *   it into the workdir, so what the process writes to it lands in the
 *   shared file; put links the output into place. Where the workdir is on
 *   another filesystem than the share, both fall back to copies.
 * Copies use copy-on-write clones where the filesystem has them. Put
 * replaces its target atomically (a temp file beside it, then a rename).
 *
 * Only paths under the directories the admin allows can be used; paths are
 * resolved with realpath, so neither `..` nor a symlink can lead out.
 *
 * Settings:
 * - `FLUE_FILE_ALLOW`: comma-separated absolute directories jobs may read
 *   and write. Empty by default: every file:// URI is refused.
 * - `FLUE_FILE_MODE`: `nfs` (default) or `local`.
 */
import { mkdirSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { PluginError, defineStorage } from "flue/plugin";
import * as v from "valibot";
import { atomically, cloneOrCopy, errorCode, linkOrCopy } from "./lib/files.ts";

const settings = v.object({
  allow: v.optional(
    v.pipe(
      v.union([v.string(), v.array(v.string())]),
      v.transform((dirs) => (typeof dirs === "string" ? dirs.split(",") : dirs).map((d) => d.trim()).filter(Boolean)),
      v.array(v.pipe(v.string(), v.check(isAbsolute, "FLUE_FILE_ALLOW must list absolute directories"))),
    ),
    [],
  ),
  mode: v.optional(v.picklist(["nfs", "local"], "FLUE_FILE_MODE must be nfs or local"), "nfs"),
});
type Settings = v.InferOutput<typeof settings>;

export default defineStorage({
  kind: "storage",
  schemes: ["file"],
  version: "1.0.0",
  description: "A shared filesystem under the allowed directories, copied (nfs) or used in place (local)",
  settings,
  check(uri, _direction, { allow }) {
    try {
      locate(uri, allow);
    } catch (e) {
      if (e instanceof PluginError) return e.message;
      throw e;
    }
  },
  async fetch(uri, to, ctx) {
    const { allow, mode } = v.parse(settings, ctx.settings);
    const { path, real } = locate(uri, allow);
    const stat = statFile(real, path);
    if (!stat.isFile()) throw new PluginError(`${path} is not a file`, false);
    await transfer(mode, real, to);
    return { bytes: stat.size, fileName: basename(path) };
  },
  async put(uri, from, ctx) {
    const { allow, mode } = v.parse(settings, ctx.settings);
    const { path, real } = locate(uri, allow);
    const dir = dirname(real);
    mkdirSync(dir, { recursive: true });
    // A symlink made since locate() must not redirect the write.
    if (realpathSync(dir) !== dir) throw outside(path, allow);
    await atomically(real, (tmp) => transfer(mode, from, tmp));
    return { bytes: statSync(from).size };
  },
});

function transfer(mode: Settings["mode"], from: string, to: string): Promise<void> {
  return mode === "local" ? linkOrCopy(from, to) : cloneOrCopy(from, to);
}

/** The URI's path, and where it really is, which must be under an allowed directory. */
function locate(uri: URL, allow: string[]): { path: string; real: string } {
  if (allow.length === 0) {
    throw new PluginError("file:// URIs are refused: no directory is allowed (set FLUE_FILE_ALLOW or --allow-dir)", false);
  }
  let path: string;
  try {
    path = resolve(Bun.fileURLToPath(uri));
  } catch (e) {
    throw new PluginError(`${uri.href} is not a local file URI: ${(e as Error).message}`, false);
  }
  const real = realpathOfExisting(path);
  const roots = allow.flatMap((dir) => {
    try {
      return [realpathSync(dir)];
    } catch {
      return []; // an allowed directory that does not exist allows nothing
    }
  });
  if (!roots.some((root) => inside(root, real))) throw outside(path, allow);
  return { path, real };
}

/** realpath for a path that may not exist yet (an output): its nearest existing ancestor's realpath, plus the rest. */
function realpathOfExisting(path: string): string {
  const rest: string[] = [];
  for (let p = path; ; p = dirname(p)) {
    try {
      return join(realpathSync(p), ...rest);
    } catch (e) {
      if (errorCode(e) !== "ENOENT" || p === dirname(p)) throw new PluginError(`${path} cannot be used: ${(e as Error).message}`, false);
      rest.unshift(basename(p));
    }
  }
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== ".." && !rel.startsWith("../") && !isAbsolute(rel);
}

function outside(path: string, allow: string[]): PluginError {
  return new PluginError(`${path} is outside the allowed directories (${allow.join(", ")})`, false);
}

function statFile(real: string, path: string) {
  try {
    return statSync(real);
  } catch (e) {
    throw errorCode(e) === "ENOENT" ? new PluginError(`${path} does not exist`, false) : e;
  }
}
