/**
 * A KV bucket mirrored into this instance's tables: every entry, as it
 * is now and as it changes, handed to `apply`. Start resolves once the
 * bucket's current values are applied, so an instance serves no request
 * before it knows the fleet's definitions and users. The watcher is made
 * anew after NATS comes back (a restarted server drops it silently);
 * applying the same entry twice must do no harm.
 */
import type { KV, KvWatchEntry } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";

/** How long start waits for the current values before going on with what it has. */
const INITIAL_MS = 5000;
const RETRY_MS = 1000;

export class BucketMirror {
  private watcher?: Awaited<ReturnType<KV["watch"]>>;
  private stopped = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly kv: KV,
    private readonly name: string,
    private readonly apply: (entry: KvWatchEntry) => void,
  ) {}

  async start(): Promise<void> {
    await this.watch();
    void this.followConnection();
  }

  stop(): void {
    this.stopped = true;
    this.watcher?.stop();
  }

  private async watch(): Promise<void> {
    const values = (await this.kv.status()).values;
    const watcher = await this.kv.watch();
    this.watcher = watcher;
    let initialized: () => void = () => {};
    const initial = new Promise<void>((resolve) => (initialized = resolve));
    if (values === 0) initialized();
    void (async () => {
      for await (const entry of watcher) {
        try {
          this.apply(entry);
        } catch (e) {
          console.error(`flue: could not apply ${this.name} entry ${entry.key} from the fleet:`, e);
        }
        // The last of the current values has nothing pending after it. (Not `isUpdate`: the
        // client marks even the first of them an update when the watch's consumer started late.)
        if (entry.delta === 0) initialized();
      }
      initialized();
    })();
    await Promise.race([initial, Bun.sleep(INITIAL_MS)]);
  }

  private async followConnection(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (this.stopped) return;
      if (s.type !== "reconnect") continue;
      this.watcher?.stop();
      // JetStream may answer a moment after the connection is back.
      while (!this.stopped) {
        try {
          await this.watch();
          break;
        } catch {
          await Bun.sleep(RETRY_MS);
        }
      }
    }
  }
}
