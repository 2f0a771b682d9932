/**
 * Jobs: submit (one or many, all or nothing), change while NEW, queue,
 * cancel, delete, wait. Every change is an event; the job row follows.
 */
import { mkdirSync } from "node:fs";
import {
  AppError,
  checkJobParameters,
  conflict,
  isFinal,
  newId,
  notFound,
  now,
  type FieldError,
  type FlueEvent,
  type JobState,
} from "../domain/index.ts";
import type { Executor, InputMeta } from "../executor/index.ts";
import type { JobFilter, JobRow, Store } from "../store/index.ts";
import { canSubmit, forbidden, maySeeJob, mayControlJob, seesAll, type Actor } from "./actor.ts";
import { parseRef } from "./definitions.ts";
import type { ControlReply, ControlRequest, Fleet, StoredInput } from "../cluster/record.ts";

type WorkItem = Parameters<Fleet["enqueue"]>[0][number];

/** After the instance that runs a job acted, how long to wait for its event to arrive here. */
const REPLICATED_MS = 3000;
/** What a submission or a queue answers when the fleet's work queue cannot take its jobs: nothing was recorded. */
export const NATS_UNREACHABLE = "the fleet's NATS is unreachable; nothing was queued, try again";
import { missingInputs, readInputJson, readSubmission, throwIfAny, type InputGiven, type Storages, type Submission } from "./job-input.ts";

export class JobService {
  constructor(
    private readonly store: Store,
    private readonly executor: Executor,
    private readonly instanceId: string,
    private readonly storages: Storages,
    /** The fleet, once joined: cancel and delete reach jobs that run elsewhere. */
    private readonly fleet: () => Fleet | undefined = () => undefined,
  ) {}

  private event(type: string, id: string, fields: Record<string, unknown> = {}): FlueEvent {
    return { type, id, executor: this.instanceId, timestamp: now(), ...fields };
  }

  /** A definition by reference and its resolved form; one that no longer validates is a 409 saying why. */
  private lookup = (ref: string | number) => {
    const definition = this.store.definitions.find(parseRef(ref));
    if (!definition) return undefined;
    try {
      return { definition, resolved: this.store.definitions.resolve(definition.id, definition.version) };
    } catch (e) {
      throw conflict(`${(e as Error).message}; register a new version of it`);
    }
  };

  /**
   * Submits one job, or an array of them validated all-or-nothing. Inputs are
   * written (in a fleet, and shared) before the events, so a job that exists
   * always has its inputs.
   */
  async submit(body: unknown, actor: Actor, form?: { files: Map<string, File>; texts: Map<string, string> }): Promise<JobRow[]> {
    if (!canSubmit(actor)) throw forbidden("a viewer may not submit jobs");
    const many = Array.isArray(body);
    const bodies = many ? (body as unknown[]) : [body];
    if (many && bodies.length === 0) throw new AppError(400, "invalid", "the list of jobs is empty", [{ path: "", message: "give at least one job" }]);
    if (bodies.length > 10_000) throw new AppError(413, "too_large", "at most 10000 jobs in one submission");
    const errors: FieldError[] = [];
    const subs: Submission[] = [];
    bodies.forEach((b, i) => {
      try {
        const s = readSubmission(b, many ? String(i) : "", this.lookup, this.storages, errors, form);
        if (s) subs.push(s);
      } catch (e) {
        if (e instanceof AppError && many) throw new AppError(e.status, e.code, `job ${i}: ${e.message}`, [{ path: `${i}.process_definition`, message: e.message }]);
        throw e;
      }
    });
    throwIfAny(errors, many ? "some jobs are not valid; none was submitted" : "the job is not valid");

    const events: FlueEvent[] = [];
    const ids: string[] = [];
    const work: WorkItem[] = [];
    for (const s of subs) {
      const id = newId();
      ids.push(id);
      const inputs = await this.writeInputs(id, s.inputs);
      if (s.state === "QUEUED") work.push({ id, attempts: 0, application: s.resolved.application });
      events.push(
        this.event("created", id, {
          definition_id: s.definition.id,
          definition_version: s.definition.version,
          definition_name: s.definition.name ?? undefined,
          owner: actor.username,
          parameters: s.parameters,
          inputs,
          ...(Object.keys(s.outputs).length ? { outputs: s.outputs } : {}),
          max_attempts: s.resolved.retries.count + 1,
        }),
      );
      if (s.state === "QUEUED") events.push(this.event("queued", id), ...this.unservable(id, s.resolved.application));
    }
    // In a fleet the stored inputs and the work messages go first, confirmed by NATS: if they cannot, no job is made (503).
    try {
      await this.shareInputs(subs.map((s, i) => ({ id: ids[i], inputs: s.inputs })));
      await this.enqueue(work);
    } catch (e) {
      for (const id of ids) this.executor.files.remove(id, 0);
      throw e;
    }
    // One row for a bulk submission, with every id in the details, in the events' transaction.
    this.store.events.withNext(() => this.store.audit.record(actor, "job.submit", many ? `${ids.length} jobs` : ids[0], many ? { ids } : undefined));
    // Read back in the events' transaction: no second one for the read.
    return this.store.events.commit(events, () => ids.map((id) => this.store.jobs.get(id)!));
  }

