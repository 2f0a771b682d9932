/**
 * One queue for the fleet: stream `flue_work` (work-queue retention),
 * subject `flue.work.<application label>` (`_any` for definitions without
 * one). Every `queued` event this instance makes sends one message
 * `{id, attempts}`, through the outbox (events.ts) so that it survives an
 * outage or a restart; each instance pulls, through one durable consumer per
 * subject shared by the fleet (nats-server 2.9 has no `filter_subjects`),
 * only its labels' subjects and `_any`. A job whose inputs flue stored at
 * submission goes there too: the object store has its inputs (results.ts).
 * A submission publishes with `enqueue` and waits for the stream before the
 * job exists.
 *
 * Pulling: every free slot keeps one pull of one message open (pulls.ts),
 * never more pulls than free slots, so an instance never holds a message it
 * has no slot for.
 *
 * A message received is checked against the job as this instance's
 * projection shows it. The projection may lag the message (the events come
 * through another stream): a message it is behind on is asked about again,
 * never dropped, or the job would be lost.
 *
 *   unknown ── its `created` event has not arrived yet: nak, a moment
 *   behind ─── NEW, or an earlier attempt's RUNNING/WAITING/QUEUED: nak, a moment
 *   QUEUED ─── take it: the executor starts the next attempt
 *   RUNNING ── on an ACTIVE peer: nak with a delay (never twice at once);
 *              on a LOST/STOPPED one, or here from before a restart:
 *              fail-over, a new attempt with a message saying why
 *   final, or an attempt already past ── dropped
 *
 * While a job runs its message is kept alive (`working`) every third of
 * ack_wait (--failover-after); when the attempt ends here it is acked. An
 * instance killed stops both: after ack_wait the server redelivers.
 */
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamClient, type JsMsg } from "@nats-io/jetstream";
import { nanos, type NatsConnection } from "@nats-io/transport-node";
import { isFinal, type FlueEvent, type JobState } from "../domain/index.ts";
import type { Offered, Queue, QueueHost } from "../queue/index.ts";
import type { JobRow, OutboxMessage, Store } from "../store/index.ts";
import { natsConnected } from "./connection.ts";
import { Pulls } from "./pulls.ts";
import type { InstanceRecord } from "./record.ts";

export const WORK_STREAM = "flue_work";
export const ANY_LABEL = "_any";
const DUPLICATE_WINDOW_MS = 2 * 60_000;
/** A job this instance does not know yet (or knows an older state of) is asked about again this soon, then less often… */
const NOT_YET_MS = 200;
const NOT_YET_MAX_MS = 5000;
/** …and given up (the job was deleted) after this long when it stays unknown. */
const UNKNOWN_GIVE_UP_MS = 60_000;
const RETRY_MS = 1000;
/** How long a submission waits for the stream to take its work messages. */
const PUBLISH_TIMEOUT_MS = 5000;

const LABEL = /^[A-Za-z0-9_+-]+$/;
/** The subject token of a definition's application; one no instance could declare as a label goes where no one pulls. */
export const labelOf = (application: string | undefined) => (application === undefined ? ANY_LABEL : LABEL.test(application) ? application : "_unservable");
const subjectOf = (label: string) => `flue.work.${label}`;
const durableOf = (label: string) => `flue_work_${label}`;

/** NATS cannot take work now: the submission is refused, nothing queued. */
export class FleetUnavailableError extends Error {}

/** A job about to be queued, for `enqueue`. */
export interface WorkItem {
  id: string;
  attempts: number;
  application: string | undefined;
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
  /** Whether the events the fleet had when this instance joined are all applied here. */
  caughtUp: () => boolean;
}

