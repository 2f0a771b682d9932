/**
 * One attempt of one job: stage-in → execute → stage-out, each step emitting
 * its started/finished events. Returns how the attempt ended; the executor
 * decides what that means for the job (finish, retry, fail).
 */
import { mkdirSync } from "node:fs";
import { renderTemplate, type ParameterValue, type ResolvedDefinition } from "../domain/index.ts";
import type { QueuedJob } from "../store/index.ts";
import { runProcess, type Metrics, type RunResult } from "./process.ts";
import type { Containment } from "./containment.ts";
import { limitBreach, outputCap, withLimits } from "./limits.ts";
import type { Identity } from "./run-as.ts";
import { checkExec, DEFAULT_PATH, findExecutable, type ExecPolicy } from "./exec-policy.ts";
import { prepareOutputs, StageError, stageIn, stageOut, type InputMeta, type StageContext } from "./stages.ts";
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
  /** Emits one job event; the executor fills in id, executor, timestamp and thread. */
  emit: (type: string, fields?: Record<string, unknown>) => void;
}

export type AttemptEnd =
  | { kind: "finished" }
  /** `retryable` is false when another attempt cannot help (the executable does not exist). */
  | { kind: "failed"; reason: string; retryable: boolean }
  | { kind: "aborted"; reason: string };

function describe(r: RunResult): string {
  if (r.outcome === "exited") return `exit status ${r.exitStatus}`;
  return r.message ?? r.outcome;
}

export async function runAttempt(
  env: AttemptEnv,
  job: QueuedJob,
  def: ResolvedDefinition,
  attempt: number,
  signal: AbortSignal,
): Promise<AttemptEnd> {
  try {
    return await attemptSteps(env, job, def, attempt, signal);
  } finally {
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
): Promise<AttemptEnd> {
  const { files } = env;
  const workdir = files.workDir(job.id, attempt);
  const vars: Record<string, string> = { job_id: job.id, workdir, attempt: String(attempt) };
  for (const [k, v] of Object.entries(job.parameters as Record<string, ParameterValue>)) vars[k] = String(v);
  const ctx: StageContext = { files, jobId: job.id, attempt, workdir, allowDirs: env.allowDirs, vars, signal };

  // Stage-in.
  env.emit("stage-in.started");
  let stdin: string | null;
  const stageInBegan = performance.now();
  try {
    files.makeWorkDir(job.id, attempt);
    const staged = await stageIn(ctx, def.inputs, job.inputs as Record<string, InputMeta>);
    stdin = staged.stdin;
    prepareOutputs(ctx, def.outputs);
    if (env.user) files.giveWorkDir(job.id, attempt, env.user);
    env.emit("stage-in.finished", { time: (performance.now() - stageInBegan) / 1000, bytes: staged.bytes });
  } catch (e) {
    if (signal.aborted) return { kind: "aborted", reason: String(signal.reason) };
    const reason = `stage-in failed: ${e instanceof StageError ? e.message : (e as Error).message}`;
    return { kind: "failed", reason, retryable: true };
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
    cellName: `${job.id}-${attempt}`,
    onSpawn: (pid) => env.emit("execution.started", { executable, pid }),
  });
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

  // Stage-out.
  env.emit("stage-out.started");
  const stageOutBegan = performance.now();
  try {
    const out = stageOut(ctx, def.outputs);
    env.emit("stage-out.finished", { time: (performance.now() - stageOutBegan) / 1000, bytes: out.bytes, outputs: out.outputs });
  } catch (e) {
    return { kind: "failed", reason: `stage-out failed: ${(e as Error).message}`, retryable: true };
  }
  return { kind: "finished" };
}
