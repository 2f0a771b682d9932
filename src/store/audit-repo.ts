/** The audit log: one row per change a user made, newest last. */
import { and, count, desc, eq, type SQL } from "drizzle-orm";
import type { Db } from "./db.ts";
import { lazy } from "./lazy.ts";
import { audit, type AuditRow } from "./schema.ts";

/** Who made a change, as the services know them: an Actor fits. */
export interface AuditActor {
  username: string;
  /** The socket's remote address, when the server knows it. */
  remote?: string | null;
}

export interface AuditFilter {
  action?: string;
  actor?: string;
}

export class AuditRepo {
  private readonly insert;

  constructor(private readonly db: Db) {
    // Raw: every submission writes one, in its events' transaction.
    this.insert = lazy(() =>
      db.$client.query<never, [number, string, string, string | null, string | null, string | null]>(
        "INSERT INTO audit (at, actor, action, target, remote, details) VALUES (?, ?, ?, ?, ?, ?)",
      ),
    );
  }

  /** One change: `action` such as "job.cancel", on `target` (a resource URI, a job id, a username). */
  record(actor: AuditActor, action: string, target: string | null, details?: unknown): void {
    this.insert().run(Date.now() / 1000, actor.username, action, target, actor.remote ?? null, details === undefined ? null : JSON.stringify(details));
  }

  /** Newest first. */
  list(filter: AuditFilter, limit: number, offset: number): { rows: AuditRow[]; total: number } {
    const conditions: SQL[] = [];
    if (filter.action) conditions.push(eq(audit.action, filter.action));
    if (filter.actor) conditions.push(eq(audit.actor, filter.actor));
    const where = conditions.length ? and(...conditions) : undefined;
    const rows = this.db.select().from(audit).where(where).orderBy(desc(audit.seq)).limit(limit).offset(offset).all();
    const total = this.db.select({ n: count() }).from(audit).where(where).get()?.n ?? 0;
    return { rows, total };
  }
}
