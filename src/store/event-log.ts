/**
 * The one path every event takes: append to the log and project into the
 * tables in one transaction, then fan out to listeners (SSE, waiters, the
 * dispatcher). Listeners run after commit, so what they read is durable.
 */
import type { Database, Statement } from "bun:sqlite";
import { routingKey, type FlueEvent } from "../domain/index.ts";
import { Projection } from "./projection.ts";

export type EventListener = (event: FlueEvent) => void;

/** A message for the outbox beside an event: its subject, body and Nats-Msg-Id. */
export interface OutboxMessage {
  subject: string;
  payload: string;
  msgId: string;
}

interface StoredEvent {
  seq: number;
  type: string;
  timestamp: number;
  executor: string;
  thread: number | null;
  data: string | null;
  job_id: string | null;
}

/** How long an emitted event may wait for others to share its transaction, and how many may. */
const BATCH_MS = 5;
const BATCH_MAX = 2000;
/**
 * While batches come full (jobs ending by the hundred a second), the wait
 * widens: a commit costs flue's main thread ~300 µs however few events it
 * carries, and at 5 ms it carried six jobs' worth. Measured with /bin/true
 * jobs: 0.54–0.61 of the bare spawn loop at 5 ms, 0.61–0.66 at 20 ms. A lone
 * job's events still wait 5 ms at most.
 */
const BUSY_BATCH_MS = 20;
const BUSY_EVENTS = 50;

const BASE_FIELDS = new Set(["type", "id", "executor", "timestamp", "thread"]);

/** A caller of `commit`: told when its events are written, with what `read` found in their transaction. */
interface Waiter {
  resolve: (result: unknown) => void;
  reject: (e: unknown) => void;
  read: () => unknown;
  result?: unknown;
}

export class EventLog {
  private readonly listeners = new Set<EventListener>();
  private pending: FlueEvent[] = [];
  /** Other rows to write in the same transaction as the pending events (see `withNext`). */
  private alongside: (() => void)[] = [];
  private flushTimer: Timer | undefined;
  /** Whether the last batch was full enough that the next may wait BUSY_BATCH_MS. */
  private busy = false;
  private waiting: Waiter[] = [];
  private readonly projection: Projection;
  private readonly insert: Statement;
  private readonly forJob: Statement<StoredEvent, [string, number, number]>;
  private readonly appendTx: (events: FlueEvent[], alongside: (() => void)[], waiting: Waiter[]) => void;
  /** In a fleet, this instance's id: its own events also go to the outbox (see `publishAs`). */
  private origin: string | undefined;
  private outboxInsert: Statement | undefined;

  constructor(sqlite: Database) {
    this.projection = new Projection(sqlite);
    this.insert = sqlite.query(
      "INSERT INTO events (job_seq, type, timestamp, executor, thread, data) VALUES (?, ?, ?, ?, ?, ?)",
    );
    this.forJob = sqlite.query(
      `SELECT e.seq, e.type, e.timestamp, e.executor, e.thread, e.data, j.id AS job_id
       FROM events e JOIN jobs j ON j.seq = e.job_seq WHERE j.id = ? AND e.seq > ? ORDER BY e.seq LIMIT ?`,
    );
    const tx = sqlite.transaction((events: FlueEvent[], alongside: (() => void)[], waiting: Waiter[]) => {
      for (const write of alongside) write();
      for (const e of events) {
        // Events of other instances came from the stream: never back into it.
        if (this.outboxInsert && e.executor === this.origin) {
          this.outboxInsert.run(`flue.events.${e.executor}.${routingKey(e)}`, JSON.stringify(e), null);
          const also = this.alsoPublish?.(e);
          if (also) this.outboxInsert.run(also.subject, also.payload, also.msgId);
        }
        const jobSeq = this.projection.apply(e);
        if (jobSeq === null) continue;
        let data: Record<string, unknown> | null = null;
        for (const [k, v] of Object.entries(e)) {
          if (BASE_FIELDS.has(k) || v === undefined) continue;
          (data ??= {})[k] = v;
        }
        this.insert.run(jobSeq, e.type, e.timestamp, e.executor, e.thread ?? null, data && JSON.stringify(data));
      }
      this.projection.endBatch();
      for (const w of waiting) w.result = w.read();
    });
    this.appendTx = (events, alongside, waiting) => {
      try {
        tx(events, alongside, waiting);
      } catch (e) {
        this.projection.reset();
        throw e;
      }
    };
  }