  /** In a fleet, publishes the jobs' work messages and waits for the stream; a 503 when NATS cannot take them. */
  private async enqueue(work: WorkItem[]): Promise<void> {
    const fleet = this.fleet();
    if (!fleet || work.length === 0) return;
    try {
      await fleet.enqueue(work);
    } catch {
      throw new AppError(503, "fleet_unavailable", NATS_UNREACHABLE);
    }
  }

  /** In a fleet, puts the inputs flue stores into the object store, so the jobs run on any instance; a 503 when NATS cannot take them. */
  private async shareInputs(jobs: { id: string; inputs: Record<string, InputGiven> }[]): Promise<void> {
    const fleet = this.fleet();
    if (!fleet) return;
    const stored: StoredInput[] = [];
    for (const { id, inputs } of jobs) {
      for (const [name, { data }] of Object.entries(inputs)) {
        if (data && !("uri" in data)) stored.push({ jobId: id, name, data: "bytes" in data ? data.bytes : data.file });
      }
    }
    if (stored.length === 0) return;
    try {
      await fleet.shareInputs(stored);
    } catch {
      throw new AppError(503, "fleet_unavailable", NATS_UNREACHABLE);
    }
  }

  private async writeInputs(id: string, inputs: Record<string, InputGiven>): Promise<Record<string, InputMeta>> {
    const metas: Record<string, InputMeta> = {};
    const names = Object.keys(inputs);
    if (names.length) mkdirSync(this.executor.files.inputsDir(id), { recursive: true, mode: 0o700 });
    for (const name of names) {
      const { meta, data } = inputs[name];
      metas[name] = meta;
      if (!data || "uri" in data) continue;
      await Bun.write(this.executor.files.input(id, name), "bytes" in data ? data.bytes : data.file);
    }
    return metas;
  }

  /**
   * In a fleet, a warning on a job queued for an application no ACTIVE
   * instance offers: it is not lost, it waits, and says so.
   */
  private unservable(id: string, application: string | undefined): FlueEvent[] {
    const fleet = this.fleet();
    if (!fleet || application === undefined) return [];
    if (fleet.members().some((m) => m.state === "ACTIVE" && m.labels.includes(application))) return [];
    return [this.event("message", id, { text: `no instance offers application ${application} yet; it waits until one joins`, level: "warning" })];
  }

  /** A job the actor may see, or 404 (never 403: others' jobs are not admitted to exist). */
  get(id: string, actor: Actor): JobRow {
    const job = this.store.jobs.get(id);
    if (!job || !maySeeJob(actor, job.owner)) throw notFound(`job ${JSON.stringify(id)}`);
    return job;
  }

  /** A job the actor may change: 404 when it cannot see it, 403 when it sees but may not touch it. */
  private control(id: string, actor: Actor, verb: string): JobRow {
    const job = this.get(id, actor);
    if (!mayControlJob(actor, job.owner)) {
      throw forbidden(canSubmit(actor) ? `only its owner or an admin may ${verb} job ${id}` : `a viewer may not ${verb} jobs`);
    }
    return job;
  }

  list(filter: JobFilter, limit: number, offset: number, actor: Actor) {
    const f = seesAll(actor) ? filter : { ...filter, owner: actor.username };
    return { rows: this.store.jobs.list(f, limit, offset), total: this.store.jobs.total(f) };
  }

