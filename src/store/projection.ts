/**
 * The projection: how each event changes the job tables. Runs inside the
 * event log's transaction, so a job row never disagrees with its events.
 *
 * This is the hot path of every job (ten events each), so: one prepared
 * statement per kind of change, the jobs in flight remembered so an event
 * needs no lookup, and the per-state counters summed over a batch and
 * written once at its end.
 */
import type { Database, Statement } from "bun:sqlite";
import type { FlueEvent, JobState } from "../domain/index.ts";

export interface JobMessage {
  at: number;
  level: "info" | "warning" | "error";
  text: string;
}

/** The state each event type moves a job into, if any. */
const STATE_OF: Partial<Record<string, JobState>> = {
  queued: "QUEUED",
  started: "RUNNING",
  waiting: "WAITING",
  finished: "FINISHED",
  failed: "FAILED",
  cancelled: "CANCELLED",
};
const FINAL = new Set(["FINISHED", "FAILED", "CANCELLED"]);

interface Known {
  seq: number;
  state: string;
  definitionId: number;
  /** '' for a job without one, as the owner counters key it. */
  owner: string;
}

const SQL = {
  find: "SELECT seq, state, definition_id, coalesce(owner, '') AS owner FROM jobs WHERE id = ?",
  // instance: where the job runs, the instance that took it (until the fleet shares one queue).
  insert: `INSERT INTO jobs (id, definition_id, definition_version, definition_name, state, owner, parameters, inputs, created_at, max_attempts, messages, outputs, instance)
    VALUES (?1, ?2, ?3, ?4, 'NEW', ?5, ?6, ?7, ?8, ?9, '[]', ?10, ?11)`,
  count: `INSERT INTO job_counts (definition_id, state, n) VALUES (?1, ?2, ?3)
    ON CONFLICT (definition_id, state) DO UPDATE SET n = n + ?3`,
  ownerCount: `INSERT INTO job_owner_counts (owner, state, n) VALUES (?1, ?2, ?3)
    ON CONFLICT (owner, state) DO UPDATE SET n = n + ?3`,
  minuteCount: `INSERT INTO job_minutes (minute, owner, state, n) VALUES (?1, ?2, ?3, ?4)
    ON CONFLICT (minute, owner, state) DO UPDATE SET n = n + ?4`,
  pruneMinutes: "DELETE FROM job_minutes WHERE minute < ?",
  // ?1 seq, ?2 timestamp; further parameters per statement.
  toState: {
    QUEUED: "UPDATE jobs SET state = 'QUEUED', queued_at = ?2, not_before = NULL, pid = NULL WHERE seq = ?1",
    RUNNING: "UPDATE jobs SET state = 'RUNNING', started_at = ?2, attempts = ?3, instance = ?4, thread = ?5, exit_status = NULL, metrics = NULL WHERE seq = ?1",
    WAITING: "UPDATE jobs SET state = 'WAITING', not_before = ?3, pid = NULL WHERE seq = ?1",
    FINISHED: "UPDATE jobs SET state = 'FINISHED', finished_at = ?2, pid = NULL WHERE seq = ?1",
    FAILED: "UPDATE jobs SET state = 'FAILED', finished_at = ?2, pid = NULL WHERE seq = ?1",
    CANCELLED: "UPDATE jobs SET state = 'CANCELLED', finished_at = ?2, pid = NULL WHERE seq = ?1",
  } as Record<string, string>,
  addMessage: "UPDATE jobs SET messages = json_insert(messages, '$[#]', json(?2)) WHERE seq = ?1",
  execStarted: "UPDATE jobs SET pid = ?2 WHERE seq = ?1",
  execFinished: "UPDATE jobs SET exit_status = ?2, metrics = ?3, pid = NULL WHERE seq = ?1",
  stagedOut: "UPDATE jobs SET outputs = ?2 WHERE seq = ?1",
  updated: "UPDATE jobs SET parameters = ?2, inputs = ?3 WHERE seq = ?1",
  remove: "DELETE FROM jobs WHERE seq = ?",
  removeEvents: "DELETE FROM events WHERE job_seq = ?",
};

/** How many jobs in flight the projection remembers; others are looked up. */
const KNOWN_MAX = 50_000;
/** The dashboard's per-minute counts are kept this many minutes (a week), pruned every PRUNE_EVERY batches. */
const MINUTES_KEPT = 7 * 24 * 60;
const PRUNE_EVERY = 1000;

function add(deltas: Map<string, number>, key: string, by: number): void {
  deltas.set(key, (deltas.get(key) ?? 0) + by);
}

export class Projection {
  private readonly known = new Map<string, Known>();
  /** `${definitionId}\t${state}` → change of the count in this batch. */
  private readonly deltas = new Map<string, number>();
  /** `${owner}\t${state}` → change of the owner's count in this batch. */
  private readonly ownerDeltas = new Map<string, number>();
  /** `${minute}\t${owner}\t${state}` → jobs that ended in that minute, in this batch. */
  private readonly minuteDeltas = new Map<string, number>();
  private batches = 0;
  /** Statements compile on first use (bun:sqlite caches them by text): start-up stays short. */
  constructor(private readonly db: Database) {}

  private st(sql: string): Statement {
    return this.db.query(sql);
  }

  private lookup(id: string): Known | undefined {
    const hit = this.known.get(id);
    if (hit) return hit;
    const row = (this.st(SQL.find) as Statement<{ seq: number; state: string; definition_id: number; owner: string }, [string]>).get(id);
    return row ? { seq: row.seq, state: row.state, definitionId: row.definition_id, owner: row.owner } : undefined;
  }

