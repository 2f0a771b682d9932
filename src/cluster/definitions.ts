/**
 * Definitions across the fleet: bucket `flue_definitions`.
 *
 * - `def.<id>`: the definition as it is now (its row); deleted with it.
 * - `ver.<id>.<version>`: each version, kept for ever like the local
 *   table's, since jobs pin versions.
 * - `next_id`: the last id given. Ids stay the seed API's numbers
 *   (`/api/process_definition/3/`) and become fleet-wide by allocating
 *   each through a compare-and-set on this key: two instances creating at
 *   once get different ids, and an id once given is never given again
 *   (keying by name would not survive a rename, and a deleted id reused
 *   would mix two definitions' pinned versions).
 *
 * Every instance mirrors the bucket into its definitions tables.
 */
import type { KV, Kvm, KvWatchEntry } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Definition } from "../domain/index.ts";
import type { DefinitionRow, Store } from "../store/index.ts";
import { BucketMirror } from "./mirror.ts";

export const DEFINITIONS_BUCKET = "flue_definitions";
const NEXT_ID = "next_id";

interface SharedVersion {
  definition: Definition;
  created_at: number;
}

export class SharedDefinitions {
  private constructor(
    private readonly kv: KV,
    private readonly store: Store,
    private readonly mirror: BucketMirror,
  ) {}

  static async start(nc: NatsConnection, kvm: Kvm, store: Store): Promise<SharedDefinitions> {
    const kv = await kvm.create(DEFINITIONS_BUCKET, { history: 1 });
    const repo = store.definitions;
    const mirror = new BucketMirror(nc, kv, "definition", (e: KvWatchEntry) => {
      if (e.key.startsWith("ver.")) {
        if (e.operation !== "PUT") return;
        const [, id, version] = e.key.split(".");
        const v = e.json<SharedVersion>();
        repo.applyVersion(Number(id), Number(version), v.definition, v.created_at);
      } else if (e.key.startsWith("def.")) {
        const id = Number(e.key.slice(4));
        if (e.operation === "PUT") repo.applyShared(e.json<DefinitionRow>());
        else repo.delete(id);
      }
    });
    await mirror.start();
    return new SharedDefinitions(kv, store, mirror);
  }

  /** An id no instance has given: the last one given (or the highest here) plus one, set by compare-and-set. */
  async newId(): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      const entry = await this.kv.get(NEXT_ID);
      const last = entry?.operation === "PUT" ? Number(entry.string()) : 0;
      const id = Math.max(last, this.store.definitions.maxId()) + 1;
      try {
        await (entry ? this.kv.update(NEXT_ID, String(id), entry.revision) : this.kv.create(NEXT_ID, String(id)));
        return id;
      } catch (e) {
        if (attempt >= 20) throw e; // another instance took it: try the next
      }
    }
  }

  /** Shares a definition as it is now, its newest version first. */
  async put(row: DefinitionRow): Promise<void> {
    const version: SharedVersion = { definition: row.definition as Definition, created_at: row.updatedAt };
    await this.kv.put(`ver.${row.id}.${row.version}`, JSON.stringify(version));
    await this.kv.put(`def.${row.id}`, JSON.stringify(row));
  }

  async remove(id: number): Promise<void> {
    await this.kv.delete(`def.${id}`);
  }

  stop(): void {
    this.mirror.stop();
  }
}
