/**
 * `nats`: messages on a NATS subject (core NATS, not JetStream). As an input,
 * flue subscribes before the process starts, collects `count` messages or
 * what arrives within `timeout` seconds into a file in the workdir (with
 * `split: "lines"`, each message followed by a newline; with `"none"`, the
 * messages' bytes back to back), and feeds that file to the process on its
 * standard input; `${name}` is its path too. As an output, the process
 * writes a file (`${name}`); after it ends flue publishes it to the subject,
 * one message per line (`"lines"`, the newline dropped) or the whole file
 * (`"none"`), in messages no larger than the server's max_payload.
 *
 * Parameters: `subject`, `servers` (a URL or a list; default
 * nats://127.0.0.1:4222), `split` ("lines" or "none"; default "lines"),
 * `count` and `timeout` (an input needs at least one), `connect_timeout`
 * (seconds; default 10), `file_path` (default: a file named after the
 * binding), `name`.
 *
 * @example
 * ```json
 * {"exec": "/usr/bin/wc", "argv": ["-l"],
 *  "input_adapter": {"input_type": "nats", "input_parameters": {"subject": "sensors.raw", "count": 100, "timeout": 30}},
 *  "output_adapter": {"output_type": "nats", "output_parameters": {"subject": "sensors.counted", "file_path": "${out}"}}}
 * ```
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { PluginError, defineAdapter, type AdapterContext, type FieldProblem } from "flue/plugin";
import { createReadStream, promises as fsp } from "node:fs";
import * as v from "valibot";
import { FilePath, Name, Seconds, bindByPath, bindingPath, writtenFile } from "./lib/params.ts";

const SUBJECT = /^[^\s.]+(\.[^\s.]+)*$/;
const Params = v.strictObject({
  subject: v.pipe(v.string("subject must be a string"), v.regex(SUBJECT, "subject must be tokens separated by '.', without spaces")),
  servers: v.optional(
    v.union([v.pipe(v.string(), v.minLength(1)), v.pipe(v.array(v.pipe(v.string(), v.minLength(1))), v.minLength(1))], "servers must be a URL or a list of URLs"),
    "nats://127.0.0.1:4222",
  ),
  split: v.optional(v.picklist(["lines", "none"], 'split must be "lines" or "none"'), "lines"),
  count: v.optional(v.pipe(v.number("count must be a number"), v.integer("count must be a whole number"), v.minValue(1, "count must be at least 1"))),
  timeout: v.optional(Seconds("timeout")),
  connect_timeout: v.optional(Seconds("connect_timeout"), 10),
  file_path: v.optional(FilePath),
  name: v.optional(Name),
});
type Params = v.InferOutput<typeof Params>;

/** Publishing waits for the server after this many bytes, so a large file never sits whole in the client's buffer. */
const FLUSH_EVERY = 8 * 1024 * 1024;

async function open(p: Params, ctx: AdapterContext): Promise<NatsConnection> {
  try {
    // Loaded on first use: a flue that never talks to NATS does not carry its client in memory.
    const { connect } = await import("@nats-io/transport-node");
    return await connect({ servers: p.servers, timeout: p.connect_timeout * 1000, name: `flue ${ctx.jobId}/${ctx.attempt} ${ctx.name}` });
  } catch (e) {
    throw new PluginError(`cannot connect to NATS at ${[p.servers].flat().join(", ")}: ${(e as Error).message}`);
  }
}

/** Collects the input's messages into `to`; returns how many arrived. */
async function collect(nc: NatsConnection, p: Params, ctx: AdapterContext, to: string): Promise<number> {
  const file = await fsp.open(to, "w", 0o600);
  const sub = nc.subscribe(p.subject, { max: p.count });
  const end = () => sub.unsubscribe();
  const timer = p.timeout === undefined ? undefined : setTimeout(end, p.timeout * 1000);
  ctx.signal.addEventListener("abort", end, { once: true });
  let n = 0;
  try {
    await nc.flush(); // the subscription is in place before the process starts
    for await (const m of sub) {
      await file.write(m.data);
      if (p.split === "lines") await file.write("\n");
      n++;
    }
  } finally {
    clearTimeout(timer);
    ctx.signal.removeEventListener("abort", end);
    await file.close();
  }
  return n;
}

