/**
 * A job's files as HTTP serves them (API and UI alike): its current attempt's
 * logs, its outputs, and reading a growing log from an offset.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import { AppError } from "../domain/index.ts";
import type { Context } from "hono";
import type { OutputMeta } from "../executor/index.ts";
import type { JobRow } from "../store/index.ts";
import type { App } from "./env.ts";

export type LogName = "stdout" | "stderr";

/**
 * In a fleet, a job that ran on another instance has its logs and outputs
 * there (until they are shared through the object store): a 404 saying so.
 */
export function filesHere(app: App, job: JobRow): void {
  if (app.fleet && job.instance && job.instance !== app.instance.id) {
    throw new AppError(404, "not_found", `job ${job.id} ran on instance ${job.instance}; its logs and outputs are there, ask that instance`);
  }
}

/** The log of the job's latest attempt, or undefined before it first runs. */
export function logPath(app: App, jobId: string, which: LogName): string | undefined {
  const current = app.store.jobs.get(jobId);
  return current && current.attempts > 0 ? app.executor.files.attemptFile(jobId, current.attempts, which) : undefined;
}

/** An output's file and its metadata, when the job has it and it is on disk. */
export function outputFile(app: App, job: JobRow, name: string): { path: string; meta: OutputMeta } | undefined {
  const meta = (job.outputs as Record<string, OutputMeta>)[name];
  if (!meta) return undefined;
  const path = app.executor.files.output(job.id, name, meta);
  return existsSync(path) ? { path, meta } : undefined;
}

export const sizeOf = (path: string | undefined) => (path && existsSync(path) ? statSync(path).size : 0);

/** Up to `max` bytes of a file from `offset`. */
export function readFrom(path: string, offset: number, max: number): Uint8Array {
  const size = sizeOf(path);
  if (size <= offset) return new Uint8Array(0);
  const buf = new Uint8Array(Math.min(max, size - offset));
  const fd = openSync(path, "r");
  try {
    const n = readSync(fd, buf, 0, buf.length, offset);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** A file name safe inside a quoted Content-Disposition. */
export const attachment = (name: string) => `attachment; filename="${name.replace(/["\\\r\n]/g, "_")}"`;

/** A file as a download: its bytes streamed, with its length and the name to save it as. */
export function sendFile(c: Context, path: string, fileName: string, type = "application/octet-stream"): Response {
  c.header("Content-Type", type);
  c.header("Content-Disposition", attachment(fileName));
  c.header("Content-Length", String(sizeOf(path)));
  return c.body(Bun.file(path).stream());
}