  private remember(id: string, job: Known): void {
    if (FINAL.has(job.state)) {
      this.known.delete(id);
      return;
    }
    if (this.known.size >= KNOWN_MAX && !this.known.has(id)) {
      // The oldest tenth at once: a Map's first key is found by stepping over every
      // entry deleted before it, so taking one at a time cost ~10 µs a job past the cap.
      let n = KNOWN_MAX / 10;
      for (const old of this.known.keys()) {
        this.known.delete(old);
        if (--n === 0) break;
      }
    }
    this.known.set(id, job);
  }

  private shift(job: { definitionId: number; owner: string }, state: string, by: number): void {
    add(this.deltas, `${job.definitionId}\t${state}`, by);
    add(this.ownerDeltas, `${job.owner}\t${state}`, by);
  }

  /** Writes the counters this batch changed. Call before the transaction commits. */
  endBatch(): void {
    for (const [key, n] of this.deltas) {
      if (n === 0) continue;
      const tab = key.indexOf("\t");
      this.st(SQL.count).run(Number(key.slice(0, tab)), key.slice(tab + 1), n);
    }
    for (const [key, n] of this.ownerDeltas) {
      if (n === 0) continue;
      const tab = key.lastIndexOf("\t");
      this.st(SQL.ownerCount).run(key.slice(0, tab), key.slice(tab + 1), n);
    }
    for (const [key, n] of this.minuteDeltas) {
      const [minute, owner, state] = key.split("\t");
      this.st(SQL.minuteCount).run(Number(minute), owner, state, n);
    }
    if (this.minuteDeltas.size && ++this.batches % PRUNE_EVERY === 0) {
      this.st(SQL.pruneMinutes).run(Math.floor(Date.now() / 60_000) - MINUTES_KEPT);
    }
    this.deltas.clear();
    this.ownerDeltas.clear();
    this.minuteDeltas.clear();
  }

  /** Forgets what it remembers: after a rollback, the tables are the truth again. */
  reset(): void {
    this.known.clear();
    this.deltas.clear();
    this.ownerDeltas.clear();
    this.minuteDeltas.clear();
  }

  /**
   * Applies one event. Returns the job's seq for the event row, or null when
   * the event is not to be stored (an executor event, or a deleted job).
   */
  apply(e: FlueEvent): number | null {
    if (e.id === undefined) return null;
    if (e.type === "created") {
      const row = this.st(SQL.insert).run(
        e.id,
        e.definition_id as number,
        e.definition_version as number,
        (e.definition_name as string | undefined) ?? null,
        (e.owner as string | undefined) ?? null,
        JSON.stringify(e.parameters ?? {}),
        JSON.stringify(e.inputs ?? {}),
        e.timestamp,
        (e.max_attempts as number | undefined) ?? 1,
        // Where outputs go when not kept by flue ({name: {uri}}); stage-out replaces it with what it kept.
        e.outputs ? JSON.stringify(e.outputs) : "{}",
        e.executor,
      );
      const seq = Number(row.lastInsertRowid);
      const job = { seq, state: "NEW", definitionId: e.definition_id as number, owner: (e.owner as string | undefined) ?? "" };
      this.shift(job, "NEW", 1);
      this.remember(e.id, job);
      return seq;
    }
    const job = this.lookup(e.id);
    if (!job) return null;
    const seq = job.seq;
    if (e.type === "deleted") {
      this.shift(job, job.state, -1);
      this.known.delete(e.id);
      this.st(SQL.removeEvents).run(seq);
      this.st(SQL.remove).run(seq);
      return null;
    }
    let state = STATE_OF[e.type];
    // A final job stays final: in a fleet a late `queued` (a put-back sent after an outage, a
    // retry queued by an instance that had not heard of the end yet) must not undo its end.
    if (state !== undefined && FINAL.has(job.state) && !FINAL.has(state)) state = undefined;
    if (state !== undefined) {
      if (state !== job.state) {
        this.shift(job, job.state, -1);
        this.shift(job, state, 1);
        if (FINAL.has(state)) add(this.minuteDeltas, `${Math.floor(e.timestamp / 60)}\t${job.owner}\t${state}`, 1);
      }
      if (state === "RUNNING") this.st(SQL.toState.RUNNING).run(seq, e.timestamp, e.attempt as number, e.executor, e.thread ?? null);
      else if (state === "WAITING") this.st(SQL.toState.WAITING).run(seq, e.timestamp, (e.until as number | undefined) ?? null);
      else this.st(SQL.toState[state]).run(seq, e.timestamp);
      this.remember(e.id, { ...job, state });
    } else {
      switch (e.type) {
        case "execution.started":
          this.st(SQL.execStarted).run(seq, (e.pid as number | undefined) ?? null);
          break;
        case "execution.finished":
          this.st(SQL.execFinished).run(seq, (e.exit_status as number | null | undefined) ?? null, JSON.stringify(e.metrics ?? null));
          break;
        case "stage-out.finished":
          if (e.outputs) this.st(SQL.stagedOut).run(seq, JSON.stringify(e.outputs));
          break;
        case "updated":
          this.st(SQL.updated).run(seq, JSON.stringify(e.parameters ?? {}), JSON.stringify(e.inputs ?? {}));
          break;
      }
    }
    const text = (e.reason ?? e.text) as string | undefined;
    if (text !== undefined) {
      const level = (e.level as JobMessage["level"] | undefined) ?? (e.type === "failed" ? "error" : "info");
      const message: JobMessage = { at: e.timestamp, level, text };
      this.st(SQL.addMessage).run(seq, JSON.stringify(message));
    }
    return seq;
  }
}
