/**
 * Stage-in and stage-out through the plugins: for each input, its bytes
 * (flue's stored file, or a storage's fetch into scratch) go to its
 * adapter's stageIn; each output's adapter prepares, then says where the
 * bytes are after the process, and flue keeps them or puts them to the
 * output's storage. Attach hooks run beside the process; cleanup hooks
 * always run. Each stage returns what its `finished` event reports.
 *
 *   stageIn(inputs) → prepare(outputs) → spawn → attach(all) ‖ process
 *   → exit → attach settled (≤ kill grace, then abort) → stageOut(outputs) → cleanup(all)
 */
import { closeSync, copyFileSync, existsSync, openSync, renameSync, statSync } from "node:fs";
import { basename } from "node:path";
import { PluginError, type AdapterContext, type AdapterDefinition, type OutputResult, type RunningProcess, type StagedSource } from "../adapters/api.ts";
import type { RegisteredStorage } from "../adapters/registry.ts";
import type { Binding, Direction } from "../domain/index.ts";
import { adapterContext, storageContext, type StageContext } from "./plugin-context.ts";
import { attemptFileName, makeDir } from "./workdir.ts";

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
  /** For an output put to a storage: where it went. */
  uri?: string;
}

/** Where the job asked an output to go, instead of being kept by flue. */
export type OutputTarget = { uri: string };

/** What the executor needs of the plugin registry. */
export interface PluginHost {
  adapter(type: string): AdapterDefinition | undefined;
  storage(scheme: string): RegisteredStorage | undefined;
}

/** One input or output of an attempt: its binding, its adapter, the context its hooks get. */
export interface Stage {
  direction: Direction;
  binding: Binding;
  adapter: AdapterDefinition;
  ctx: AdapterContext;
}

/** The attempt's stages, inputs first; an adapter no longer loaded fails the attempt for good. */
export function openStages(sc: StageContext, plugins: PluginHost, inputs: readonly Binding[], outputs: readonly Binding[]): Stage[] {
  const stage = (direction: Direction) => (binding: Binding): Stage => {
    const adapter = plugins.adapter(binding.type);
    if (!adapter?.[direction]) throw new PluginError(`the ${binding.type} adapter of ${direction} ${binding.name} is not loaded in this flue`, false);
    return { direction, binding, adapter, ctx: adapterContext(sc, binding.name) };
  };
  return [...inputs.map(stage("input")), ...outputs.map(stage("output"))];
}

/** The storage for a URI's scheme that can do `what`. */
function storageFor(plugins: PluginHost, uri: URL, what: "fetch" | "put"): RegisteredStorage {
  const storage = plugins.storage(uri.protocol.slice(0, -1));
  if (!storage?.definition[what]) throw new PluginError(`no storage loaded in this flue can ${what} ${uri.protocol}// URIs`, false);
  return storage;
}

/**
 * An input's bytes as a local file: flue's stored copy (in a fleet, fetched
 * first when another instance stored it), or fetched from its storage into
 * scratch.
 */
async function sourceOf(sc: StageContext, plugins: PluginHost, name: string, m: InputMeta | undefined): Promise<StagedSource> {
  if (!m) return null;
  if (m.source !== "uri") {
    const path = sc.files.input(sc.jobId, name);
    if (sc.fetchInput && !existsSync(path) && !(await sc.fetchInput(sc.jobId, name))) {
      throw new PluginError(`input ${name} is neither on this instance nor in the fleet's object store (expired with --events-max-age?)`, false);
    }
    return { path, size: m.size ?? statSync(path).size, ...(m.file_name ? { fileName: m.file_name } : {}) };
  }
  const uri = new URL(m.uri!);
  const storage = storageFor(plugins, uri, "fetch");
  const path = sc.scratch.path(`input-${name}`);
  const got = await storage.definition.fetch!(uri, path, storageContext(sc, storage));
  const fileName = m.file_name ?? got.fileName;
  return { path, size: got.bytes, ...(fileName ? { fileName } : {}) };
}

/** Stages every input, then prepares every output. Returns the file to feed on stdin (or null) and the bytes staged. */
export async function stageIn(
  sc: StageContext,
  plugins: PluginHost,
  stages: readonly Stage[],
  meta: Record<string, InputMeta>,
): Promise<{ stdin: string | null; bytes: number }> {
  let stdin: { path: string; by: string } | undefined;
  let bytes = 0;
  for (const s of stages) {
    if (s.direction === "output") {
      await s.adapter.output!.prepare?.(s.binding.params, s.ctx);
      continue;
    }
    const source = await sourceOf(sc, plugins, s.binding.name, meta[s.binding.name]);
    bytes += source?.size ?? 0;
    const plan = await s.adapter.input!.stageIn(s.binding.params, s.ctx, source);
    if (!plan?.stdin) continue;
    if (stdin) throw new PluginError(`inputs ${stdin.by} and ${s.binding.name} both want the standard input`, false);
    stdin = { path: plan.stdin, by: s.binding.name };
  }
  return { stdin: stdin?.path ?? null, bytes };
}

