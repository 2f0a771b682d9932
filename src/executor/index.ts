/**
 * The local executor: N slots, a dispatcher that fills them from the queue,
 * retries by each definition's policy, cancel, graceful shutdown, and
 * recovery of what a crashed flue left running.
 */
import { now, retryDelay, type FlueEvent, type ResolvedDefinition } from "../domain/index.ts";
import type { QueuedJob, Store } from "../store/index.ts";
import type { Queue } from "../queue/index.ts";
import { runAttempt, type AttemptEnd } from "./attempt.ts";
import { join } from "node:path";
import { openContainment, type Containment } from "./containment.ts";
import { execPolicy, type ExecPolicy } from "./exec-policy.ts";
import { killLeftovers } from "./process.ts";
import { jobUser, type Identity, type RunAs } from "./run-as.ts";
import { JobFiles } from "./workdir.ts";
import type { PluginHost } from "./stages.ts";

export { JobFiles, isInside, isPlainFile, readFrom, sizeOf } from "./workdir.ts";
export { checkExec, execPolicy, type ExecPolicy } from "./exec-policy.ts";
export type { ContainmentKind } from "./containment.ts";
export type { InputMeta, OutputMeta, OutputTarget, PluginHost } from "./stages.ts";
export { blockedAncestor, hostAccounts, jobUser, resolveRunAs, type Accounts, type Identity, type RunAs } from "./run-as.ts";

export interface ExecutorOptions {
  instanceId: string;
  dataDir: string;
  slots: number;
  killGraceMs: number;
  maxOutputBytes: number;
  allowDirs: readonly string[];
  /** Executables definitions may run, and those they may not (see exec-policy.ts). */
  allowExec?: readonly string[];
  denyExec?: readonly string[];
  /** "process-group" turns cgroups off even where the host offers them. */
  containment?: "auto" | "process-group";
  /** Whom jobs run as (--run-as); flue's own user when not given. */
  runAs?: RunAs;
  /** The adapters and storages jobs' inputs and outputs go through. */
  plugins: PluginHost;
}

interface Running {
  jobId: string;
  thread: number;
  controller: AbortController;
  done: Promise<void>;
}