  /** Changes parameters and inputs of a NEW job; `state: "QUEUED"` queues it too. */
  async patch(id: string, body: unknown, actor: Actor): Promise<JobRow> {
    const job = this.control(id, actor, "change");
    if (job.state !== "NEW") throw conflict(`job ${id} is ${job.state}; only a NEW job can be changed`);
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw new AppError(400, "invalid", "the body must be a JSON object", [{ path: "", message: "expected an object" }]);
    }
    const b = body as Record<string, unknown>;
    const errors: FieldError[] = [];
    for (const k of Object.keys(b)) {
      if (!["parameters", "inputs", "state"].includes(k)) errors.push({ path: k, message: "unknown field; a NEW job's parameters, inputs and state can change" });
    }
    if (b.state !== undefined && b.state !== "NEW" && b.state !== "QUEUED") errors.push({ path: "state", message: 'must be "NEW" or "QUEUED"' });
    const def = this.definitionOf(job);
    const merged = { ...(job.parameters as object), ...(typeof b.parameters === "object" && b.parameters ? b.parameters : {}) };
    const params = b.parameters !== undefined && (typeof b.parameters !== "object" || b.parameters === null || Array.isArray(b.parameters))
      ? { values: {}, errors: [{ path: "parameters", message: "parameters must be an object" }] }
      : checkJobParameters(def.parameters, merged);
    errors.push(...params.errors);
    const inputs: Record<string, InputGiven> = {};
    const names = def.inputs.map((x) => x.name);
    if (b.inputs !== undefined) {
      if (typeof b.inputs !== "object" || b.inputs === null || Array.isArray(b.inputs)) errors.push({ path: "inputs", message: "must be an object keyed by input name" });
      else {
        for (const [name, value] of Object.entries(b.inputs)) {
          if (!names.includes(name)) errors.push({ path: `inputs.${name}`, message: `unknown input; this definition takes: ${names.join(", ") || "none"}` });
          else {
            const given = readInputJson(value, `inputs.${name}`, this.storages, errors);
            if (given) inputs[name] = given;
          }
        }
      }
    }
    const allInputs = { ...(job.inputs as Record<string, InputMeta>) };
    if (b.state === "QUEUED") errors.push(...missingInputs(def, { ...allInputs, ...inputs }, "inputs"));
    throwIfAny(errors);
    await this.shareInputs([{ id, inputs }]);
    if (b.state === "QUEUED") await this.enqueue([{ id, attempts: job.attempts, application: def.application }]);
    Object.assign(allInputs, await this.writeInputs(id, inputs));
    const events = [this.event("updated", id, { parameters: params.values, inputs: allInputs })];
    if (b.state === "QUEUED") events.push(this.event("queued", id), ...this.unservable(id, def.application));
    // Which fields changed, never their values: a parameter may be a secret.
    const changed = { parameters: Object.keys((b.parameters as object | undefined) ?? {}), inputs: Object.keys(inputs), queued: b.state === "QUEUED" };
    this.store.events.withNext(() => this.store.audit.record(actor, "job.update", id, changed));
    this.store.events.append(...events);
    return this.store.jobs.get(id)!;
  }

  private definitionOf(job: JobRow) {
    const def = this.store.definitions.resolved(job.definitionId, job.definitionVersion);
    if (!def) throw conflict(`the definition version this job pinned (${job.definitionId} v${job.definitionVersion}) no longer exists`);
    return def;
  }

  /** NEW → QUEUED. */
  async queue(id: string, actor: Actor): Promise<JobRow> {
    const job = this.control(id, actor, "queue");
    if (job.state !== "NEW") throw conflict(`job ${id} is ${job.state}; only a NEW job can be queued`);
    throwIfAny(missingInputs(this.definitionOf(job), job.inputs as Record<string, unknown>, "inputs"), "the job cannot be queued");
    await this.enqueue([{ id, attempts: job.attempts, application: this.definitionOf(job).application }]);
    if (this.store.jobs.get(id)?.state !== "NEW") throw conflict(`job ${id} is ${this.store.jobs.get(id)?.state} now; only a NEW job can be queued`);
    this.store.events.withNext(() => this.store.audit.record(actor, "job.queue", id));
    this.store.events.append(this.event("queued", id), ...this.unservable(id, this.definitionOf(job).application));
    return this.store.jobs.get(id)!;
  }

  async cancel(id: string, actor: Actor): Promise<JobRow> {
    const job = this.control(id, actor, "cancel");
    if (isFinal(job.state as JobState)) throw conflict(`job ${id} is ${job.state} already`);
    if (!this.elsewhere(job) || !(await this.askElsewhere(job, "cancel", actor, ["cancelled", "finished", "failed", "deleted"]))) {
      await this.stop(id, actor.username, this.elsewhere(job) ? this.goneNote(job) : "");
    }
    this.store.audit.record(actor, "job.cancel", id);
    return this.store.jobs.get(id)!;
  }

  private async stop(id: string, username: string, note = ""): Promise<void> {
    const reason = `cancelled by ${username}${note}`;
    if (!(await this.executor.cancel(id, reason))) {
      const current = this.store.jobs.get(id);
      if (current && !isFinal(current.state as JobState)) this.store.events.append(this.event("cancelled", id, { reason, level: "warning" }));
    }
  }

  /** Cancels the job if it runs, removes its files, then the job itself. */
  async delete(id: string, actor: Actor): Promise<void> {
    const job = this.control(id, actor, "delete");
    if (!this.elsewhere(job) || !(await this.askElsewhere(job, "delete", actor, ["deleted"]))) await this.deleteHere(job, actor.username, this.elsewhere(job) ? this.goneNote(job) : "");
    this.store.audit.record(actor, "job.delete", id);
  }

  private async deleteHere(job: JobRow, username: string, note = ""): Promise<void> {
    const id = job.id;
    if (!isFinal(job.state as JobState)) await this.stop(id, username, note);
    const attempts = this.store.jobs.get(id)?.attempts ?? job.attempts;
    this.executor.files.remove(id, attempts);
    await this.fleet()?.removeResults(this.store.jobs.get(id) ?? job);
    // `attempts`: in a fleet, the other instances remove what they hold of it (inputs, logs of attempts run there).
    this.store.events.append(this.event("deleted", id, { attempts }));
  }

  /** In a fleet, whether the job runs (or ran) on another instance, which holds its process and files. */
  private elsewhere(job: JobRow): boolean {
    return this.fleet() !== undefined && job.instance !== null && job.instance !== this.instanceId;
  }

  /**
   * Asks the instance the job runs on to act, then waits (a little) for its
   * event to arrive here, so the answer shows the job as it now is. False
   * when that instance is not ACTIVE: then this one acts (the job's end is
   * recorded here, and its work message is dropped wherever it comes up);
   * one that is ACTIVE but does not answer is a 409 saying so.
   */
  private async askElsewhere(job: JobRow, verb: ControlRequest["verb"], actor: Actor, until: string[]): Promise<boolean> {
    const fleet = this.fleet()!;
    const where = job.instance!;
    if (fleet.members().find((m) => m.id === where)?.state !== "ACTIVE") return false;
    const arrived = this.nextEvent(job.id, until, REPLICATED_MS);
    let reply: ControlReply;
    try {
      reply = await fleet.ask(where, { verb, id: job.id, actor: actor.username });
    } catch (e) {
      arrived.cancel();
      throw conflict(`job ${job.id} runs on instance ${where}, which did not answer (${(e as Error).message}); try again`);
    }
    if (!reply.ok) {
      arrived.cancel();
      throw new AppError(reply.status, "conflict", `instance ${where}, where job ${job.id} runs: ${reply.message}`);
    }
    await arrived.done;
    return true;
  }

  /** What a cancel made here says of a job whose instance is not ACTIVE. */
  private goneNote(job: JobRow): string {
    const member = this.fleet()!.members().find((m) => m.id === job.instance);
    return `; instance ${job.instance}, where it ran, is ${member ? member.state : "gone"}: whatever of it still runs there is stopped when it is back`;
  }

  /** Resolves when an event of one of `types` for the job is appended here, or after `ms`. */
  private nextEvent(id: string, types: string[], ms: number): { done: Promise<void>; cancel: () => void } {
    let cancel = () => {};
    const done = new Promise<void>((resolve) => {
      const timer = setTimeout(finish, ms);
      const unsubscribe = this.store.events.subscribe((e) => {
        if (e.id === id && types.includes(e.type)) finish();
      });
      function finish() {
        clearTimeout(timer);
        unsubscribe();
        resolve();
      }
      cancel = finish;
    });
    return { done, cancel };
  }

  /** Serves another instance's request for a job running here: cancel or delete it, as asked there. */
  async handleControl(request: ControlRequest): Promise<ControlReply> {
    const job = this.store.jobs.get(request.id);
    if (!job) return { ok: false, status: 404, message: `job ${request.id} is not here` };
    if (request.verb === "delete") {
      await this.deleteHere(job, request.actor);
      return { ok: true };
    }
    if (isFinal(job.state as JobState)) return { ok: false, status: 409, message: `job ${job.id} is ${job.state} already` };
    await this.stop(job.id, request.actor);
    return { ok: true };
  }

  /** Resolves when the job reaches a final state or `seconds` pass, with the job as it is then. */
  async wait(id: string, seconds: number, actor: Actor): Promise<JobRow> {
    const job = this.get(id, actor);
    if (isFinal(job.state as JobState) || seconds <= 0) return job;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, seconds * 1000);
      const unsubscribe = this.store.events.subscribe((e) => {
        if (e.id === id && (e.type === "finished" || e.type === "failed" || e.type === "cancelled" || e.type === "deleted")) done();
      });
      function done() {
        clearTimeout(timer);
        unsubscribe();
        resolve();
      }
    });
    return this.get(id, actor);
  }
}
