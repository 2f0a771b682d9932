/**
 * One queue for the fleet: stream `flue_work` (work-queue retention),
 * subject `flue.work.<application label>` (`_any` for definitions without
 * one). Every `queued` event this instance makes publishes one message
 * `{id, attempts}`; each instance pulls, through one durable consumer per
 * subject shared by the fleet (nats-server 2.9 has no `filter_subjects`),
 * only its labels' subjects and `_any`, never more messages than it has
 * free slots. A job whose inputs flue stored at submission goes instead to
 * `flue.work.@<instance id>`, pulled only by the instance that stored them
 * (durable `flue_work_at_<instance id>`). The pulls take turns for the free
 * slots, first come first served, so no subject starves. A submission
 * publishes with `enqueue` and waits for the stream before the job exists.
 *
 * A message received is checked against the job as this instance's
 * projection shows it:
 *
 *   unknown ── its `created` event has not arrived yet: nak, a moment
 *   QUEUED ─── take it: the executor starts the next attempt
 *   RUNNING ── on an ACTIVE peer: nak with a delay (never twice at once);
 *              on a LOST/STOPPED one, or here from before a restart:
 *              fail-over, a new attempt with a message saying why
 *   anything else (final, WAITING, superseded attempt) ── dropped
 *
 * While a job runs its message is kept alive (`working`) every third of
 * ack_wait (--failover-after); when the attempt ends here it is acked. An
 * instance killed stops both: after ack_wait the server redelivers.
 */
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type Consumer, type JetStreamClient, type JsMsg } from "@nats-io/jetstream";
import { nanos, type NatsConnection } from "@nats-io/transport-node";
import type { FlueEvent } from "../domain/index.ts";
import type { Offered, Queue, QueueHost } from "../queue/index.ts";
import type { JobRow, Store } from "../store/index.ts";
import { natsConnected } from "./connection.ts";
import type { InstanceRecord } from "./record.ts";

export const WORK_STREAM = "flue_work";
export const ANY_LABEL = "_any";
const DUPLICATE_WINDOW_MS = 2 * 60_000;
/** How long one pull waits for messages before asking again. */
const FETCH_EXPIRES_MS = 1000;
/** A job whose `created` event has not arrived yet is asked about again this soon. */
const NOT_YET_MS = 200;
/** …and given up (the job was deleted) after this long. */
const UNKNOWN_GIVE_UP_MS = 60_000;
const RETRY_MS = 1000;

const LABEL = /^[A-Za-z0-9_+-]+$/;
/** The subject token of a definition's application; one no instance could declare as a label goes where no one pulls. */
export const labelOf = (application: string | undefined) => (application === undefined ? ANY_LABEL : LABEL.test(application) ? application : "_unservable");
const subjectOf = (label: string) => `flue.work.${label}`;
const durableOf = (label: string) => `flue_work_${label}`;
/** Jobs whose inputs flue stored at submission (inline, base64, uploads) run where they are stored, until the object store shares them. */
const pinnedSubject = (instance: string) => `flue.work.@${instance}`;
const pinnedDurable = (instance: string) => `flue_work_at_${instance}`;
/** Whether any of a job's inputs is a file this instance stored (not a URI fetched where the job runs). */
export const storedInputs = (inputs: unknown): boolean =>
  Object.values((inputs ?? {}) as Record<string, { source?: string }>).some((m) => m?.source === "inline" || m?.source === "upload");
/** How long a submission waits for the stream to take its work messages. */
const PUBLISH_TIMEOUT_MS = 5000;

/** NATS cannot take work now: the submission is refused, nothing queued. */
export class FleetUnavailableError extends Error {}

/** A job about to be queued, for `enqueue`. */
export interface WorkItem {
  id: string;
  attempts: number;
  application: string | undefined;
  inputs: unknown;
}

interface WorkMessage {
  id: string;
  /** The job's attempts when it was queued: the message starts attempt `attempts + 1`. */
  attempts: number;
}

interface Held {
  msg: JsMsg;
  timer: Timer;
}

export interface FleetQueueOptions {
  self: string;
  labels: string[];
  failoverAfterMs: number;
  members: () => InstanceRecord[];
}

export class FleetQueue implements Queue {
  readonly shared = true;
  private readonly js: JetStreamClient;
  /** Messages checked and ready to start, oldest first. */
  private ready: { msg: JsMsg; offered: Offered }[] = [];
  /** The message of each job running here. */
  private readonly held = new Map<string, Held>();
  /** Slots promised to pulls in flight. */
  private reserved = 0;
  private host?: QueueHost;
  private stopped = false;
  /** Pulls waiting for slots, first come first served: each gets its turn, so no subject starves while others' pulls come and go. */
  private waiting: ((n: number) => void)[] = [];
  /** How many subjects' pulls share the free slots. */
  private share = 1;
  /** Grants slots now and then: the executor's slots change without telling, e.g. at start. */
  private ticker?: Timer;
  private unsubscribe?: () => void;
  private readonly pulls: Promise<void>[] = [];
  /** `id.attempts` of messages `enqueue` published already: their `queued` events publish nothing more. */
  private readonly sent = new Set<string>();

