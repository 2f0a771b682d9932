/**
 * flue's plugin API, imported by plugins as `flue/plugin`: how bytes reach
 * or leave a process (an **adapter**), and where they live (a **storage**).
 * The built-in plugins in plugins/ use only this module, exactly as a
 * user's plugin does; flue's binary provides it (and valibot) to plugins
 * loaded with `flue serve --plugins DIR`.
 *
 * Bytes move between storages and adapters as files: a storage fetches an
 * input into a local file and puts an output from one, streaming, so no
 * plugin holds a large input in memory.
 *
 * @example An adapter that hands the process its input as an environment
 * variable's path, under a name the definition chooses:
 * ```ts
 * import { defineAdapter } from "flue/plugin";
 * import * as v from "valibot";
 *
 * export default defineAdapter({
 *   kind: "adapter",
 *   type: "env_path",
 *   version: "1.0.0",
 *   description: "The input's path in $INPUT_PATH",
 *   parameters: v.strictObject({ name: v.optional(v.string()) }),
 *   input: {
 *     stageIn(params, ctx, source) {
 *       const to = ctx.resolve(ctx.name);
 *       if (source) Bun.write(to, Bun.file(source.path));
 *       ctx.vars[ctx.name] = to;
 *     },
 *   },
 * });
 * ```
 */
import type * as v from "valibot";

export type Direction = "input" | "output";

/** A problem with a definition's or a job's field, named by its path under the adapter's parameters. */
export interface FieldProblem {
  path: string;
  message: string;
}

/**
 * A failure a user can act on. Thrown from a hook, its message becomes the
 * job's message ("stage-in failed: ..."); any other error is reported too,
 * but as the plugin's failure.
 */
export class PluginError extends Error {
  /** false: another attempt cannot help (a missing object, a refused path). */
  constructor(
    message: string,
    readonly retryable = true,
  ) {
    super(message);
  }
}

/** What a hook may use of the attempt it serves. */
export interface AdapterContext {
  readonly jobId: string;
  readonly attempt: number;
  /** The attempt's private working directory (absolute). */
  readonly workdir: string;
  /** The input's or output's name: `${name}` in argv, environment and paths. */
  readonly name: string;
  /**
   * Template variables of the attempt. An input's or output's hook sets
   * `vars[name]` to what `${name}` means to the process, usually a path.
   */
  readonly vars: Record<string, string>;
  /** Aborted when the job is cancelled, times out, or flue shuts down. */
  readonly signal: AbortSignal;
  /**
   * The absolute path of `path` (relative to the workdir, or absolute inside
   * it or an --allow-dir). Throws PluginError for `..`, other absolute paths
   * and symlinks that lead out.
   */
  resolve(path: string): string;
  /**
   * Renders a `${name}` template (a path given in the parameters) with
   * `vars`, as flue renders argv. Added with the executor: a plugin cannot
   * import flue's template rules, and must not re-implement them (`$${`).
   */
  render(template: string): string;
  /** A path in flue's scratch space for this attempt: outside the workdir, unseen by the process, removed after the attempt. */
  scratch(fileName: string): string;
  /** Records the job event `job.{id}.{type}` with these fields, e.g. `emit("output", {name, bytes, data})`. */
  emit(type: string, fields?: Record<string, unknown>): void;
  /** Adds a message to the job. */
  message(text: string, level?: "info" | "warning" | "error"): void;
}

/** The running process, as an adapter's `attach` hook sees it. */
export interface RunningProcess {
  readonly pid: number;
  /** Resolves once the process has exited, however it ended. */
  readonly ended: Promise<void>;
}

/** The input's bytes as flue staged them from the job's storage: a local file, or null when the job gave none. */
export type StagedSource = { path: string; size: number; fileName?: string } | null;

/** What an input's stage-in asks of the process's start. */
export interface InputPlan {
  /** A file fed to the process on its standard input. */
  stdin?: string;
}

/** Where an output's bytes are once the process has ended. */
export type OutputResult =
  /** A file (in the workdir or scratch); flue keeps it as the job's output or puts it to the output's storage. */
  | { path: string; fileName?: string }
  /** The process's standard output or error, as flue captured it. */
  | { stream: "STDOUT" | "STDERR" };

export interface InputHooks<P> {
  /**
   * Before the process starts: puts the input where the process will find
   * it, and sets `ctx.vars[ctx.name]`.
   */
  stageIn(params: P, ctx: AdapterContext, source: StagedSource): Promise<InputPlan | void> | InputPlan | void;
  /**
   * While the process runs: feeds it (a FIFO, a TCP port). Resolves when
   * done; flue waits for it after the process ends, up to the kill grace,
   * then aborts `ctx.signal`.
   */
  attach?(params: P, ctx: AdapterContext, process: RunningProcess): Promise<void>;
}

export interface OutputHooks<P> {
  /** Before the process starts: makes the place it writes to (a directory, a FIFO) and sets `ctx.vars[ctx.name]`. */
  prepare?(params: P, ctx: AdapterContext): Promise<void> | void;
  /** While the process runs: reads what it produces (a port, a growing file). As InputHooks.attach. */
  attach?(params: P, ctx: AdapterContext, process: RunningProcess): Promise<void>;
  /** After the process has ended and every attach has settled: where the output's bytes are. */
  stageOut(params: P, ctx: AdapterContext): Promise<OutputResult> | OutputResult;
}