  /**
   * In a fleet: from now on every event this instance makes (its `executor`
   * is `instanceId`) is also written to the outbox, in the same transaction,
   * for the publisher to send to NATS. Events of other instances are not.
   */
  publishAs(instanceId: string, sqlite: Database): void {
    this.origin = instanceId;
    this.outboxInsert = sqlite.query("INSERT INTO outbox (subject, payload, msg_id) VALUES (?, ?, ?)");
  }

  /**
   * In a fleet: another message an event of this instance sends, written to
   * the outbox in the event's transaction (the work message of a `queued`),
   * so it goes out however long NATS is away, and even after a restart.
   */
  alsoPublish?: (e: FlueEvent) => OutboxMessage | undefined;

  /** Appends events durably now, after any still pending from `emit`, then tells every listener. */
  append(...events: FlueEvent[]): void {
    this.pending.push(...events);
    this.flush();
  }

  /**
   * Appends events within BATCH_MS (BUSY_BATCH_MS while busy), in one
   * transaction with every other event emitted meanwhile. The executor's
   * steps take this path: a job emits ten events in a millisecond or two,
   * and on these machines each commit costs more than the inserts it carries.
   */
  emit(...events: FlueEvent[]): void {
    this.pending.push(...events);
    if (this.pending.length >= BATCH_MAX) return this.flush();
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => this.flushQuietly(), this.busy ? BUSY_BATCH_MS : BATCH_MS);
  }

  /**
   * Appends events durably, in one transaction with every other event
   * committed in this turn of the event loop (group commit), and resolves
   * once they are written, with what `read` found in that transaction after
   * they were projected. Requests that must not answer before their events
   * are stored take this path: fifty concurrent submissions share a commit.
   * The read goes inside because a read on its own is a transaction of its
   * own, and in WAL mode each takes and drops a shared-memory lock: two
   * fcntl calls, ~5 µs on these machines.
   */
  commit<T>(events: FlueEvent[], read: () => T): Promise<T> {
    this.pending.push(...events);
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({ resolve: resolve as (result: unknown) => void, reject, read });
      if (this.waiting.length === 1) setImmediate(() => this.flushQuietly());
    });
  }

  /**
   * Writes another row (an audit entry) in the transaction that carries the
   * next events: a request that commits its events pays for one commit, not
   * two, and the row stands or falls with them.
   */
  withNext(write: () => void): void {
    this.alongside.push(write);
  }

  /** A flush from a timer: a failure is reported, since no caller is there to hear it. */
  private flushQuietly(): void {
    try {
      this.flush();
    } catch (e) {
      console.error("flue: could not write events to the store:", e);
    }
  }

  /** Writes what is pending in one transaction, then tells every listener. */
  flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const waiting = this.waiting;
    this.waiting = [];
    if (this.pending.length === 0 && this.alongside.length === 0 && waiting.length === 0) return;
    const batch = this.pending;
    this.busy = batch.length >= BUSY_EVENTS;
    const alongside = this.alongside;
    this.pending = [];
    this.alongside = [];
    try {
      this.appendTx(batch, alongside, waiting);
    } catch (e) {
      // Nothing of the batch was written; who waits for it hears why.
      for (const w of waiting) w.reject(e);
      throw e;
    }
    for (const w of waiting) w.resolve(w.result);
    for (const e of batch) {
      for (const listener of this.listeners) {
        try {
          listener(e);
        } catch (err) {
          console.error("flue: event listener failed:", err);
        }
      }
    }
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A job's stored events in order, after `afterSeq`. */
  listForJob(jobId: string, afterSeq = 0, limit = 1000): (FlueEvent & { seq: number })[] {
    return this.forJob.all(jobId, afterSeq, limit).map((r) => ({
      ...(r.data ? (JSON.parse(r.data) as object) : {}),
      seq: r.seq,
      type: r.type,
      id: r.job_id ?? undefined,
      executor: r.executor,
      timestamp: r.timestamp,
      ...(r.thread === null ? {} : { thread: r.thread }),
    }));
  }
}
