/**
 * One attempt of one job: stage-in → execute → stage-out, each step emitting
 * its started/finished events, the inputs' and outputs' adapter hooks driven
 * by stages.ts. Returns how the attempt ended; the executor decides what
 * that means for the job (finish, retry, fail). A job without inputs and
 * outputs makes no plugin context at all: that is the hot path.
 */
import { mkdirSync } from "node:fs";
import { renderTemplate, type ParameterValue, type ResolvedDefinition } from "../domain/index.ts";
import type { QueuedJob } from "../store/index.ts";
import { runProcess, type Metrics, type RunResult } from "./process.ts";
import type { Containment } from "./containment.ts";
import { limitBreach, outputCap, withLimits } from "./limits.ts";
import type { Identity } from "./run-as.ts";
import { checkExec, DEFAULT_PATH, findExecutable, type ExecPolicy } from "./exec-policy.ts";
import { PluginError } from "../adapters/api.ts";
import { Scratch, type StageContext } from "./plugin-context.ts";
import { attach, cleanUp, openStages, settleAttached, stageIn, stageOut, type InputMeta, type OutputTarget, type PluginHost, type Stage } from "./stages.ts";
import { resolveInside, type JobFiles } from "./workdir.ts";

export interface AttemptEnv {
  files: JobFiles;
  allowDirs: readonly string[];
  killGraceMs: number;
  maxOutputBytes: number;
  execPolicy: ExecPolicy;
  containment: Containment;
  /** Whom the job runs as, when not as flue's own user. */
  user?: Identity;
  /** Whether its empty log files may become another job's (see RunSpec.reuseLogs). */
  reuseLogs: boolean;
  /** The adapters and storages inputs and outputs go through. */
  plugins: PluginHost;
  /** Fetches a stored input missing here (see Executor.fetchInput). */
  fetchInput?: (jobId: string, name: string) => Promise<boolean>;
  /** Emits one job event; the executor fills in id, executor, timestamp and thread. */
  emit: (type: string, fields?: Record<string, unknown>) => void;
}

export type AttemptEnd =
  | { kind: "finished" }
  /** `retryable` is false when another attempt cannot help (the executable does not exist). */
  | { kind: "failed"; reason: string; retryable: boolean }
  | { kind: "aborted"; reason: string };

/** A job's inputs and outputs as their hooks see them, with what aborts the hooks. */
interface Hooks {
  sc: StageContext;
  stages: Stage[];
  abort: AbortController;
}

/** The stage context of an attempt with inputs or outputs; its signal follows the job's. */
function openHooks(env: AttemptEnv, job: QueuedJob, attempt: number, vars: Record<string, string>, signal: AbortSignal): Hooks {
  const abort = new AbortController();
  signal.addEventListener("abort", () => abort.abort(signal.reason), { once: true, signal: abort.signal });
  const sc: StageContext = {
    files: env.files,
    jobId: job.id,
    attempt,
    workdir: env.files.workDir(job.id, attempt),
    allowDirs: env.allowDirs,
    vars,
    signal: abort.signal,
    emit: env.emit,
    fetchInput: env.fetchInput,
    scratch: new Scratch(env.files.scratchDir(job.id, attempt)),
  };
  return { sc, stages: [], abort };
}

/** Cleanup hooks, then the scratch dir; the link to the job's signal goes with them. */
async function closeHooks(hooks: Hooks): Promise<void> {
  await cleanUp(hooks.sc, hooks.stages);
  hooks.abort.abort("the attempt has ended");
}

/** The failure a stage's error means: a PluginError says whether a retry can help. */
const stageFailure = (stage: string, e: unknown): AttemptEnd => ({
  kind: "failed",
  reason: `${stage} failed: ${(e as Error).message}`,
  retryable: e instanceof PluginError ? e.retryable : true,
});

function describe(r: RunResult): string {
  if (r.outcome === "exited") return `exit status ${r.exitStatus}`;
  return r.message ?? r.outcome;
}

/** What a job without outputs stages out; shared, never changed. */
const NO_OUTPUTS = Object.freeze({ bytes: 0, outputs: Object.freeze({}) });

/** Runs one attempt; its workdir is handed back (and recycled when empty) and its hooks cleaned up, however it ends. */
export async function runAttempt(
  env: AttemptEnv,
  job: QueuedJob,
  def: ResolvedDefinition,
  attempt: number,
  signal: AbortSignal,
): Promise<AttemptEnd> {
  const vars: Record<string, string> = { job_id: job.id, workdir: env.files.workDir(job.id, attempt), attempt: String(attempt) };
  for (const [k, v] of Object.entries(job.parameters as Record<string, ParameterValue>)) vars[k] = String(v);
  const hooks = def.inputs.length || def.outputs.length ? openHooks(env, job, attempt, vars, signal) : undefined;
  try {
    return await attemptSteps(env, job, def, attempt, signal, vars, hooks);
  } finally {
    if (hooks) await closeHooks(hooks);
    // Its processes are gone (the group is killed when the leader exits).
    if (env.user) env.files.reclaimWorkDir(job.id, attempt);
    env.files.recycleWorkDir(job.id, attempt);
  }
}

