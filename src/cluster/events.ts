/**
 * Event replication: every instance's events in every instance's log.
 *
 * Out: an event this instance makes is written, in its own transaction,
 * to the outbox table as well (EventLog.publishAs). The publisher sends
 * the outbox to stream `flue_events` (subject `flue.events.<instance>.<routing
 * key>`) in order, pipelined, each with Nats-Msg-Id `<instance>.<outbox
 * seq>`, and removes what the stream acknowledged. The work messages of
 * `queued` events ride the same outbox (to `flue_work`, with their own id). While NATS is away the
 * outbox grows; back, it is sent. Sent twice after a lost acknowledgement,
 * the stream's duplicate window drops the copy.
 *
 * In: an ordered consumer reads the stream from the last sequence applied
 * here, and appends other instances' events to this instance's log through
 * EventLog.append, as if they were made here: the projection, SSE, long
 * polls and the UI see them. The stream sequence applied and, per origin,
 * the last outbox seq applied are written in the same transaction (meta),
 * so a restart resumes exactly and a copy that got past the duplicate
 * window is still applied once. Events of this instance coming back are
 * skipped: they are in the log already.
 *
 * nats-server 2.9.10: an ordered consumer takes ~10 s to notice a
 * restarted server, so the consumer is made anew on every reconnect.
 */
import { DeliverPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type ConsumerMessages, type JetStreamClient, type JsMsg } from "@nats-io/jetstream";
import { nanos, type NatsConnection } from "@nats-io/transport-node";
import type { Statement } from "bun:sqlite";
import { ID_PATTERN, type FlueEvent } from "../domain/index.ts";
import type { Store } from "../store/index.ts";

export const EVENTS_STREAM = "flue_events";
/** Copies published within this window are dropped by the stream. */
const DUPLICATE_WINDOW_MS = 2 * 60_000;
const PUBLISH_BATCH = 512;
const APPLY_BATCH = 512;
const RETRY_MS = 1000;
/** A pull of the ordered consumer: its heartbeats, every half of it, tell within two of them that the consumer is gone. */
const CONSUME_EXPIRES_MS = 5000;
const STREAM_SEQ_KEY = "fleet.events_seq";
/** The longest a joining instance holds back its retries while it reads the events it missed. */
const CATCH_UP_MAX_MS = 60_000;
const appliedKey = (origin: string) => `fleet.applied.${origin}`;