/** Publishes the file at `path`: in max_payload pieces, or a message per line. Returns the messages sent. */
async function publishFile(nc: NatsConnection, p: Params, path: string): Promise<number> {
  const max = nc.info?.max_payload ?? 1024 * 1024;
  let messages = 0;
  let unflushed = 0;
  const send = async (bytes: Uint8Array) => {
    for (let i = 0; i === 0 || i < bytes.length; i += max) {
      nc.publish(p.subject, bytes.subarray(i, i + max));
      messages++;
    }
    unflushed += bytes.length;
    if (unflushed >= FLUSH_EVERY) await nc.flush().then(() => (unflushed = 0));
  };
  let rest: Buffer = Buffer.alloc(0);
  for await (const chunk of createReadStream(path, { highWaterMark: max }) as AsyncIterable<Buffer>) {
    if (p.split === "none") {
      await send(chunk);
      continue;
    }
    let buf = rest.length ? Buffer.concat([rest, chunk]) : chunk;
    for (let nl = buf.indexOf(10); nl !== -1; nl = buf.indexOf(10)) {
      await send(buf.subarray(0, nl));
      buf = buf.subarray(nl + 1);
    }
    // A line longer than max_payload goes out in pieces.
    for (; buf.length > max; buf = buf.subarray(max)) await send(buf.subarray(0, max));
    rest = buf;
  }
  if (rest.length) await send(rest);
  await nc.flush();
  return messages;
}

export default defineAdapter({
  kind: "adapter",
  type: "nats",
  version: "1.0.0",
  description: "Messages on a NATS subject: collected into the process's standard input, or its output file published",
  parameters: Params,
  bind(p, direction) {
    const problems: FieldProblem[] = [];
    if (direction === "input" && p.count === undefined && p.timeout === undefined) {
      problems.push({ path: "count", message: "give count, timeout or both: how many messages to take, or how long to wait for them" });
    }
    if (direction === "output") {
      for (const field of ["count", "timeout"] as const) if (p[field] !== undefined) problems.push({ path: field, message: `${field} applies only to an input` });
      if (/(^|\.)(\*|>)(\.|$)/.test(p.subject)) problems.push({ path: "subject", message: "an output's subject cannot have wildcards" });
    }
    const bound = bindByPath(p, direction);
    return { ...bound, problems: [...problems, ...(bound.problems ?? [])] };
  },
  input: {
    async stageIn(p, ctx) {
      const to = bindingPath(p.file_path, ctx);
      const nc = await open(p, ctx);
      let n: number;
      try {
        n = await collect(nc, p, ctx, to);
      } finally {
        await nc.close();
      }
      if (ctx.signal.aborted) throw new PluginError(`stopped while waiting for messages on ${p.subject}`);
      if (p.count !== undefined && n < p.count) ctx.message(`received ${n} of ${p.count} messages on ${p.subject} within ${p.timeout} s`, "warning");
      ctx.vars[ctx.name] = to;
      return { stdin: to };
    },
  },
  output: {
    prepare(p, ctx) {
      ctx.vars[ctx.name] = bindingPath(p.file_path, ctx);
    },
    async stageOut(p, ctx) {
      const path = writtenFile(ctx);
      const nc = await open(p, ctx);
      try {
        const messages = await publishFile(nc, p, path);
        await nc.drain();
        ctx.message(`published ${messages} message${messages === 1 ? "" : "s"} to ${p.subject}`);
      } catch (e) {
        await nc.close();
        throw e instanceof PluginError ? e : new PluginError(`publishing to ${p.subject} failed: ${(e as Error).message}`);
      }
      return { path };
    },
  },
});