export class FleetQueue implements Queue {
  readonly shared = true;
  private readonly js: JetStreamClient;
  /** Messages checked and ready to start, oldest first. */
  private ready: { msg: JsMsg; offered: Offered }[] = [];
  /** The message of each job running here. */
  private readonly held = new Map<string, Held>();
  private host?: QueueHost;
  private stopped = false;
  private pulls?: Pulls;
  /** `id.attempts` of messages `enqueue` published already: their `queued` events publish nothing more. */
  private readonly sent = new Set<string>();
  /** Reply subjects of acks NATS has not confirmed (yet): sent again when it was away, or a restarted server hands their messages out again. */
  private readonly unconfirmed = new Set<string>();
  private ackTimer?: Timer;

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
    } catch (e) {
      // Only when it is missing: a cluster electing the stream's leader says something else, and the stream is there.
      if ((e as Error).message !== "stream not found") throw e;
      await jsm.streams.add({ name: WORK_STREAM, ...config });
    }
    const q = new FleetQueue(nc, store, opts);
    const subjects: { subject: string; durable: string }[] = [];
    for (const label of new Set([...opts.labels, ANY_LABEL])) {
      const consumer = {
        durable_name: durableOf(label),
        filter_subject: subjectOf(label),
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
      subjects.push({ subject: consumer.filter_subject, durable: consumer.durable_name });
    }
    store.events.alsoPublish = (e) => (e.type === "queued" && e.executor === opts.self ? q.workMessage(e) : undefined);
    q.pulls = await Pulls.start(nc, q.js, WORK_STREAM, subjects, {
      free: () => (q.stopped ? 0 : (q.host?.free() ?? 0) - q.ready.length),
      receive: (m) => q.receive(m),
      rejoined: () => q.rejoined(),
    });
    return q;
  }

  attach(host: QueueHost): void {
    this.host = host;
  }

  current(): boolean {
    return this.opts.caughtUp();
  }

  alive(): string[] {
    return this.opts.members().flatMap((m) => (m.state === "ACTIVE" || m.id === this.opts.self ? [m.id] : []));
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
          this.js.publish(subjectOf(labelOf(w.application)), JSON.stringify({ id: w.id, attempts: w.attempts } satisfies WorkMessage), {
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

  /**
   * The work message a `queued` event of this instance sends, for the outbox
   * (in the event's transaction: it goes out however long NATS is away, and
   * after a restart). A submission's went already (`enqueue`). Its id is the
   * job's and attempt's, so the same job queued by two instances at once (a
   * retry two of them took over) is one message.
   */
  workMessage(e: FlueEvent): OutboxMessage | undefined {
    const job = this.store.jobs.get(e.id!);
    if (!job) return undefined;
    const msgId = `${job.id}.${job.attempts}`;
    if (this.sent.delete(msgId)) return undefined;
    const def = this.store.definitions.resolved(job.definitionId, job.definitionVersion);
    return { subject: subjectOf(labelOf(def?.application)), payload: JSON.stringify({ id: job.id, attempts: job.attempts } satisfies WorkMessage), msgId };
  }

  /** Puts a message back for a moment: this instance's projection has not caught up with it yet. */
  private notYet(m: JsMsg): void {
    const delay = Math.min(NOT_YET_MS * m.info.deliveryCount, NOT_YET_MAX_MS);
    m.nak(delay);
    this.pulls?.due(m.subject, delay);
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
      return age > UNKNOWN_GIVE_UP_MS ? void m.term() : this.notYet(m);
    }
    // Only the message of the attempt queued now starts one; an older copy (a put-back that waited
    // out an outage, a retry queued twice) is dropped, or two would start at once.
    if (job.state === "QUEUED") return w.attempts === job.attempts ? this.offer(m, job) : w.attempts > job.attempts ? this.notYet(m) : void m.term();
    if (job.state === "RUNNING" && w.attempts === job.attempts - 1) return this.running(m, job);
    // Not final and not past this message's attempt: the `queued` that sent it has not arrived here yet.
    if (!isFinal(job.state as JobState) && w.attempts >= job.attempts) return this.notYet(m);
    m.term();
  }

  /** A message for the attempt the projection shows running: a copy of ours, or a fail-over. */
  private running(m: JsMsg, job: JobRow): void {
    if (job.instance === this.opts.self) {
      const held = this.held.get(job.id);
      if (held) return void (held.msg = m); // ours, redelivered after a slow moment: keep the newest delivery
      const waiting = this.ready.find((r) => r.offered.id === job.id);
      if (waiting) return void (waiting.msg = m);
      return this.offer(m, job, `this instance restarted while attempt ${job.attempts} ran; running it again on ${this.opts.self}`);
    }
    const peer = this.opts.members().find((x) => x.id === job.instance);
    if (peer?.state === "ACTIVE") {
      // Heartbeats still fresh: it runs the job; ask again once it could have been noticed gone.
      const delay = Math.max(1000, this.opts.failoverAfterMs / 3);
      m.nak(delay);
      return this.pulls?.due(m.subject, delay);
    }
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
      const held = this.held.get(offered.id);
      if (held) {
        held.msg = msg; // a copy for a job starting here already: keep the newest delivery
        continue;
      }
      // Cancelled or deleted while it waited here.
      const now = this.store.jobs.get(offered.id);
      if (exclude.has(offered.id) || !now || isFinal(now.state as JobState)) {
        msg.term();
        continue;
      }
      const timer = setInterval(() => this.held.get(offered.id)?.msg.working(), Math.max(200, this.opts.failoverAfterMs / 3));
      this.held.set(offered.id, { msg, timer });
      out.push(offered);
    }
    this.pulls?.fill();
    return out;
  }

  ended(jobId: string): void {
    const held = this.held.get(jobId);
    if (!held) return;
    clearInterval(held.timer);
    this.held.delete(jobId);
    // The attempt's end must be stored (and so on its way to the stream) before the message goes.
    this.store.events.flush();
    const reply = (held.msg as JsMsg & { reply: string }).reply;
    this.unconfirmed.add(reply);
    held.msg.ackAck().then(
      () => this.unconfirmed.delete(reply),
      () => this.unsettled(reply),
    );
    this.pulls?.fill();
  }

  /** An ack NATS did not confirm: sent again soon while connected; NATS away, `rejoined` sends it. */
  private unsettled(reply: string): void {
    this.unconfirmed.add(reply);
    if (this.ackTimer || this.stopped || !natsConnected(this.nc)) return;
    this.ackTimer = setTimeout(() => {
      this.ackTimer = undefined;
      this.sendAcks();
    }, RETRY_MS);
  }

  private sendAcks(): void {
    for (const reply of this.unconfirmed) {
      this.nc.request(reply, "+ACK", { timeout: PUBLISH_TIMEOUT_MS }).then(
        () => this.unconfirmed.delete(reply),
        () => this.unsettled(reply),
      );
    }
  }

  /** Back from an outage: settles what ended meanwhile, and renews what still runs before its ack_wait runs out. */
  private rejoined(): void {
    this.sendAcks();
    for (const h of this.held.values()) h.msg.working();
  }

  /** Stops pulling; messages taken but not started go back at once. Jobs still running keep theirs until they end. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.ackTimer);
    this.store.events.alsoPublish = undefined;
    for (const r of this.ready) r.msg.nak();
    this.ready = [];
    for (const h of this.held.values()) clearInterval(h.timer);
    await this.pulls?.stop();
  }
}
