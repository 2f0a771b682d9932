/**
 * `tcp` (the seed's `tcp_port`): the process listens on a TCP port; flue
 * connects to it. As an input, flue writes the input's bytes in writes of at
 * most `chunk_size`, then half-closes its side (the process reads EOF). As an
 * output, flue reads everything until the process closes the connection,
 * streaming it into a file. Either way flue retries the connection until the
 * process listens, for up to `connect_timeout` seconds or until it ends.
 *
 * Parameters: `tcp_port` (1-65535), `host` (default 127.0.0.1), `chunk_size`
 * (a size such as "10KB" or a number of bytes; default 64 KiB), and
 * `connect_timeout` (seconds; default 10), `name` (default `input_port` /
 * `output_port`). `${name}` is the port number, for argv.
 *
 * An input and an output on the same host and port share ONE connection:
 * flue writes the input, half-closes, and reads the reply until the process
 * closes — a request/response server. An input alone discards what the
 * process sends back; an output alone never half-closes.
 *
 * @example
 * ```json
 * {"exec": "/usr/bin/myserver", "argv": ["--port", "${request}"],
 *  "input_adapter": {"input_type": "tcp", "input_parameters": {"tcp_port": 8090, "chunk_size": "10KB", "name": "request"}},
 *  "output_adapter": {"output_type": "tcp", "output_parameters": {"tcp_port": 8090}}}
 * ```
 */
import { PluginError, defineAdapter, type AdapterContext, type RunningProcess, type StagedSource } from "flue/plugin";
import { createWriteStream, existsSync } from "node:fs";
import type { Socket } from "node:net";
import * as v from "valibot";
import { attemptState } from "./lib/attempt-state.ts";
import { Name, Seconds, Size } from "./lib/params.ts";
import { bytesText, pipeline, sendFile } from "./lib/stream.ts";
import { pause, stopOn, type Stop } from "./lib/wait.ts";

const PORT = "tcp_port must be a whole number from 1 to 65535";
const Params = v.strictObject({
  tcp_port: v.pipe(v.number(PORT), v.integer(PORT), v.minValue(1, PORT), v.maxValue(65535, PORT)),
  host: v.optional(v.pipe(v.string("host must be a string"), v.minLength(1, "host must not be empty")), "127.0.0.1"),
  chunk_size: v.optional(Size("chunk_size"), 64 * 1024),
  connect_timeout: v.optional(Seconds("connect_timeout"), 10),
  name: v.optional(Name),
});
type Params = v.InferOutput<typeof Params>;

/** The attempt's connection to one host and port, shared by its input and output. */
interface Link {
  reader: boolean;
  socket?: Promise<Socket>;
}
const links = attemptState<Link>();
const sources = attemptState<StagedSource>();

const where = (p: Params) => (p.host === "127.0.0.1" ? `port ${p.tcp_port}` : `${p.host}:${p.tcp_port}`);
const linkOf = (p: Params, ctx: AdapterContext) => links.get(ctx, where(p)) ?? links.set(ctx, where(p), { reader: false });
const outFile = (ctx: AdapterContext) => ctx.scratch(`tcp-${ctx.name}`);

// node:net is loaded when first used: it costs milliseconds of every start-up.
async function tryConnect(p: Params): Promise<Socket | Error> {
  const { createConnection } = await import("node:net");
  return new Promise((resolve) => {
    const socket = createConnection({ host: p.host, port: p.tcp_port, allowHalfOpen: true });
    socket.on("error", () => {}); // reported by whoever uses the socket
    socket.once("error", (e) => resolve(e));
    socket.once("connect", () => resolve(socket));
  });
}

/** Connects, retrying until the process listens; fails once it ends, the job stops, or connect_timeout passes. */
async function connect(p: Params, stop: Stop): Promise<Socket> {
  const deadline = Date.now() + p.connect_timeout * 1000;
  for (;;) {
    const socket = await tryConnect(p);
    if (!(socket instanceof Error)) return socket;
    // Reset, not refused: the process listened, took the connection and dropped it before the connect
    // was seen. The caller says so, as it does for a connection dropped later.
    if ((socket as NodeJS.ErrnoException).code === "ECONNRESET") throw socket;
    if (stop.why === "ended") throw new PluginError(`the process ended before it listened on ${where(p)}`);
    if (stop.why === "aborted") throw new PluginError(`stopped while waiting for the process to listen on ${where(p)}`);
    if (Date.now() >= deadline) throw new PluginError(`the process did not listen on ${where(p)} within ${p.connect_timeout} s`);
    await pause(100, stop);
  }
}

function connection(p: Params, ctx: AdapterContext, process: RunningProcess): Promise<Socket> {
  const link = linkOf(p, ctx);
  link.socket ??= connect(p, stopOn(ctx.signal, process));
  return link.socket;
}

export default defineAdapter({
  kind: "adapter",
  type: "tcp",
  version: "1.0.0",
  description: "Writes the input to, or reads the output from, a TCP port the process listens on",
  parameters: Params,
  bind: (p, direction) => ({ name: p.name ?? `${direction}_port` }),
  input: {
    stageIn(p, ctx, source) {
      sources.set(ctx, ctx.name, source);
      ctx.vars[ctx.name] = String(p.tcp_port);
    },
    async attach(p, ctx, process) {
      const source = sources.get(ctx, ctx.name);
      let sent = 0;
      try {
        const socket = await connection(p, ctx, process);
        if (!linkOf(p, ctx).reader) socket.resume(); // no output reads this connection: discard replies
        if (source) await sendFile(socket, source.path, p.chunk_size, ctx.signal, (n) => (sent = n));
        await new Promise<void>((resolve, reject) => {
          socket.once("error", reject).once("close", () => reject(new Error("the connection was closed")));
          socket.end(() => resolve());
        });
      } catch (e) {
        if (e instanceof PluginError) throw e; // from connecting: already says what happened
        if (ctx.signal.aborted) throw new PluginError(`stopped while writing to ${where(p)}`);
        const of = source ? ` after ${bytesText(sent)} of ${bytesText(source.size)}` : "";
        throw new PluginError(`the process closed ${where(p)}${of}: ${(e as Error).message}`);
      }
    },
  },
  output: {
    prepare(p, ctx) {
      linkOf(p, ctx).reader = true;
      ctx.vars[ctx.name] = String(p.tcp_port);
    },
    async attach(p, ctx, process) {
      try {
        const socket = await connection(p, ctx, process);
        await pipeline(socket, createWriteStream(outFile(ctx), { mode: 0o600 }), { signal: ctx.signal });
      } catch (e) {
        if (e instanceof PluginError) throw e; // from connecting: already says what happened
        if (ctx.signal.aborted) throw new PluginError(`stopped while reading from ${where(p)}`);
        throw new PluginError(`reading from ${where(p)} failed: ${(e as Error).message}`);
      }
    },
    stageOut(p, ctx) {
      if (!existsSync(outFile(ctx))) throw new PluginError(`nothing was read from ${where(p)}: the connection was never made`);
      return { path: outFile(ctx) };
    },
  },
  async cleanup(p, ctx) {
    sources.take(ctx, ctx.name);
    const link = links.take(ctx, where(p));
    (await link?.socket?.catch(() => undefined))?.destroy();
  },
});
