/**
 * File moves the built-in storages share: copy-on-write clones, hard links
 * with a copy as fallback, and atomic replacement, so a reader sees the old
 * file or the new one and never a part.
 */
import { constants, promises as fsp, renameSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/**
 * Makes `path` appear whole: `write` fills a unique hidden temp file beside
 * it (concurrent writers never share one, and the rename stays on one
 * filesystem), which then replaces `path`.
 */
export async function atomically<T>(path: string, write: (tmp: string) => T | Promise<T>): Promise<T> {
  const tmp = join(dirname(path), `.${basename(path)}.${crypto.randomUUID()}.tmp`);
  try {
    const result = await write(tmp);
    renameSync(tmp, path);
    return result;
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Copies `from` to `to`, as a copy-on-write clone where the filesystem can: cheap, and independent of the original. */
export function cloneOrCopy(from: string, to: string): Promise<void> {
  return fsp.copyFile(from, to, constants.COPYFILE_FICLONE);
}

/** Why a hard link failed when a copy will do instead: another filesystem, or one without hard links. */
const LINK_UNSUPPORTED = new Set(["EXDEV", "EPERM", "ENOTSUP", "EMLINK"]);

/** Makes `to` the same file as `from` (a hard link), or a copy when they are on different filesystems. */
export async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await fsp.link(from, to);
  } catch (e) {
    if (!LINK_UNSUPPORTED.has(errorCode(e) ?? "")) throw e;
    await cloneOrCopy(from, to);
  }
}

/** The errno code of a node:fs error (ENOENT, EXDEV, ...). */
export function errorCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}