async function attemptSteps(
  env: AttemptEnv,
  job: QueuedJob,
  def: ResolvedDefinition,
  attempt: number,
  signal: AbortSignal,
  vars: Record<string, string>,
  hooks: Hooks | undefined,
): Promise<AttemptEnd> {
  const { files } = env;
  const workdir = vars.workdir;

  // Stage-in.
  env.emit("stage-in.started");
  let stdin: string | null = null;
  const stageInBegan = performance.now();
  try {
    const madeEmpty = files.makeWorkDir(job.id, attempt);
    let bytes = 0;
    if (hooks) {
      hooks.stages = openStages(hooks.sc, env.plugins, def.inputs, def.outputs);
      ({ stdin, bytes } = await stageIn(hooks.sc, env.plugins, hooks.stages, job.inputs as Record<string, InputMeta>));
    }
    // After stage-in: what its adapters put in the workdir goes to the job's user too.
    if (env.user) files.giveWorkDir(job.id, attempt, env.user, madeEmpty && hooks === undefined);
    env.emit("stage-in.finished", { time: (performance.now() - stageInBegan) / 1000, bytes });
  } catch (e) {
    if (signal.aborted) return { kind: "aborted", reason: String(signal.reason) };
    return stageFailure("stage-in", e);
  }
  if (signal.aborted) return { kind: "aborted", reason: String(signal.reason) };

  // Execute.
  let argv: string[];
  let cwd = workdir;
  const environment: Record<string, string> = { PATH: DEFAULT_PATH, HOME: workdir };
  try {
    argv = def.argv.map((a) => renderTemplate(a, vars));
    for (const [k, v] of Object.entries(def.environment)) environment[k] = renderTemplate(v, vars);
    if (def.cwd !== undefined) {
      cwd = resolveInside(workdir, renderTemplate(def.cwd, vars), [workdir, ...env.allowDirs], "cwd");
      mkdirSync(cwd, { recursive: true });
    }
  } catch (e) {
    return { kind: "failed", reason: (e as Error).message, retryable: false };
  }
  environment.FLUE_JOB_ID = job.id;
  environment.FLUE_JOB_ATTEMPT = String(attempt);
  environment.FLUE_JOB_WORKDIR = workdir;
  // Checked again here: the flags may have changed since the definition was registered.
  const found = findExecutable(def.exec, environment.PATH);
  const refused = checkExec(def.exec, env.execPolicy, environment.PATH, found);
  if (refused) return { kind: "failed", reason: refused, retryable: false };
  const executable = found ?? def.exec;
  const stderr = files.attemptFile(job.id, attempt, "stderr");
  let attached: Promise<void>[] | undefined;
  let ended: (() => void) | undefined;
  const result = await runProcess({
    cmd: withLimits([executable, ...argv], def.limits),
    cwd,
    env: environment,
    stdin,
    stdout: files.attemptFile(job.id, attempt, "stdout"),
    stderr,
    timeout: def.timeout,
    killGraceMs: env.killGraceMs,
    maxOutputBytes: outputCap(def.limits, env.maxOutputBytes),
    signal,
    containment: env.containment,
    user: env.user,
    reuseLogs: env.reuseLogs,
    onSpawn: (pid) => {
      env.emit("execution.started", { executable, pid });
      if (hooks) attached = attach(hooks.stages, { pid, ended: new Promise<void>((res) => (ended = res)) });
    },
  });
  ended?.();
  let attachFailed: AttemptEnd | undefined;
  if (attached) {
    await settleAttached(attached, env.killGraceMs, (reason) => hooks!.abort.abort(reason)).catch((e) => (attachFailed = stageFailure("attach", e)));
  }
  const metrics: Metrics = result.metrics;
  if (result.outcome === "spawn-error") {
    return { kind: "failed", reason: result.message ?? "cannot start the process", retryable: false };
  }
  env.emit("execution.finished", {
    executable,
    exit_status: result.exitStatus,
    ...(result.signal ? { signal: result.signal } : {}),
    metrics,
  });
  if (result.outcome === "cancelled") return { kind: "aborted", reason: result.message ?? "cancelled" };
  if (result.outcome !== "exited" || result.exitStatus !== 0) {
    const breach = result.outcome === "exited" || result.outcome === "signaled" ? limitBreach(def.limits, result, stderr) : undefined;
    if (breach) return { kind: "failed", reason: `${breach.reason} (${describe(result)})`, retryable: breach.retryable };
    return { kind: "failed", reason: describe(result), retryable: true };
  }
  if (attachFailed) return attachFailed;

  // Stage-out.
  env.emit("stage-out.started");
  const stageOutBegan = performance.now();
  try {
    const out = hooks ? await stageOut(hooks.sc, env.plugins, hooks.stages, (job.outputs ?? {}) as Record<string, OutputTarget>) : NO_OUTPUTS;
    env.emit("stage-out.finished", { time: (performance.now() - stageOutBegan) / 1000, bytes: out.bytes, outputs: out.outputs });
  } catch (e) {
    if (signal.aborted) return { kind: "aborted", reason: String(signal.reason) };
    return stageFailure("stage-out", e);
  }
  return { kind: "finished" };
}