export class EventReplicator {
  private readonly js: JetStreamClient;
  private readonly outboxRows: Statement<{ seq: number; subject: string; payload: string; msg_id: string | null }, [number]>;
  private readonly outboxDone: Statement;
  private readonly outboxCount: Statement<{ n: number }, []>;
  private publishing = false;
  private again = false;
  private retryTimer?: Timer;
  private messages?: ConsumerMessages;
  private stopped = false;
  /** Per origin instance: the last of its outbox seqs applied here. */
  private readonly applied = new Map<string, number>();
  private unsubscribe?: () => void;
  /**
   * Whether this instance has applied every event the stream held when it
   * joined: until then its view of jobs may be stale (a job it left WAITING
   * may have been taken over and finished meanwhile).
   */
  caughtUp = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly store: Store,
    private readonly self: string,
  ) {
    this.js = jetstream(nc);
    const sqlite = store.db.$client;
    this.outboxRows = sqlite.query("SELECT seq, subject, payload, msg_id FROM outbox ORDER BY seq LIMIT ?");
    this.outboxDone = sqlite.query("DELETE FROM outbox WHERE seq <= ?");
    this.outboxCount = sqlite.query("SELECT count(*) AS n FROM outbox");
  }

  /** Makes (or updates) the stream, then starts publishing this instance's events and applying the others'. */
  static async start(nc: NatsConnection, store: Store, self: string, maxAgeMs: number): Promise<EventReplicator> {
    const jsm = await jetstreamManager(nc);
    const config = {
      subjects: ["flue.events.>"],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      max_age: nanos(maxAgeMs),
      duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    };
    let state = { last_seq: 0, messages: 0 };
    try {
      state = (await jsm.streams.info(EVENTS_STREAM)).state;
      await jsm.streams.update(EVENTS_STREAM, config);
    } catch {
      await jsm.streams.add({ name: EVENTS_STREAM, ...config });
    }
    const r = new EventReplicator(nc, store, self);
    r.caughtUp = state.messages === 0 || Number(store.getMeta(STREAM_SEQ_KEY) ?? 0) >= state.last_seq;
    // Should the reading stall, retries are not held back for ever.
    if (!r.caughtUp) setTimeout(() => (r.caughtUp = true), CATCH_UP_MAX_MS).unref();
    store.events.publishAs(self, store.db.$client);
    r.unsubscribe = store.events.subscribe((e) => {
      if (e.executor === self) r.publish();
    });
    r.publish(); // what waited in the outbox from before
    void r.consume();
    void r.followConnection();
    return r;
  }

  /** Sends the outbox, oldest first; called after each local commit, coalesced. */
  private publish(): void {
    if (this.publishing) {
      this.again = true;
      return;
    }
    this.publishing = true;
    this.again = false;
    void this.sendOutbox().finally(() => {
      this.publishing = false;
      if (this.again && !this.stopped) this.publish();
    });
  }

  private async sendOutbox(): Promise<void> {
    clearTimeout(this.retryTimer);
    try {
      for (;;) {
        const rows = this.outboxRows.all(PUBLISH_BATCH);
        if (rows.length === 0) return;
        // Pipelined on one connection: they reach the stream in this order.
        await Promise.all(rows.map((r) => this.js.publish(r.subject, r.payload, { msgID: r.msg_id ?? `${this.self}.${r.seq}` })));
        this.outboxDone.run(rows.at(-1)!.seq);
      }
    } catch {
      // NATS is away (the connection says so) or slow: the outbox keeps them; try again.
      if (!this.stopped) this.retryTimer = setTimeout(() => this.publish(), RETRY_MS);
    }
  }

  /** Events made here that the stream has not acknowledged yet. */
  unpublished(): number {
    return this.outboxCount.get()!.n;
  }

  private appliedOf(origin: string): number {
    let n = this.applied.get(origin);
    if (n === undefined) {
      n = Number(this.store.getMeta(appliedKey(origin)) ?? 0);
      this.applied.set(origin, n);
    }
    return n;
  }

  /** Reads the stream from after the last sequence applied, until stopped; made anew after each reconnect. */
  private async consume(): Promise<void> {
    while (!this.stopped) {
      try {
        const start = Number(this.store.getMeta(STREAM_SEQ_KEY) ?? 0) + 1;
        const consumer = await this.js.consumers.get(EVENTS_STREAM, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start });
        const messages = await consumer.consume({ expires: CONSUME_EXPIRES_MS });
        this.messages = messages;
        // Its node gone while this connection stays (a NATS cluster): made anew from where it stands, as after a reconnect.
        void (async () => {
          for await (const s of messages.status()) if (s.type === "heartbeats_missed") messages.stop();
        })();
        let batch: JsMsg[] = [];
        for await (const m of messages) {
          batch.push(m);
          if (m.info.pending === 0 || batch.length >= APPLY_BATCH) {
            this.apply(batch);
            batch = [];
            if (m.info.pending === 0) this.caughtUp = true;
          }
        }
      } catch (e) {
        if (!this.stopped && !this.nc.isClosed()) await Bun.sleep(RETRY_MS);
      }
    }
  }

  /** Appends the batch's events of other instances, and where the stream stands, in one transaction. */
  private apply(batch: JsMsg[]): void {
    const events: FlueEvent[] = [];
    const advanced = new Map<string, number>();
    for (const m of batch) {
      const msgId = m.headers?.get("Nats-Msg-Id") ?? "";
      const dot = msgId.lastIndexOf(".");
      const origin = msgId.slice(0, dot);
      const seq = Number(msgId.slice(dot + 1));
      if (dot < 0 || origin === this.self) continue;
      if (seq <= (advanced.get(origin) ?? this.appliedOf(origin))) continue; // applied already
      let e: FlueEvent;
      try {
        e = m.json<FlueEvent>();
      } catch {
        continue; // not a flue event
      }
      // A job id names files and directories here: only the form flue makes is taken.
      if (typeof e?.type !== "string" || (e.id !== undefined && !ID_PATTERN.test(e.id))) continue;
      events.push(e);
      advanced.set(origin, seq);
    }
    const streamSeq = batch.at(-1)!.seq;
    this.store.events.withNext(() => {
      this.store.setMeta(STREAM_SEQ_KEY, String(streamSeq));
      for (const [origin, seq] of advanced) this.store.setMeta(appliedKey(origin), String(seq));
    });
    this.store.events.append(...events);
    for (const [origin, seq] of advanced) this.applied.set(origin, seq);
  }

  private async followConnection(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (this.stopped) return;
      if (s.type !== "reconnect") continue;
      this.messages?.stop(); // the consume loop makes a new consumer from where it stands
      this.publish();
    }
  }

  /** Stops applying; gives the publisher up to `ms` to send what is left (the rest goes at the next start). */
  async stop(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.unpublished() > 0 && Date.now() < deadline) {
      this.publish();
      await Bun.sleep(50);
    }
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.unsubscribe?.();
    this.messages?.stop();
  }
}