/** What `bind` finds in an input's or output's parameters at registration. */
export interface BindResult {
  name?: string;
  problems?: FieldProblem[];
  /**
   * Parameters that are `${name}` templates (`{path: "file_path", template}`):
   * flue checks their variables against the definition's parameters and
   * built-ins, which only it knows. Added with the registry: without it an
   * unknown variable in a path would surface only when a job runs.
   */
  templates?: { path: string; template: string }[];
}

/**
 * How the conformance suite (test/plugins/conformance.test.ts) exercises a
 * built-in plugin: a plugin module may export `conformance` beside its
 * definition. Without one, an adapter is skipped with a note, a storage is
 * run only when it is `local` to the test (none is assumed).
 */
export interface ConformanceFixture {
  /**
   * For an adapter: each way to use it, as a definition fragment (argv,
   * environment and adapter entries, with `${name}` of the input/output)
   * whose process copies input `in` to output `out` unchanged, e.g.
   * `{argv: ["${in}", "${out}"], exec: "/bin/cp", input_adapters: [...], output_adapters: [...]}`.
   */
  copies?: { label: string; definition: Record<string, unknown> }[];
  /**
   * What the suite starts before flue and stops after it. For a storage: a
   * URI prefix (`base`) the suite may write objects under and read them back
   * from (e.g. a temp dir for `file://`, a local server for `http://`);
   * `place` puts an object there for a storage without `put`. For an
   * adapter: whatever its `copies` talk to (a message broker). `tearDown`
   * removes it all.
   */
  setUp?(): Promise<{
    base?: string;
    place?(key: string, bytes: Uint8Array): Promise<void>;
    /** Settings the storage needs for this, as its FLUE_<SCHEME>_<KEY> environment variables. */
    env?: Record<string, string>;
    tearDown(): Promise<void> | void;
  }>;
}

/**
 * An adapter: how bytes reach (`input`) or leave (`output`) a process.
 * `parameters` validates the definition's `input_parameters` or
 * `output_parameters`; its messages reach the user as field errors at
 * registration, so write them for people.
 */
export interface AdapterDefinition<S extends v.GenericSchema = v.GenericSchema> {
  kind: "adapter";
  /** The definition's `input_type` / `output_type`. */
  type: string;
  version: string;
  description?: string;
  parameters: S;
  /**
   * At registration, after the schema: the name this input or output binds
   * (default: `parameters.name`, else `input_file` / `output_file`) and any
   * further problems, each with its path under the parameters.
   */
  bind?(params: v.InferOutput<S>, direction: Direction): BindResult;
  input?: InputHooks<v.InferOutput<S>>;
  output?: OutputHooks<v.InferOutput<S>>;
  /** After the attempt, however it ended: removes what the adapter made outside the workdir. */
  cleanup?(params: v.InferOutput<S>, ctx: AdapterContext): Promise<void> | void;
}

/** What a storage's hooks may use. */
export interface StorageContext {
  readonly jobId: string;
  readonly signal: AbortSignal;
  /** A directory this storage may keep across jobs (a download cache), private to flue. */
  readonly cacheDir: string;
  /** The storage's settings, parsed with its `settings` schema from `FLUE_<SCHEME>_<KEY>` environment variables. */
  readonly settings: Record<string, unknown>;
  /** Adds a message to the job. */
  message(text: string, level?: "info" | "warning" | "error"): void;
}

/**
 * A storage: where an input's bytes come from or an output's go, by URI
 * scheme (`https`, `s3`, `file`). Inline text and uploads are flue's own.
 */
export interface StorageDefinition<S extends v.GenericSchema = v.GenericSchema> {
  kind: "storage";
  /** The URI schemes it serves, without the colon: ["http", "https"]. */
  schemes: string[];
  version: string;
  description?: string;
  /** Its settings, read from `FLUE_<SCHEME>_<KEY>` environment variables (e.g. FLUE_S3_ENDPOINT) at start-up. */
  settings?: S;
  /** At submission: a message when this URI cannot be used (a missing bucket, a path outside --allow-dir), else undefined. */
  check?(uri: URL, direction: Direction, settings: v.InferOutput<S>): string | undefined;
  /** Copies the object at `uri` into the local file `to`, streaming; returns the bytes. */
  fetch?(uri: URL, to: string, ctx: StorageContext): Promise<{ bytes: number; fileName?: string }>;
  /** Copies the local file `from` to `uri`, streaming; returns the bytes. */
  put?(uri: URL, from: string, ctx: StorageContext): Promise<{ bytes: number }>;
}

export type PluginDefinition = AdapterDefinition | StorageDefinition;

/**
 * Declares an adapter. Returns it unchanged, typed: the parameters of its
 * hooks are what its schema outputs.
 *
 * @example
 * ```ts
 * export default defineAdapter({ kind: "adapter", type: "stdin_text", version: "1.0.0",
 *   parameters: v.strictObject({}),
 *   input: { stageIn: (_p, _ctx, source) => (source ? { stdin: source.path } : undefined) } });
 * ```
 */
export function defineAdapter<S extends v.GenericSchema>(definition: AdapterDefinition<S>): AdapterDefinition<S> {
  return definition;
}

/**
 * Declares a storage. Returns it unchanged, typed.
 *
 * @example
 * ```ts
 * export default defineStorage({ kind: "storage", schemes: ["mem"], version: "1.0.0",
 *   async fetch(uri, to) { return { bytes: await Bun.write(to, uri.pathname) }; } });
 * ```
 */
export function defineStorage<S extends v.GenericSchema>(definition: StorageDefinition<S>): StorageDefinition<S> {
  return definition;
}
