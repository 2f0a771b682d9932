/**
 * A job's files as HTTP serves them (API and UI alike): its current attempt's
 * logs, its outputs, and reading a growing log from an offset. In a fleet a
 * job that runs or ran on another instance has its files there and in the
 * fleet's object store: whole files come from the store once the job has
 * ended, ranges (a log followed, a tail) from its instance while that is
 * ACTIVE, each falling back on the other.
 */
import { existsSync } from "node:fs";
import { relative } from "node:path";
import { AppError, isFinal, type JobState } from "../domain/index.ts";
import type { Context } from "hono";
import { RANGE_MAX, TAIL_SHARED, tailName, type FileRange, type SharedFile } from "../cluster/record.ts";
import { readFrom, sizeOf, type OutputMeta } from "../executor/index.ts";
import type { JobRow } from "../store/index.ts";
import type { App } from "./env.ts";

export type LogName = "stdout" | "stderr";

/** How much of a file is read at a time: a followed log's step, and the most one request to another instance returns. */
export const CHUNK = RANGE_MAX;

/** Whether the job's files are on this instance's disk: always when alone; in a fleet, unless it runs or ran elsewhere. */
export const isHere = (app: App, job: JobRow): boolean => !app.fleet || !job.instance || job.instance === app.instance.id;

/** The log of the job's latest attempt, or undefined before it first runs. */
export function logPath(app: App, jobId: string, which: LogName): string | undefined {
  const current = app.store.jobs.get(jobId);
  return current && current.attempts > 0 ? app.executor.files.attemptFile(jobId, current.attempts, which) : undefined;
}

/** Where an output's file is (on this instance, or at the same place on the one that kept it), when the job has the output. */
export function outputPath(app: App, job: JobRow, name: string): { path: string; meta: OutputMeta } | undefined {
  const meta = Object.hasOwn(job.outputs as object, name) ? (job.outputs as Record<string, OutputMeta>)[name] : undefined;
  return meta && { path: app.executor.files.output(job.id, name, meta), meta };
}

/** An output's file and its metadata, when the job has it and it is on disk. */
export function outputFile(app: App, job: JobRow, name: string): { path: string; meta: OutputMeta } | undefined {
  const found = outputPath(app, job, name);
  return found && existsSync(found.path) ? found : undefined;
}

export { readFrom, sizeOf };

/** What the object store and the other instances call a file: its path under the data dir. */
const nameOf = (app: App, path: string) => relative(app.executor.files.root, path);

const holderActive = (app: App, job: JobRow) => app.fleet!.members().some((m) => m.id === job.instance && m.state === "ACTIVE");