  private constructor(
    private readonly nc: NatsConnection,
    private readonly store: Store,
    private readonly opts: FleetQueueOptions,
  ) {
    this.js = jetstream(nc);
  }

  /** Makes the stream and this instance's consumers, and publishes every job queued here from now on. */
  static async start(nc: NatsConnection, store: Store, opts: FleetQueueOptions): Promise<FleetQueue> {
    const jsm = await jetstreamManager(nc);
    const config = { subjects: ["flue.work.>"], storage: StorageType.File, retention: RetentionPolicy.Workqueue, duplicate_window: nanos(DUPLICATE_WINDOW_MS) };
    try {
      await jsm.streams.info(WORK_STREAM);
    } catch {
      await jsm.streams.add({ name: WORK_STREAM, ...config });
    }
    const q = new FleetQueue(nc, store, opts);
    const consumers: Consumer[] = [];
    const subjects = [...new Set([...opts.labels, ANY_LABEL])].map((label) => ({ durable: durableOf(label), subject: subjectOf(label) }));
    // This instance's own subject: jobs whose inputs it stored; no one else pulls it.
    subjects.push({ durable: pinnedDurable(opts.self), subject: pinnedSubject(opts.self) });
    for (const { durable, subject } of subjects) {
      const consumer = {
        durable_name: durable,
        filter_subject: subject,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(opts.failoverAfterMs),
        max_deliver: -1,
      };
      try {
        await jsm.consumers.add(WORK_STREAM, consumer);
      } catch {
        // Made by another instance (maybe with another --failover-after): the latest start's setting holds.
        await jsm.consumers.update(WORK_STREAM, consumer.durable_name, { ack_wait: consumer.ack_wait, max_deliver: -1 });
      }
      consumers.push(await q.js.consumers.get(WORK_STREAM, consumer.durable_name));
    }
    q.unsubscribe = store.events.subscribe((e) => {
      if (e.type === "queued" && e.executor === opts.self) q.publish(e);
    });
    q.share = consumers.length;
    q.ticker = setInterval(() => q.wakePulls(), 250);
    q.pulls.push(...consumers.map((c) => q.pull(c)));
    return q;
  }

  attach(host: QueueHost): void {
    this.host = host;
  }

  /** Where a job's message goes: this instance's own subject when it stored the job's inputs, else its application's. */
  private subjectFor(application: string | undefined, inputs: unknown): string {
    return storedInputs(inputs) ? pinnedSubject(this.opts.self) : subjectOf(labelOf(application));
  }

  /**
   * Publishes the work messages of jobs about to be queued and waits for the
   * stream to take them all; throws FleetUnavailableError when NATS is away
   * or does not confirm, so the caller records nothing. Their `queued`
   * events then publish nothing more (and a copy would be dropped anyway:
   * same msgID within the duplicate window).
   */
  async enqueue(items: WorkItem[]): Promise<void> {
    if (!natsConnected(this.nc)) throw new FleetUnavailableError("not connected");
    const keys = items.map((w) => `${w.id}.${w.attempts}`);
    for (const k of keys) this.sent.add(k);
    try {
      await Promise.all(
        items.map((w, i) =>
          this.js.publish(this.subjectFor(w.application, w.inputs), JSON.stringify({ id: w.id, attempts: w.attempts } satisfies WorkMessage), {
            msgID: keys[i],
            timeout: PUBLISH_TIMEOUT_MS,
          }),
        ),
      );
    } catch (e) {
      for (const k of keys) this.sent.delete(k);
      throw new FleetUnavailableError((e as Error).message);
    }
  }

  private publish(e: FlueEvent): void {
    const job = this.store.jobs.get(e.id!);
    if (!job) return;
    const key = `${job.id}.${job.attempts}`;
    if (this.sent.delete(key)) return;
    const def = this.store.definitions.resolved(job.definitionId, job.definitionVersion);
    const body: WorkMessage = { id: job.id, attempts: job.attempts };
    const subject = this.subjectFor(def?.application, job.inputs);
    const send = (): void => {
      this.js.publish(subject, JSON.stringify(body), { msgID: key }).catch(() => {
        // NATS away: the job stays QUEUED until its message is in the stream.
        if (!this.stopped) setTimeout(send, RETRY_MS);
      });
    };
    send();
  }

