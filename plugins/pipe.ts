/**
 * `pipe`: a named pipe (FIFO) in the workdir, whose path the process gets as
 * `${name}`. As an input, flue writes the input's bytes into it once the
 * process opens it for reading, then closes it (the process reads EOF). As an
 * output, flue reads what the process writes until the process ends. A
 * process that ends without opening the FIFO fails the input or output with
 * a message saying so; flue never waits for it past the process's end.
 *
 * Parameters: `file_path` (a path in the workdir, a template; default, or
 * `${name}` alone: a FIFO named after the binding), `name`.
 *
 * @example
 * ```json
 * {"exec": "/usr/bin/gzip", "argv": ["-c", "${data}"],
 *  "input_adapter": {"input_type": "pipe", "input_parameters": {"file_path": "${data}"}}}
 * ```
 */
import { PluginError, defineAdapter, type AdapterContext, type StagedSource } from "flue/plugin";
import { closeSync, constants as C, createReadStream, createWriteStream, existsSync, openSync, rmSync } from "node:fs";
import { promises as fsp } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { relative } from "node:path";
import * as v from "valibot";
import { attemptState } from "./lib/attempt-state.ts";
import { FilePath, Name, bindByPath, bindingPath } from "./lib/params.ts";
import { bytesText, pipeline } from "./lib/stream.ts";
import { stopOn, type Stop } from "./lib/wait.ts";
import { checkFd, checked, linkRefused } from "./lib/open-made.ts";

const Params = v.strictObject({ file_path: v.optional(FilePath), name: v.optional(Name) });
type Params = v.InferOutput<typeof Params>;

const sources = attemptState<StagedSource>();
const outFile = (ctx: AdapterContext) => ctx.scratch(`pipe-${ctx.name}`);
const shown = (ctx: AdapterContext) => relative(ctx.workdir, ctx.vars[ctx.name]);

/** Makes the FIFO (replacing whatever is there) and points `${name}` at it. */
function makeFifo(p: Params, ctx: AdapterContext): void {
  const path = bindingPath(p.file_path, ctx);
  rmSync(path, { force: true });
  const made = Bun.spawnSync(["mkfifo", "-m", "600", path], { stderr: "pipe" });
  if (made.exitCode !== 0) throw new PluginError(`cannot make the FIFO ${relative(ctx.workdir, path)}: ${made.stderr.toString().trim()}`);
  ctx.vars[ctx.name] = path;
}

/** How often flue looks whether the process has opened its end of the FIFO. */
const POLL_MS = 10;

/**
 * The FIFO opened for writing, once the process has opened it for reading,
 * without blocking while it has not: a blocking open of a FIFO holds one of
 * the few threads all of flue's file I/O shares, for as long as the process
 * likes. A non-blocking open fails (ENXIO) until a reader exists, so it is
 * retried, as it is while the path is missing; then the blocking open
 * returns at once. Never through a link the process planted, and only a FIFO
 * inside the workdir.
 */
async function openForWriting(ctx: AdapterContext, stop: Stop): Promise<FileHandle> {
  const path = ctx.vars[ctx.name];
  let probe: number | undefined;
  try {
    while (probe === undefined) {
      try {
        probe = openSync(path, C.O_WRONLY | C.O_NOFOLLOW | C.O_NONBLOCK);
      } catch (e) {
        // ENXIO: no reader yet. ENOENT: the process is replacing the FIFO (a link in its place is
        // refused at the next look) or removed it (then it ends without reading, said below).
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== "ENXIO" && code !== "ENOENT") throw linkRefused(e, path, ctx);
        if (stop.done) {
          throw new PluginError(stop.why === "ended" ? `the process ended without reading its input from the FIFO ${shown(ctx)}` : `stopped while waiting for the process to open the FIFO ${shown(ctx)}`);
        }
        await Bun.sleep(POLL_MS);
      }
    }
    // Reopened through the probe, not the path: the same FIFO, whatever the process has put at
    // the path since. Should its reader be gone again, the open would wait; the end of the
    // process releases it by opening that FIFO's other end.
    const same = `/proc/self/fd/${probe}`;
    let opened = false;
    const opening = fsp.open(same, C.O_WRONLY).finally(() => (opened = true));
    void stop.promise.then(() => {
      if (!opened) closeSync(openSync(same, C.O_RDONLY | C.O_NONBLOCK)); // the probe is still open while we wait
    });
    return await checked(await opening, path, ctx, "fifo");
  } finally {
    if (probe !== undefined) closeSync(probe);
  }
}

/**
 * The FIFO opened for reading, at once and without blocking, read by the
 * event loop rather than a file I/O thread (which a read waiting for the
 * process would hold). flue holds a writer of its own (`keep`) so the reader
 * sees no end of file before the process has written and ended.
 */
function openForReading(ctx: AdapterContext): { fd: number; keep: number } {
  const path = ctx.vars[ctx.name];
  let fd: number | undefined;
  try {
    fd = openSync(path, C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK);
    checkFd(fd, path, ctx, "fifo");
    return { fd, keep: openSync(path, C.O_WRONLY | C.O_NONBLOCK) };
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    throw linkRefused(e, path, ctx);
  }
}

export default defineAdapter({
  kind: "adapter",
  type: "pipe",
  version: "1.0.0",
  description: "A named pipe (FIFO) in the workdir that flue writes the input into or reads the output from",
  parameters: Params,
  bind: bindByPath,
  input: {
    stageIn(p, ctx, source) {
      sources.set(ctx, ctx.name, source);
      makeFifo(p, ctx);
    },
    async attach(_p, ctx, process) {
      const source = sources.get(ctx, ctx.name);
      const fifo = await openForWriting(ctx, stopOn(ctx.signal, process));
      const to = fifo.createWriteStream();
      try {
        if (source) await pipeline(createReadStream(source.path), to, { signal: ctx.signal });
      } catch (e) {
        if (ctx.signal.aborted) throw new PluginError(`stopped while writing to the FIFO ${shown(ctx)}`);
        const of = source ? ` after ${bytesText(to.bytesWritten)} of ${bytesText(source.size)}` : "";
        throw new PluginError(`the process closed the FIFO ${shown(ctx)}${of}: ${(e as Error).message}`);
      } finally {
        await fifo.close().catch(() => {});
      }
    },
  },
  output: {
    prepare: makeFifo,
    async attach(_p, ctx, process) {
      const { fd, keep } = openForReading(ctx);
      // flue's own writer keeps the FIFO open until the process has ended; then the reader sees its end.
      void process.ended.then(() => closeSync(keep));
      try {
        await pipeline(Bun.file(fd).stream(), createWriteStream(outFile(ctx), { mode: 0o600 }), { signal: ctx.signal });
      } catch (e) {
        if (ctx.signal.aborted) throw new PluginError(`stopped while reading the FIFO ${shown(ctx)}`);
        throw new PluginError(`reading the FIFO ${shown(ctx)} failed: ${(e as Error).message}`);
      } finally {
        closeSync(fd); // Bun.file(fd) reads it but leaves it open
      }
    },
    stageOut(_p, ctx) {
      if (!existsSync(outFile(ctx))) throw new PluginError(`nothing was read from the FIFO ${shown(ctx)}`);
      return { path: outFile(ctx) };
    },
  },
  cleanup(_p, ctx) {
    sources.take(ctx, ctx.name);
  },
});