/** The stream's bytes from `offset` on; stopping early cancels it. */
async function* skipTo(stream: ReadableStream<Uint8Array>, offset: number): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  try {
    for (let at = 0; ; ) {
      const { value, done } = await reader.read();
      if (done) return;
      if (at + value.length > offset) yield at >= offset ? value : value.subarray(offset - at);
      at += value.length;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/**
 * Up to `max` bytes of a job's file from `offset` (negative: that many
 * from its end), and the file's size, wherever the file is; undefined when
 * there is no such file yet, or it cannot be read now.
 */
export async function readAt(app: App, job: JobRow, path: string, offset: number, max: number): Promise<FileRange | undefined> {
  if (isHere(app, job)) {
    if (!existsSync(path)) return undefined;
    const size = sizeOf(path);
    const start = offset < 0 ? Math.max(0, size + offset) : offset;
    return { size, offset: start, bytes: readFrom(path, start, max) };
  }
  const name = nameOf(app, path);
  if (holderActive(app, job)) {
    try {
      const range = await app.fleet!.readResult(job.instance!, name, offset, max);
      if (range || !isFinal(job.state as JobState)) return range;
    } catch {
      // Gone meanwhile: what its attempts shared is in the object store.
    }
  }
  const shared = await app.fleet!.openResult(name).catch(() => undefined);
  if (!shared) return undefined;
  const start = Math.min(shared.size, offset < 0 ? Math.max(0, shared.size + offset) : offset);
  // Near the end of a long log: its tail object, not the whole log from its start.
  const tail = shared.size > TAIL_SHARED && start >= shared.size - TAIL_SHARED ? await app.fleet!.openResult(tailName(name)).catch(() => undefined) : undefined;
  const from = tail ?? shared;
  const skip = start - (shared.size - from.size);
  const parts: Uint8Array[] = [];
  let got = 0;
  try {
    if (tail) await shared.stream.cancel();
    if (skip < from.size) {
      for await (const part of skipTo(from.stream, skip)) {
        parts.push(part);
        if ((got += part.length) >= max) break;
      }
    } else await from.stream.cancel();
  } catch {
    return undefined; // NATS went away mid-read: as if not there yet
  }
  return { size: shared.size, offset: start, bytes: Buffer.concat(parts).subarray(0, max) };
}

/** The bytes of an input flue stored for a job: here, or in a fleet from the object store; undefined when neither has it. */
export async function storedInput(app: App, jobId: string, name: string): Promise<Uint8Array | undefined> {
  const path = app.executor.files.input(jobId, name);
  if (existsSync(path)) return new Uint8Array(await Bun.file(path).arrayBuffer());
  const shared = await app.fleet?.openResult(nameOf(app, path)).catch(() => undefined);
  if (!shared) return undefined;
  try {
    return new Uint8Array(await new Response(shared.stream).arrayBuffer());
  } catch (e) {
    throw new AppError(503, "fleet_unavailable", `input "${name}" of job ${jobId} cannot be read from the fleet's object store now (${(e as Error).message}); try again`);
  }
}

/** A file as `instance` has it now, read in ranges; its length is the size it had at the first. */
function rangesOf(app: App, instance: string, name: string, first: FileRange): SharedFile {
  let offset = first.bytes.length;
  let pending: Uint8Array | undefined = first.bytes;
  const stream = new ReadableStream<Uint8Array>({
    pull: async (controller) => {
      if (pending?.length) {
        controller.enqueue(pending);
        pending = undefined;
        return;
      }
      if (offset >= first.size) return controller.close();
      const range = await app.fleet!.readResult(instance, name, offset, CHUNK);
      if (!range?.bytes.length) return controller.error(new Error(`${name} went from instance ${instance} while it was read`));
      const bytes = range.bytes.subarray(0, first.size - offset);
      offset += bytes.length;
      controller.enqueue(bytes);
    },
  });
  return { size: first.size, stream };
}

/**
 * A whole file of a job that runs or ran on another instance: from the
 * object store once the job has ended, else as its instance has it now.
 * Undefined when neither has it; a 404 naming the instance when it was not
 * shared and the instance does not answer.
 */
export async function fileElsewhere(app: App, job: JobRow, path: string): Promise<SharedFile | undefined> {
  const fleet = app.fleet!;
  const name = nameOf(app, path);
  const fromStore = () => fleet.openResult(name);
  const fromInstance = async () => {
    if (!holderActive(app, job)) throw new Error("is not ACTIVE");
    const first = await fleet.readResult(job.instance!, name, 0, CHUNK);
    return first && rangesOf(app, job.instance!, name, first);
  };
  let failed: Error | undefined;
  for (const source of isFinal(job.state as JobState) ? [fromStore, fromInstance] : [fromInstance, fromStore]) {
    try {
      const file = await source();
      if (file) return file;
    } catch (e) {
      failed = e as Error;
    }
  }
  if (failed) throw new AppError(404, "not_found", `job ${job.id} ran on instance ${job.instance}, whose files could not be read (${failed.message}), and they were not shared with the fleet`);
  return undefined;
}

/**
 * A job's log as it grows, until the job ends, wherever it runs: the
 * fleet's `?follow=1`. A new attempt's log is followed from its start; once
 * the job has ended elsewhere the rest comes from the object store.
 */
export async function* followLog(app: App, jobId: string, which: LogName, pause: () => Promise<unknown>): AsyncGenerator<Uint8Array> {
  let attempt = 0;
  let offset = 0;
  for (;;) {
    const job = app.store.jobs.get(jobId);
    if (!job) return;
    const done = isFinal(job.state as JobState);
    if (job.attempts !== attempt) {
      attempt = job.attempts;
      offset = 0;
    }
    const path = attempt > 0 ? app.executor.files.attemptFile(jobId, attempt, which) : undefined;
    if (path && done && !isHere(app, job)) {
      const rest = await fileElsewhere(app, job, path).catch(() => undefined);
      if (rest) yield* skipTo(rest.stream, offset);
      return;
    }
    for (let r = path && (await readAt(app, job, path, offset, CHUNK)); r && r.bytes.length; r = await readAt(app, job, path!, offset, CHUNK)) {
      offset += r.bytes.length;
      yield r.bytes;
    }
    if (done) return;
    await pause();
  }
}

/** A file name safe inside a quoted Content-Disposition. */
export const attachment = (name: string) => `attachment; filename="${name.replace(/["\\\r\n]/g, "_")}"`;

/** Bytes as a download: streamed, with their length and the name to save them as. */
export function sendStream(c: Context, file: SharedFile, fileName: string, type = "application/octet-stream"): Response {
  c.header("Content-Type", type);
  c.header("Content-Disposition", attachment(fileName));
  c.header("Content-Length", String(file.size));
  return c.body(file.stream);
}

/** A file as a download: its bytes streamed, with its length and the name to save it as. */
export const sendFile = (c: Context, path: string, fileName: string, type?: string): Response =>
  sendStream(c, { size: sizeOf(path), stream: Bun.file(path).stream() }, fileName, type);
