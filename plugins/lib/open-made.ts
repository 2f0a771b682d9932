/**
 * Opening a file the job's process made, as flue (often root): never through
 * a link the process planted. O_NOFOLLOW refuses a link as the last step;
 * the opened file's real path, read back from /proc, must still be inside
 * the workdir (or an --allow-dir), which catches a linked directory on the
 * way; and it must be the kind expected. O_NONBLOCK: opening a FIFO must not
 * block one of the few threads all of flue's file I/O shares.
 */
import { PluginError, type AdapterContext } from "flue/plugin";
import { constants, fstatSync, readlinkSync, promises as fsp } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { relative } from "node:path";

export async function openMade(path: string, ctx: AdapterContext, flags: number, kind: "file" | "fifo"): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await fsp.open(path, flags | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    throw linkRefused(e, path, ctx);
  }
  return checked(handle, path, ctx, kind);
}

/** A refused link as a PluginError saying so; any other error as it is. */
export function linkRefused(e: unknown, path: string, ctx: AdapterContext): unknown {
  return (e as NodeJS.ErrnoException).code === "ELOOP" ? new PluginError(`the process made ${relative(ctx.workdir, path) || path} a link; flue does not follow it`, false) : e;
}

/** The handle, once it is the kind expected and really inside the workdir; else closed, and a PluginError. */
export async function checked(handle: FileHandle, path: string, ctx: AdapterContext, kind: "file" | "fifo"): Promise<FileHandle> {
  try {
    checkFd(handle.fd, path, ctx, kind);
    return handle;
  } catch (e) {
    await handle.close();
    throw e;
  }
}

/** Throws a PluginError unless the open descriptor is the kind expected and really inside the workdir. */
export function checkFd(fd: number, path: string, ctx: AdapterContext, kind: "file" | "fifo"): void {
  const st = fstatSync(fd);
  const shown = relative(ctx.workdir, path) || path;
  if (kind === "file" ? !st.isFile() : !st.isFIFO()) throw new PluginError(`${shown} is no longer a ${kind === "file" ? "regular file" : "FIFO"}`, false);
  ctx.resolve(readlinkSync(`/proc/self/fd/${fd}`)); // throws when it leads out of the workdir
}