export class Executor {
  readonly files: JobFiles;
  readonly execPolicy: ExecPolicy;
  private containment: Containment | undefined;
  private readonly running = new Map<string, Running>();
  private readonly freeThreads: number[];
  /**
   * Jobs started here whose `started` event is still in the event log's next
   * batch: the store shows them QUEUED, so the queue must not offer them again.
   */
  private readonly starting = new Map<string, true>();
  private accepting = false;
  private dispatchScheduled = false;
  private waitingTimer: Timer | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly store: Store,
    private queue: Queue,
    private readonly opts: ExecutorOptions,
  ) {
    this.files = new JobFiles(opts.dataDir, 2 * opts.slots + 8, this.userOf(1) !== undefined);
    this.execPolicy = execPolicy(opts.allowExec ?? [], opts.denyExec ?? []);
    this.freeThreads = Array.from({ length: opts.slots }, (_, i) => opts.slots - i);
  }

  get slots() {
    return this.opts.slots;
  }
  get busy() {
    return this.running.size;
  }

  /** Whom jobs run as, for people: "nobody (65534:65534)". */
  get runAs(): string {
    return this.opts.runAs?.label ?? "flue's own user";
  }

  /** Whom slot `thread`'s jobs run as, or undefined when that is flue's own user (no switch). */
  private userOf(thread: number): Identity | undefined {
    return this.opts.runAs && jobUser(this.opts.runAs, thread);
  }

  /** How jobs' processes are held: "cgroup" or "process-group" (known once started). */
  get containmentKind() {
    return this.containment?.kind ?? "process-group";
  }
  /** Why cgroups are not in use, if they are not. */
  get containmentReason() {
    return this.containment?.reason;
  }

  /**
   * Runs when an attempt has ended, before its end is recorded: the fleet
   * sets it to share the attempt's logs and outputs, so whoever sees the
   * job end can read them on any instance. Its failure is a message on the
   * job, never a lost job.
   */
  afterAttempt?: (jobId: string, attempt: number) => Promise<void>;

  /**
   * Runs at stage-in for an input flue stored at submission that is not in
   * this data dir (the job was submitted to another instance): the fleet
   * sets it to fetch the input into place. False when there is none to get.
   */
  fetchInput?: (jobId: string, name: string) => Promise<boolean>;

  /** Takes jobs from `queue` instead (the fleet's, once joined); before start() only. */
  useQueue(queue: Queue): void {
    if (this.accepting) throw new Error("the executor's queue cannot change once it runs");
    this.queue = queue;
  }

  /** Recovers what a previous run left, announces readiness and starts dispatching. */
  start(): void {
    this.containment = openContainment(this.opts.instanceId, this.opts.containment);
    this.recover();
    this.accepting = true;
    this.queue.attach?.({ free: () => (this.accepting ? this.freeThreads.length : 0), wake: () => this.scheduleDispatch() });
    this.unsubscribe = this.store.events.subscribe((e) => {
      // In a fleet another instance records a cancel (or delete) itself when it took this one for
      // gone; this one, still running the job (it was cut off, say), stops it once it hears.
      if ((e.type === "cancelled" || e.type === "deleted") && e.executor !== this.opts.instanceId) this.running.get(e.id!)?.controller.abort(e.reason ?? `${e.type} on instance ${e.executor}`);
      if (e.type === "started") this.starting.delete(e.id!);
      if (e.type === "queued" || e.type === "executor.ready") this.scheduleDispatch();
      else if (e.type === "waiting") this.armWaitingTimer();
    });
    this.emit({ type: "executor.ready", slots: this.opts.slots }, true);
    this.armWaitingTimer();
  }

  /** Records an event with the next batch (see EventLog.emit); `durable` writes it now. */
  private emit(event: Omit<FlueEvent, "executor" | "timestamp">, durable = false): void {
    const e = { executor: this.opts.instanceId, timestamp: now(), ...event } as FlueEvent;
    if (durable) this.store.events.append(e);
    else this.store.events.emit(e);
  }

  /**
   * Jobs left RUNNING by this instance when it died: kill whatever of their
   * processes is still alive, then retry or fail each by its policy. From a
   * shared queue only the processes and files: the job's message comes back
   * once its ack_wait ends, and the fleet runs it again (here, or where it
   * already moved on: this instance's view of it may be behind).
   */
  private recover(): void {
    const jobs = this.store.jobs.runningOn(this.opts.instanceId);
    const killed = killLeftovers(new Set(jobs.map((j) => j.id)), join(this.opts.dataDir, "work"));
    // Whatever escaped both the scan and its process group (a daemon that cleared its environment).
    this.containment!.recover();
    for (const job of jobs) {
      this.files.reclaimWorkDir(job.id, job.attempts);
      if (this.queue.shared) {
        const n = killed.get(job.id) ?? 0;
        if (n) console.log(`flue: stopped ${n === 1 ? "the process" : `${n} processes`} left by job ${job.id}; the fleet runs the job again`);
        continue;
      }
      const left = job.attempts < job.maxAttempts;
      const n = killed.get(job.id) ?? 0;
      const reason =
        `flue stopped while attempt ${job.attempts} was running` +
        (n ? `; its ${n === 1 ? "process was" : `${n} processes were`} stopped` : "") +
        (left ? "; retrying" : "; no attempts left");
      this.emit({ type: left ? "queued" : "failed", id: job.id, reason, level: left ? "warning" : "error" }, true);
    }
  }

  private scheduleDispatch(): void {
    if (this.dispatchScheduled || !this.accepting) return;
    this.dispatchScheduled = true;
    queueMicrotask(() => {
      this.dispatchScheduled = false;
      this.dispatch();
    });
  }

  /** One look at the queue for as many jobs as there are free slots. */
  private dispatch(): void {
    if (!this.accepting || this.freeThreads.length === 0) return;
    for (const o of this.queue.claim(this.freeThreads.length, this.starting)) this.launch(o.job, o.note);
  }

  private launch(job: QueuedJob, note?: string): void {
    const jobId = job.id;
    const thread = this.freeThreads.pop()!;
    const attempt = job.attempts + 1;
    const controller = new AbortController();
    const emit = (type: string, fields: Record<string, unknown> = {}) => this.emit({ type, id: jobId, thread, ...fields });
    this.starting.set(jobId, true);
    if (note) emit("message", { text: note, level: "warning" });
    emit("started", { attempt });
    const run = async (): Promise<AttemptEnd> => {
      let def: ResolvedDefinition;
      try {
        def = this.store.definitions.resolve(job.definitionId, job.definitionVersion);
      } catch (e) {
        return { kind: "failed", reason: (e as Error).message, retryable: false };
      }
      return runAttempt(
        {
          files: this.files,
          allowDirs: this.opts.allowDirs,
          killGraceMs: this.opts.killGraceMs,
          maxOutputBytes: this.opts.maxOutputBytes,
          execPolicy: this.execPolicy,
          containment: this.containment!,
          user: this.userOf(thread),
          // One user for every job keeps no job from another anyway (README): empty logs may be reused.
          reuseLogs: !this.opts.runAs || this.opts.runAs.count === 1,
          plugins: this.opts.plugins,
          fetchInput: this.fetchInput,
          emit,
        },
        { ...job, attempts: attempt },
        def,
        attempt,
        controller.signal,
      );
    };
    const done = run()
      .catch((e): AttemptEnd => ({ kind: "failed", reason: `internal error: ${(e as Error).message}`, retryable: true }))
      .then(async (end) => {
        await this.afterAttempt?.(jobId, attempt).catch((e) => {
          const why = (e as Error).message;
          console.error(`flue: could not share the logs and outputs of job ${jobId} with the fleet: ${why}`);
          emit("message", { text: `the logs and outputs of attempt ${attempt} were not shared with the fleet (${why}); only instance ${this.opts.instanceId} has them`, level: "warning" });
        });
        return end;
      })
      .then((end) => this.settle(jobId, attempt, job.maxAttempts, end, emit))
      .catch((e) => console.error(`flue: could not record the end of job ${jobId}:`, e))
      .finally(() => {
        this.queue.ended?.(jobId);
        this.running.delete(jobId);
        this.freeThreads.push(thread);
        this.scheduleDispatch();
      });
    this.running.set(jobId, { jobId, thread, controller, done });
  }

  /** What an attempt's end means for its job. */
  private settle(jobId: string, attempt: number, maxAttempts: number, end: AttemptEnd, emit: (type: string, f?: Record<string, unknown>) => void): void {
    if (end.kind === "finished") return emit("finished");
    if (end.kind === "aborted") {
      if (end.reason === SHUTDOWN) {
        return emit("queued", { reason: `attempt ${attempt} was stopped because flue shut down; the job will run again`, level: "warning" });
      }
      return emit("cancelled", { reason: end.reason, level: "warning" });
    }
    const of = `attempt ${attempt} of ${maxAttempts} failed: ${end.reason}`;
    if (!end.retryable || attempt >= maxAttempts) return emit("failed", { reason: maxAttempts > 1 ? of : end.reason });
    const job = this.store.jobs.get(jobId);
    const def = job ? this.store.definitions.resolved(job.definitionId, job.definitionVersion) : undefined;
    const delay = def ? retryDelay(def.retries, attempt + 1) : 0;
    if (delay <= 0) return emit("queued", { reason: `${of}; retrying`, level: "warning" });
    emit("waiting", { until: now() + delay, reason: `${of}; retrying in ${delay} s`, level: "warning" });
  }

  /**
   * Moves waiting jobs whose backoff elapsed back to the queue, and sleeps
   * until the next one. In a fleet that includes the retries of instances
   * that are gone (two survivors queueing one at once send one work message:
   * it is named by the job and attempt), so the timer also wakes every
   * ADOPT_MS to notice an instance lost meanwhile.
   */
  private armWaitingTimer(): void {
    clearTimeout(this.waitingTimer);
    if (!this.accepting) return;
    // Just joined a fleet: what looks due here may have been taken over and ended meanwhile.
    if (this.queue.current?.() === false) {
      this.waitingTimer = setTimeout(() => this.armWaitingTimer(), CATCH_UP_MS);
      return;
    }
    const alive = this.queue.alive?.();
    // Written at once, not batched: the next look at the store must not find them WAITING again.
    for (const { id, instance } of this.store.jobs.dueWaiting(now(), alive)) {
      const adopted = instance !== null && instance !== this.opts.instanceId;
      this.emit({ type: "queued", id, ...(adopted && { reason: `instance ${instance} is gone; its retry is queued by ${this.opts.instanceId}`, level: "warning" }) }, true);
    }
    const next = this.store.jobs.earliestWaiting(alive);
    const wait = Math.min(next === undefined ? Infinity : (next - now()) * 1000, alive ? ADOPT_MS : Infinity);
    if (wait < Infinity) this.waitingTimer = setTimeout(() => this.armWaitingTimer(), Math.max(10, wait));
  }

  /** Stops a job running here. Resolves once its attempt has ended; false if it does not run here. */
  async cancel(jobId: string, reason: string): Promise<boolean> {
    const r = this.running.get(jobId);
    if (!r) return false;
    r.controller.abort(reason);
    await r.done;
    this.store.events.flush(); // the caller reads the job next
    return true;
  }

  isRunning(jobId: string): boolean {
    return this.running.has(jobId);
  }

  /**
   * Stops taking jobs, lets running ones finish within `graceMs`, then stops
   * them; each stopped job goes back to the queue with a message saying why.
   */
  async shutdown(graceMs: number): Promise<void> {
    this.accepting = false;
    clearTimeout(this.waitingTimer);
    this.unsubscribe?.();
    const all = () => Promise.all([...this.running.values()].map((r) => r.done));
    let timer: Timer | undefined;
    const expired = new Promise<"expired">((res) => (timer = setTimeout(() => res("expired"), graceMs)));
    if ((await Promise.race([all(), expired])) === "expired") {
      for (const r of this.running.values()) r.controller.abort(SHUTDOWN);
      await all();
    }
    clearTimeout(timer);
    this.containment?.close();
  }
}

const SHUTDOWN = "flue is shutting down";
/** In a fleet, how often waiting jobs are looked at again for retries of instances lost meanwhile. */
const ADOPT_MS = 2000;
/** In a fleet, how often a joining instance looks whether it has caught up with the events before it queues retries. */
const CATCH_UP_MS = 250;
