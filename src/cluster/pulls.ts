/**
 * The work queue's pulls: one open pull of one message for each free slot,
 * so a slot that frees gets its next message at once, and never more pulls
 * than free slots, so an instance never holds a message it has no slot for.
 *
 * A pull waits on one subject. On nats-server 2.9 a pull cannot be taken
 * back, and an empty one holds its slot until it expires (1 s at least), so
 * the slots go where messages are: a subject is *busy* when a message was
 * published there (every instance hears the publish on the plain subject),
 * a pull there yielded one, a message this instance put back there comes
 * due, or NATS came back; an expired empty pull makes it quiet again. Busy
 * subjects share the free slots; a quiet one gets a pull only from slots
 * no busy subject wants, or every QUIET_TURN_MS whatever the others want,
 * for what no publish announces (another instance's nak, a fail-over).
 *
 * Back after NATS was away, or when the queue gets a new leader in a NATS
 * cluster, nothing is taken for REJOIN_MS: a restarted server or a new
 * leader may hand out again a message whose job another instance ran (or
 * runs) meanwhile, and this instance would see that job QUEUED until that
 * instance is back too and its events are here; its late ack or working()
 * settles the message meanwhile.
 */
import type { Consumer, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";

/** The shortest pull the client allows. */
const FETCH_EXPIRES_MS = 1000;
/** How often a quiet subject gets a pull even while busy ones take every slot. */
const QUIET_TURN_MS = 5000;
/** Free slots are looked at this often too: the executor's slots change without telling, e.g. at start. */
const TICK_MS = 250;
const RETRY_MS = 1000;
/** How long after a reconnect messages are put back untaken: the peers' reconnects, outboxes and acks land meanwhile. */
const REJOIN_MS = 3000;

interface Subject {
  name: string;
  consumer: Consumer;
  /** Pulls open on it now. */
  open: number;
  busy: boolean;
  /** Publishes heard there: an empty pull leaves the subject busy if one came while it was open. */
  rung: number;
  /** When a pull on it last opened. */
  opened: number;
  /** When a message put back there comes due (0: none). */
  dueAt: number;
  /** No pull before this (after an error). */
  notBefore: number;
}

export interface PullHost {
  /** Slots free for new messages (the executor's, less the messages taken and not started). */
  free(): number;
  receive(m: JsMsg): void;
  /** NATS is back after it was away. */
  rejoined(): void;
}

export class Pulls {
  /** Slots promised to open pulls. */
  private reserved = 0;
  private stopped = false;
  private readonly open = new Set<Promise<void>>();
  private readonly bells: Subscription[] = [];
  private ticker?: Timer;
  /** Until when, after a reconnect or a new leader, nothing is taken. */
  private rejoining = 0;

  private constructor(
    private readonly subjects: Subject[],
    private readonly host: PullHost,
  ) {}

  static async start(nc: NatsConnection, js: JetStreamClient, stream: string, subjects: { subject: string; durable: string }[], host: PullHost): Promise<Pulls> {
    const all: Subject[] = [];
    for (const s of subjects) {
      all.push({ name: s.subject, consumer: await js.consumers.get(stream, s.durable), open: 0, busy: true, rung: 0, opened: 0, dueAt: 0, notBefore: 0 });
    }
    const p = new Pulls(all, host);
    for (const s of all) p.bells.push(nc.subscribe(s.name, { callback: () => p.ring(s) }));
    // A new leader for the queue (a NATS cluster lost a node) may not know of the last deliveries: a rejoin too.
    for (const kind of [`CONSUMER.LEADER_ELECTED.${stream}.*`, `STREAM.LEADER_ELECTED.${stream}`]) {
      p.bells.push(nc.subscribe(`$JS.EVENT.ADVISORY.${kind}`, { callback: () => p.rejoin() }));
    }
    p.ticker = setInterval(() => p.tick(), TICK_MS);
    void p.followConnection(nc);
    p.fill();
    return p;
  }

  private ring(s: Subject): void {
    s.busy = true;
    s.rung++;
    this.fill();
  }

  /** A message this instance put back on `subject` comes due in `ms`. */
  due(subject: string, ms: number): void {
    const s = this.subjects.find((x) => x.name === subject);
    if (s && (s.dueAt === 0 || Date.now() + ms < s.dueAt)) s.dueAt = Date.now() + ms;
  }

  private tick(): void {
    const now = Date.now();
    for (const s of this.subjects) {
      if (s.dueAt && s.dueAt <= now) {
        s.dueAt = 0;
        s.busy = true;
      }
    }
    this.fill();
  }

  /** Publishes made while NATS was away were heard by no one. */
  private async followConnection(nc: NatsConnection): Promise<void> {
    for await (const st of nc.status()) {
      if (this.stopped) return;
      if (st.type === "reconnect") this.rejoin();
    }
  }

  /** Takes nothing for REJOIN_MS; then every subject may have messages. */
  private rejoin(): void {
    this.rejoining = Date.now() + REJOIN_MS;
    for (const s of this.subjects) {
      s.busy = true;
      s.dueAt = this.rejoining;
    }
    this.host.rejoined();
  }

  /** Opens a pull for every free slot that a subject wants. */
  fill(): void {
    if (Date.now() < this.rejoining) return;
    while (!this.stopped && this.host.free() - this.reserved > 0) {
      const s = this.next();
      if (!s) return;
      this.pull(s);
    }
  }

  /** The subject the next free slot pulls: an overdue quiet one, else the busy one with the fewest pulls open, else a quiet one with none. */
  private next(): Subject | undefined {
    const now = Date.now();
    const fewest = (xs: Subject[]) => xs.sort((a, b) => a.open - b.open || a.opened - b.opened)[0];
    const usable = this.subjects.filter((s) => s.notBefore <= now);
    const idle = usable.filter((s) => !s.busy && s.open === 0);
    return fewest(idle.filter((s) => now - s.opened >= QUIET_TURN_MS)) ?? fewest(usable.filter((s) => s.busy)) ?? fewest(idle);
  }

  private pull(s: Subject): void {
    this.reserved++;
    s.open++;
    s.opened = Date.now();
    const done: Promise<void> = this.fetch(s).finally(() => {
      s.open--;
      this.open.delete(done);
      this.fill();
    });
    this.open.add(done);
  }

  private async fetch(s: Subject): Promise<void> {
    const rung = s.rung;
    let slot = 1;
    try {
      const batch = await s.consumer.fetch({ max_messages: 1, expires: FETCH_EXPIRES_MS });
      for await (const m of batch) {
        s.busy = true;
        const wait = this.rejoining - Date.now();
        if (wait > 0) {
          m.nak(wait); // in the rejoin window: see REJOIN_MS
        } else if (slot > 0) {
          slot--;
          this.reserved--;
          this.host.receive(m);
        } else if (this.host.free() - this.reserved > 0) {
          this.host.receive(m); // a second delivery after a reconnect re-pulled
        } else {
          m.nak(); // no slot for it: someone else's
        }
      }
      if (slot > 0 && s.rung === rung) s.busy = false;
    } catch {
      // Heartbeats missed, NATS away, the consumer gone for a moment: this subject waits a little, the slot does not.
      s.notBefore = Date.now() + RETRY_MS;
    } finally {
      this.reserved -= slot;
    }
  }

  /** Opens no more pulls and waits (a little) for those open to end: what they bring is put back. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.ticker);
    for (const b of this.bells) b.unsubscribe();
    await Promise.race([Promise.all(this.open), Bun.sleep(FETCH_EXPIRES_MS + 500)]);
  }
}
