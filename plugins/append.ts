/**
 * `append`: the process appends to a file over time. While it runs, flue
 * follows the file and publishes what is new as a `job.{id}.output` event
 * — `{name, offset, bytes, encoding, data}`, `data` as UTF-8 text, or base64
 * when the piece is not text — appends within ~100 ms coalesced into one
 * event of at most `chunk_bytes`, the newest; bytes an event leaves out are
 * counted in its `skipped` (a follower sees the latest, the event log never
 * grows by the file's size). Afterwards the whole file is the output.
 *
 * Parameters: `file_path` (a path in the workdir, a template; default, or
 * `${name}` alone: a file named after the binding), `chunk_bytes` (a size,
 * default 64 KiB), `name`. An output only.
 *
 * @example
 * ```json
 * {"exec": "/usr/bin/my-sim", "argv": ["--log", "${progress}"],
 *  "output_adapter": {"output_type": "append", "output_parameters": {"file_path": "${progress}", "chunk_bytes": "16KiB"}}}
 * ```
 */
import { defineAdapter, type AdapterContext } from "flue/plugin";
import { constants, watch, type FSWatcher } from "node:fs";
import { basename, dirname, relative } from "node:path";
import * as v from "valibot";
import { FilePath, Name, Size, bindByPath, bindingPath, writtenFile } from "./lib/params.ts";
import { pause, stopOn, type Stop } from "./lib/wait.ts";
import { openMade } from "./lib/open-made.ts";

const Params = v.strictObject({
  file_path: v.optional(FilePath),
  chunk_bytes: v.optional(Size("chunk_bytes"), 64 * 1024),
  name: v.optional(Name),
});

/** Appends closer together than this become one event. */
const COALESCE_MS = 100;
/** How often flue looks at the file when no change notification comes. */
const POLL_MS = 1000;

/** How many bytes at the start of `buf` continue a UTF-8 character begun before it (0 to 3). */
function continuation(buf: Buffer): number {
  let i = 0;
  while (i < 3 && i < buf.length && (buf[i] & 0xc0) === 0x80) i++;
  return i;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
function encode(bytes: Buffer): { encoding: "utf8" | "base64"; data: string } {
  try {
    return { encoding: "utf8", data: utf8.decode(bytes) };
  } catch {
    return { encoding: "base64", data: bytes.toString("base64") };
  }
}

/**
 * Publishes what was appended since `offset` as one event of at most `chunk`
 * bytes, the newest: a follower wants the latest lines, and the event log
 * must not grow by the file's size (the whole file is the output). What an
 * event leaves out is counted in its `skipped`. Returns the new offset.
 */
async function publish(path: string, offset: number, chunk: number, ctx: AdapterContext): Promise<number> {
  let file;
  try {
    file = await openMade(path, ctx, constants.O_RDONLY, "file");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return offset; // not written yet
    throw e;
  }
  try {
    const size = (await file.stat()).size;
    if (size < offset) {
      ctx.message(`${relative(ctx.workdir, path)} shrank to ${size} bytes; following it from its start`, "warning");
      offset = 0;
    }
    if (size === offset) return offset;
    const from = Math.max(offset, size - chunk);
    const buf = Buffer.alloc(size - from);
    const { bytesRead: read } = await file.read(buf, 0, buf.length, from);
    // Starting mid-file, begin at a character, not inside one.
    const skip = from > offset ? continuation(buf) : 0;
    const piece = buf.subarray(skip, read);
    const start = from + skip;
    ctx.emit("output", { name: ctx.name, offset: start, bytes: piece.length, ...(start > offset ? { skipped: start - offset } : {}), ...encode(piece) });
    return start + piece.length;
  } finally {
    await file.close();
  }
}

/** Changes to the file: `next()` resolves on the next one (or one missed since the last call), after POLL_MS, or at `stop`. */
function changes(path: string, stop: Stop): { next(): Promise<void>; close(): void } {
  let dirty = false;
  let wake = () => {};
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(path), (_e, f) => {
      if (f !== null && f !== basename(path)) return;
      dirty = true;
      wake();
    });
    watcher.on("error", () => {});
  } catch {
    // no notifications here: polling is enough
  }
  return {
    next: () =>
      new Promise<void>((resolve) => {
        if (dirty) resolve();
        wake = resolve;
        pause(POLL_MS, stop).then(resolve);
      }).then(() => void (dirty = false)),
    close: () => watcher?.close(),
  };
}

export default defineAdapter({
  kind: "adapter",
  type: "append",
  version: "1.0.0",
  description: "A file the process appends to, published as output events while it runs, then kept whole",
  parameters: Params,
  bind: bindByPath,
  output: {
    prepare(p, ctx) {
      ctx.vars[ctx.name] = bindingPath(p.file_path, ctx);
    },
    async attach(p, ctx, process) {
      const path = ctx.vars[ctx.name];
      const stop = stopOn(ctx.signal, process);
      const changed = changes(path, stop);
      let offset = 0;
      try {
        for (;;) {
          // Seen stopped before this look, it is the last: a look begun before the process ended may miss its last append.
          const last = stop.done;
          offset = await publish(path, offset, p.chunk_bytes, ctx);
          if (last) break;
          await changed.next();
          await pause(COALESCE_MS, stop);
        }
      } finally {
        changed.close();
      }
    },
    stageOut(_p, ctx) {
      return { path: writtenFile(ctx) };
    },
  },
});