  private free(): number {
    return (this.host?.free() ?? 0) - this.ready.length - this.reserved;
  }

  /** Waits for this pull's turn and the slots it may fill (0: the queue stopped). */
  private turn(): Promise<number> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.wakePulls();
    });
  }

  /** Gives free slots to the waiting pulls, oldest first. */
  private wakePulls(): void {
    if (this.stopped) {
      for (const w of this.waiting.splice(0)) w(0);
      return;
    }
    while (this.waiting.length) {
      const free = this.free();
      if (free <= 0) return;
      const n = Math.max(1, Math.floor(free / this.share));
      this.reserved += n;
      this.waiting.shift()!(n);
    }
  }

  /** Pulls one subject for as long as the queue runs, when its turn comes, for the slots it was given. */
  private async pull(consumer: Consumer): Promise<void> {
    while (!this.stopped) {
      const n = await this.turn();
      if (n === 0) break;
      let left = n;
      try {
        const batch = await consumer.fetch({ max_messages: n, expires: FETCH_EXPIRES_MS });
        for await (const m of batch) {
          left--;
          this.reserved--;
          this.receive(m);
        }
      } catch {
        if (!this.stopped) await Bun.sleep(RETRY_MS);
      } finally {
        this.reserved -= left;
        // Back of the line: the pulls that waited meanwhile go first.
        if (left > 0) this.wakePulls();
      }
    }
  }

  /** Decides what a message means for its job, by the diagram above. */
  private receive(m: JsMsg): void {
    if (this.stopped) return void m.nak();
    let w: WorkMessage;
    try {
      w = m.json<WorkMessage>();
    } catch {
      return void m.term();
    }
    const job = this.store.jobs.get(w.id);
    if (!job) {
      const age = Date.now() - Number(m.info.timestampNanos) / 1e6;
      return void (age > UNKNOWN_GIVE_UP_MS ? m.term() : m.nak(NOT_YET_MS));
    }
    if (job.state === "QUEUED" && w.attempts <= job.attempts) return this.offer(m, job);
    if (job.state !== "RUNNING" || w.attempts !== job.attempts - 1) return void m.term();
    if (job.instance === this.opts.self) {
      const held = this.held.get(job.id);
      if (held) return void (held.msg = m); // ours, redelivered after a slow moment: keep the newest delivery
      if (this.ready.some((r) => r.offered.id === job.id)) return void m.term();
      return this.offer(m, job, `this instance restarted while attempt ${job.attempts} ran; running it again on ${this.opts.self}`);
    }
    const peer = this.opts.members().find((x) => x.id === job.instance);
    // Heartbeats still fresh: it runs the job; ask again once it could have been noticed gone.
    if (peer?.state === "ACTIVE") return void m.nak(Math.max(1000, this.opts.failoverAfterMs / 3));
    const was = peer ? `${peer.state === "LOST" ? "lost" : "stopped"}` : "gone";
    this.offer(m, job, `instance ${job.instance} was ${was} while attempt ${job.attempts} ran; running again on ${this.opts.self}`);
  }

  private offer(msg: JsMsg, job: JobRow, note?: string): void {
    const offered: Offered = { id: job.id, attempt: job.attempts + 1, job, note };
    this.ready.push({ msg, offered });
    this.host?.wake();
  }

  claim(n: number, exclude: ReadonlyMap<string, unknown>): Offered[] {
    const out: Offered[] = [];
    while (out.length < n && this.ready.length) {
      const { msg, offered } = this.ready.shift()!;
      if (exclude.has(offered.id) || this.held.has(offered.id)) {
        msg.term(); // a copy for a job starting here already
        continue;
      }
      const timer = setInterval(() => this.held.get(offered.id)?.msg.working(), Math.max(200, this.opts.failoverAfterMs / 3));
      this.held.set(offered.id, { msg, timer });
      out.push(offered);
    }
    if (this.ready.length === 0) this.wakePulls();
    return out;
  }

  ended(jobId: string): void {
    const held = this.held.get(jobId);
    if (!held) return;
    clearInterval(held.timer);
    this.held.delete(jobId);
    // The attempt's end must be stored (and so on its way to the stream) before the message goes.
    this.store.events.flush();
    held.msg.ack();
    this.wakePulls();
  }

  /** Stops pulling; messages taken but not started go back at once. Jobs still running keep theirs until they end. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.ticker);
    this.unsubscribe?.();
    this.wakePulls();
    for (const r of this.ready) r.msg.nak();
    this.ready = [];
    for (const h of this.held.values()) clearInterval(h.timer);
    await Promise.race([Promise.all(this.pulls), Bun.sleep(FETCH_EXPIRES_MS + 500)]);
  }
}
