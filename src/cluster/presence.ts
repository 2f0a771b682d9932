/**
 * Presence: every instance puts its record into the `flue_instances` bucket
 * each heartbeat and watches the bucket into memory, so listing the fleet
 * costs no request. A peer silent for longer than the bound is LOST (said
 * once, by each instance that notices); one that stopped on SIGTERM said
 * STOPPED itself.
 *
 * Silence is measured on this instance's clock, from when a record arrived
 * (or, for records already in the bucket at start, when NATS stored them),
 * so clocks that disagree between hosts do not lose anyone. While this
 * instance is cut off from NATS it judges no one; back, it gives every peer
 * a fresh bound to say it is alive too.
 */
import type { KV, Kvm, KvWatchEntry } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { InstanceRecord, InstanceState } from "./record.ts";

export const PRESENCE_BUCKET = "flue_instances";
/** Records of instances gone for good leave the bucket (and memory) after a day. */
const BUCKET_TTL_MS = 24 * 3600 * 1000;
/** Saying goodbye must not hold up a shutdown when NATS is away. */
const GOODBYE_MS = 2000;

/** This instance's record without what presence adds: the heartbeat time and the state. */
export type SelfRecord = Omit<InstanceRecord, "heartbeat_at" | "state">;

interface Seen {
  record: InstanceRecord;
  revision: number;
  /** When this instance last heard from it (ms, local clock). */
  heardAt: number;
  state: InstanceState;
}

export interface PresenceOptions {
  heartbeatMs: number;
  lostAfterMs: number;
}

const seconds = (ms: number) => Math.round(ms / 100) / 10;

export class Presence {
  private readonly peers = new Map<string, Seen>();
  private watcher?: Awaited<ReturnType<KV["watch"]>>;
  private timer?: ReturnType<typeof setInterval>;
  private connected = true;
  private beating = false;
  private lastBeat = Date.now() / 1000;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly kv: KV,
    private readonly self: () => SelfRecord,
    private readonly opts: PresenceOptions,
  ) {}

  /** Opens (or makes) the bucket, says this instance is here, loads the peers, then heartbeats until stop(). */
  static async start(nc: NatsConnection, kvm: Kvm, self: () => SelfRecord, opts: PresenceOptions): Promise<Presence> {
    const kv = await kvm.create(PRESENCE_BUCKET, { history: 1, ttl: BUCKET_TTL_MS });
    const presence = new Presence(nc, kv, self, opts);
    await presence.beat("ACTIVE");
    await presence.watch();
    presence.timer = setInterval(() => void presence.tick(), opts.heartbeatMs);
    void presence.followConnection();
    return presence;
  }

  /** This instance first, as it is now; then the peers by host and id. */
  members(): InstanceRecord[] {
    const me: InstanceRecord = { ...this.self(), heartbeat_at: this.lastBeat, state: "ACTIVE" };
    const others = [...this.peers.values()]
      .map((s) => ({ ...s.record, state: s.state }))
      .sort((a, b) => a.host.localeCompare(b.host) || a.id.localeCompare(b.id));
    return [me, ...others];
  }

  /** Stops heartbeating and tells the peers this instance stopped on purpose. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.watcher?.stop();
    await Promise.race([this.beat("STOPPED").catch(() => {}), Bun.sleep(GOODBYE_MS)]);
  }

  private async beat(state: "ACTIVE" | "STOPPED"): Promise<void> {
    const now = Date.now() / 1000;
    const record: InstanceRecord = { ...this.self(), heartbeat_at: now, state };
    await this.kv.put(record.id, JSON.stringify(record));
    this.lastBeat = now;
  }

  private async tick(): Promise<void> {
    if (!this.connected || this.beating) return;
    this.beating = true;
    try {
      // A watcher lost with a restarted server is made anew here, once JetStream answers again.
      if (!this.watcher) await this.watch();
      await this.beat("ACTIVE");
    } catch {
      // NATS is away or JetStream not ready yet; the connection says so, the next tick tries again.
    } finally {
      this.beating = false;
    }
    this.judge();
  }

  private async watch(): Promise<void> {
    const watcher = await this.kv.watch();
    this.watcher = watcher;
    void (async () => {
      for await (const entry of watcher) this.heard(entry);
    })();
  }

  private heard(entry: KvWatchEntry): void {
    const id = entry.key;
    if (id === this.self().id) return;
    if (entry.operation !== "PUT") {
      this.peers.delete(id);
      return;
    }
    const known = this.peers.get(id);
    if (known?.revision === entry.revision) return; // the same record again, from a new watcher
    let record: InstanceRecord;
    try {
      record = entry.json<InstanceRecord>();
    } catch {
      return; // not a flue record; nothing to show
    }
    const heardAt = entry.isUpdate ? Date.now() : Math.min(Date.now(), entry.created.getTime());
    const seen: Seen = { record, revision: entry.revision, heardAt, state: this.stateOf(record, heardAt) };
    if (known?.state === "LOST" && seen.state === "ACTIVE") console.log(`flue: instance ${id} on host ${record.host} is back`);
    this.peers.set(id, seen);
  }

  private stateOf(record: InstanceRecord, heardAt: number): InstanceState {
    if (record.state === "STOPPED") return "STOPPED";
    return Date.now() - heardAt > this.opts.lostAfterMs ? "LOST" : "ACTIVE";
  }

  /** Marks peers silent past the bound LOST, saying so once; forgets those the bucket has expired. */
  private judge(): void {
    const now = Date.now();
    for (const [id, seen] of this.peers) {
      if (now - seen.heardAt > BUCKET_TTL_MS) {
        this.peers.delete(id);
        continue;
      }
      const state = this.stateOf(seen.record, seen.heardAt);
      if (state === "LOST" && seen.state === "ACTIVE") {
        console.log(`flue: instance ${id} on host ${seen.record.host} lost: no heartbeat for ${seconds(now - seen.heardAt)} s`);
      }
      seen.state = state;
    }
  }

  /** Cut off: judge no one. Back: a fresh bound for every active peer, a new watcher, a heartbeat now. */
  private async followConnection(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === "disconnect") this.connected = false;
      if (s.type !== "reconnect") continue;
      this.connected = true;
      const now = Date.now();
      for (const seen of this.peers.values()) if (seen.state === "ACTIVE") seen.heardAt = Math.max(seen.heardAt, now);
      this.watcher?.stop();
      this.watcher = undefined;
      void this.tick();
    }
  }
}
