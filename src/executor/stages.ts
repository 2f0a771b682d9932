/**
 * Stage-in and stage-out: moving bytes from where they live into the
 * attempt's working directory, and the results back out to the job's
 * outputs. Each returns what its `finished` event reports.
 */
import { closeSync, copyFileSync, constants as fsc, mkdirSync, openSync, renameSync, statSync } from "node:fs";
import { basename, dirname, relative } from "node:path";
import { renderTemplate, soleVariable, type Binding } from "../domain/index.ts";
import { attemptFileName, isPlainFile, makeDir, resolveInside, type JobFiles } from "./workdir.ts";

export interface InputMeta {
  source: "inline" | "upload" | "uri";
  size?: number;
  file_name?: string;
  uri?: string;
}

export interface OutputMeta {
  size: number;
  file_name: string;
  /** For a stream output: its attempt's log, relative to the data dir. */
  path?: string;
}

/** A failure of a stage, in words a user can act on. */
export class StageError extends Error {}

export interface StageContext {
  files: JobFiles;
  jobId: string;
  attempt: number;
  workdir: string;
  /** Directories besides the workdir that paths may point into (--allow-dir). */
  allowDirs: readonly string[];
  /** Template variables; stage-in adds each file's path under its name. */
  vars: Record<string, string>;
  signal: AbortSignal;
}

/** Where a file-path binding's file is, inside the workdir. */
function bindingPath(ctx: StageContext, b: Extract<Binding, { mode: "path" }>, fileName: string | undefined): string {
  const rel = soleVariable(b.path) === b.name ? (b.fileName ?? fileName ?? b.name) : renderTemplate(b.path, ctx.vars);
  try {
    return resolveInside(ctx.workdir, rel, [ctx.workdir, ...ctx.allowDirs], `the path of ${b.name}`);
  } catch (e) {
    throw new StageError((e as Error).message);
  }
}

async function download(uri: string, to: string, signal: AbortSignal): Promise<number> {
  let res: Response;
  try {
    res = await fetch(uri, { signal, redirect: "follow" });
  } catch (e) {
    throw new StageError(`cannot download ${uri}: ${(e as Error).message}`);
  }
  if (!res.ok) throw new StageError(`cannot download ${uri}: HTTP ${res.status}`);
  return Bun.write(to, res);
}

/** Stages every input. Returns the file to feed on stdin (or null) and the bytes staged. */
export async function stageIn(
  ctx: StageContext,
  inputs: readonly Binding[],
  meta: Record<string, InputMeta>,
): Promise<{ stdin: string | null; bytes: number }> {
  let stdin: string | null = null;
  let bytes = 0;
  for (const b of inputs) {
    const m = meta[b.name];
    if (!m) {
      if (b.mode === "stream") continue; // an absent stdin input reads as empty
      throw new StageError(`input ${b.name} was not given`);
    }
    const stored = ctx.files.input(ctx.jobId, b.name);
    if (b.mode === "stream") {
      if (m.source === "uri") {
        stdin = ctx.files.attemptFile(ctx.jobId, ctx.attempt, "stdin");
        bytes += await download(m.uri!, stdin, ctx.signal);
      } else {
        stdin = stored;
        bytes += statSync(stored).size;
      }
      continue;
    }
    const target = bindingPath(ctx, b, m.file_name);
    if (dirname(target) !== ctx.workdir) mkdirSync(dirname(target), { recursive: true });
    if (m.source === "uri") {
      bytes += await download(m.uri!, target, ctx.signal);
    } else {
      // A copy, not a link: a process that changes its input must not change a retry's.
      copyFileSync(stored, target, fsc.COPYFILE_FICLONE);
      bytes += statSync(target).size;
    }
    ctx.vars[b.name] = target;
  }
  return { stdin, bytes };
}

/** Gives each path output its place in the workdir before the process runs. */
export function prepareOutputs(ctx: StageContext, outputs: readonly Binding[]): void {
  for (const b of outputs) {
    if (b.mode !== "path") continue;
    const target = bindingPath(ctx, b, undefined);
    if (dirname(target) !== ctx.workdir) mkdirSync(dirname(target), { recursive: true });
    ctx.vars[b.name] = target;
  }
}

/** Keeps every output: file outputs move to the job's outputs/, stream outputs stay in their log. */
export function stageOut(ctx: StageContext, outputs: readonly Binding[]): { bytes: number; outputs: Record<string, OutputMeta> } {
  const kept: Record<string, OutputMeta> = {};
  let bytes = 0;
  for (const b of outputs) {
    if (b.mode === "stream") {
      const log = b.stream === "STDERR" ? "stderr" : "stdout";
      const file = ctx.files.attemptFile(ctx.jobId, ctx.attempt, log);
      let size = 0;
      try {
        size = statSync(file).size;
      } catch {
        closeSync(openSync(file, "w", 0o600)); // a silent process made no log: its output is empty
      }
      bytes += size;
      kept[b.name] = { size, file_name: b.name, path: attemptFileName(ctx.jobId, ctx.attempt, log) };
      continue;
    }
    const from = ctx.vars[b.name];
    if (!isPlainFile(from)) {
      throw new StageError(`output ${b.name} was not produced: no regular file at ${relative(ctx.workdir, from) || from}`);
    }
    // Re-check now that the process has run: it may have planted a symlink in the path.
    try {
      resolveInside(ctx.workdir, from, [ctx.workdir, ...ctx.allowDirs], `output ${b.name}`);
    } catch (e) {
      throw new StageError((e as Error).message);
    }
    makeDir(ctx.files.jobDir(ctx.jobId));
    makeDir(ctx.files.outputsDir(ctx.jobId));
    const to = ctx.files.output(ctx.jobId, b.name);
    try {
      renameSync(from, to); // replaces what an earlier attempt left
    } catch {
      copyFileSync(from, to); // another filesystem (an --allow-dir)
    }
    const size = statSync(to).size;
    bytes += size;
    kept[b.name] = { size, file_name: basename(from) };
  }
  return { bytes, outputs: kept };
}