/** Starts every attach hook beside the process; undefined when no stage has one (the common case). */
export function attach(stages: readonly Stage[], process: RunningProcess): Promise<void>[] | undefined {
  let running: Promise<void>[] | undefined;
  for (const s of stages) {
    const hook = s.direction === "input" ? s.adapter.input!.attach : s.adapter.output!.attach;
    if (!hook) continue;
    const what = `${s.direction} ${s.binding.name}`;
    running ??= [];
    running.push(
      Promise.resolve()
        .then(() => hook(s.binding.params, s.ctx, process))
        .catch((e) => Promise.reject(new PluginError(`${what}: ${(e as Error).message}`, e instanceof PluginError ? e.retryable : true))),
    );
  }
  return running;
}

/** Waits for attach hooks after the process has ended: up to `graceMs`, then aborts them and waits as long again. */
export async function settleAttached(running: Promise<void>[], graceMs: number, abort: (reason: string) => void): Promise<void> {
  // Every hook settles before anything goes on, even when one has failed: cleanup must not
  // pull the scratch dir from under a hook still writing into it.
  const all = Promise.allSettled(running);
  const timeout = (ms: number) => new Promise<"late">((res) => setTimeout(() => res("late"), ms).unref());
  let settled = await Promise.race([all, timeout(graceMs)]);
  if (settled === "late") {
    abort("the process has ended and the kill grace has passed");
    settled = await Promise.race([all, timeout(graceMs)]);
    if (settled === "late") throw new PluginError("an attach hook did not end when aborted");
  }
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}

/** Where a stream output's bytes are: its attempt's log, made empty if the process wrote nothing. */
function streamLog(sc: StageContext, stream: "STDOUT" | "STDERR"): { file: string; path: string; size: number } {
  const log = stream === "STDERR" ? "stderr" : "stdout";
  const file = sc.files.attemptFile(sc.jobId, sc.attempt, log);
  let size = 0;
  try {
    size = statSync(file).size;
  } catch {
    closeSync(openSync(file, "w", 0o600)); // a silent process made no log: its output is empty
  }
  return { file, path: attemptFileName(sc.jobId, sc.attempt, log), size };
}

/** Moves a file output into the job's outputs/. */
function keepFile(sc: StageContext, name: string, from: string): number {
  makeDir(sc.files.jobDir(sc.jobId));
  makeDir(sc.files.outputsDir(sc.jobId));
  const to = sc.files.output(sc.jobId, name);
  try {
    renameSync(from, to); // replaces what an earlier attempt left
  } catch {
    copyFileSync(from, to); // another filesystem (an --allow-dir, scratch)
  }
  return statSync(to).size;
}

/** Keeps one output's bytes, or puts them to the storage the job named. */
async function keepOutput(sc: StageContext, plugins: PluginHost, name: string, result: OutputResult, target: OutputTarget | undefined): Promise<OutputMeta> {
  const log = "stream" in result ? streamLog(sc, result.stream) : undefined;
  const from = log?.file ?? (result as { path: string }).path;
  const fileName = log ? name : ((result as { fileName?: string }).fileName ?? basename(from));
  if (target) {
    const uri = new URL(target.uri);
    const storage = storageFor(plugins, uri, "put");
    const { bytes } = await storage.definition.put!(uri, from, storageContext(sc, storage));
    return { size: bytes, file_name: fileName, uri: uri.href, ...(log ? { path: log.path } : {}) };
  }
  if (log) return { size: log.size, file_name: fileName, path: log.path };
  return { size: keepFile(sc, name, from), file_name: fileName };
}

/** Stages every output out, after the process and every attach hook have ended. */
export async function stageOut(
  sc: StageContext,
  plugins: PluginHost,
  stages: readonly Stage[],
  targets: Record<string, OutputTarget>,
): Promise<{ bytes: number; outputs: Record<string, OutputMeta> }> {
  const kept: Record<string, OutputMeta> = {};
  let bytes = 0;
  for (const s of stages) {
    if (s.direction !== "output") continue;
    const result = await s.adapter.output!.stageOut(s.binding.params, s.ctx);
    kept[s.binding.name] = await keepOutput(sc, plugins, s.binding.name, result, targets[s.binding.name]);
    bytes += kept[s.binding.name].size;
  }
  return { bytes, outputs: kept };
}

/** Runs every cleanup hook, whatever happened; a failing one is a warning on the job, never the job's failure. */
export async function cleanUp(sc: StageContext, stages: readonly Stage[]): Promise<void> {
  for (const s of stages) {
    try {
      await s.adapter.cleanup?.(s.binding.params, s.ctx);
    } catch (e) {
      sc.emit("message", { text: `cleanup of ${s.direction} ${s.binding.name} failed: ${(e as Error).message}`, level: "warning" });
    }
  }
  sc.scratch.remove();
}
