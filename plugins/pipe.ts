/**
 * `pipe`: a named pipe (FIFO) in the workdir, whose path the process gets as
 * `${name}`. As an input, flue writes the input's bytes into it once the
 * process opens it for reading, then closes it (the process reads EOF). As an
 * output, flue reads what the process writes until it closes the FIFO. A
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
import { closeSync, constants as C, createReadStream, createWriteStream, existsSync, openSync, promises as fsp, rmSync } from "node:fs";
import { relative } from "node:path";
import { pipeline } from "node:stream/promises";
import * as v from "valibot";
import { attemptState } from "./lib/attempt-state.ts";
import { FilePath, Name, bindByPath, bindingPath } from "./lib/params.ts";
import { bytesText } from "./lib/stream.ts";
import { stopOn, type Stop } from "./lib/wait.ts";

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

/**
 * Opens the FIFO for `mode` once the process opens the other end. The open
 * blocks a worker thread, not the event loop; if the process ends (or the job
 * stops) first, flue opens the other end itself to release it, and fails.
 */
async function openFifo(ctx: AdapterContext, mode: "r" | "w", stop: Stop): Promise<fsp.FileHandle> {
  const path = ctx.vars[ctx.name];
  const opening = fsp.open(path, mode);
  const opened = await Promise.race([opening, stop.promise.then(() => undefined)]);
  if (opened) return opened;
  // The open may have completed just as the process ended: give it a moment to arrive.
  const late = await Promise.race([opening, Bun.sleep(50).then(() => undefined)]);
  if (late) return late;
  const other = openSync(path, (mode === "w" ? C.O_RDONLY : C.O_WRONLY) | C.O_NONBLOCK);
  await (await opening).close();
  closeSync(other);
  const verb = mode === "w" ? "reading its input from" : "writing its output to";
  throw new PluginError(stop.why === "ended" ? `the process ended without ${verb} the FIFO ${shown(ctx)}` : `stopped while waiting for the process to open the FIFO ${shown(ctx)}`);
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
      const fifo = await openFifo(ctx, "w", stopOn(ctx.signal, process));
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
      const fifo = await openFifo(ctx, "r", stopOn(ctx.signal, process));
      try {
        await pipeline(fifo.createReadStream(), createWriteStream(outFile(ctx), { mode: 0o600 }), { signal: ctx.signal });
      } catch (e) {
        if (ctx.signal.aborted) throw new PluginError(`stopped while reading the FIFO ${shown(ctx)}`);
        throw new PluginError(`reading the FIFO ${shown(ctx)} failed: ${(e as Error).message}`);
      } finally {
        await fifo.close().catch(() => {});
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
