/**
 * The projection: how each event changes the job tables. Runs inside the
 * event log's transaction, so a job row never disagrees with its events.
 * Prepared statements throughout: this is the hot path of every job.
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

export class Projection {
  private readonly find: Statement<{ seq: number; state: string; definition_id: number }, [string]>;
  private readonly insert: Statement;
  private readonly count: Statement;
  private readonly setState: Statement;
  private readonly addMessage: Statement;
  private readonly started: Statement;
  private readonly execStarted: Statement;
  private readonly execFinished: Statement;
  private readonly stagedOut: Statement;
  private readonly updated: Statement;
  private readonly remove: Statement;
  private readonly removeEvents: Statement;

  constructor(db: Database) {
    this.find = db.query("SELECT seq, state, definition_id FROM jobs WHERE id = ?");
    this.insert = db.query(
      `INSERT INTO jobs (id, definition_id, definition_version, definition_name, state, owner, parameters, inputs, created_at, max_attempts, messages, outputs)
       VALUES ($id, $definition_id, $definition_version, $definition_name, 'NEW', $owner, $parameters, $inputs, $ts, $max_attempts, '[]', '{}')`,
    );
    this.count = db.query(
      `INSERT INTO job_counts (definition_id, state, n) VALUES (?1, ?2, ?3)
       ON CONFLICT (definition_id, state) DO UPDATE SET n = n + ?3`,
    );
    this.setState = db.query(
      `UPDATE jobs SET state = $state,
         queued_at = CASE WHEN $state = 'QUEUED' THEN $ts ELSE queued_at END,
         finished_at = CASE WHEN $state IN ('FINISHED', 'FAILED', 'CANCELLED') THEN $ts ELSE finished_at END,
         not_before = CASE WHEN $state = 'WAITING' THEN $not_before ELSE NULL END,
         pid = CASE WHEN $state = 'RUNNING' THEN pid ELSE NULL END,
         pid_start = CASE WHEN $state = 'RUNNING' THEN pid_start ELSE NULL END
       WHERE seq = $seq`,
    );
    this.addMessage = db.query("UPDATE jobs SET messages = json_insert(messages, '$[#]', json(?2)) WHERE seq = ?1");
    this.started = db.query(
      `UPDATE jobs SET started_at = $ts, attempts = $attempt, instance = $instance, thread = $thread,
         exit_status = NULL, metrics = NULL WHERE seq = $seq`,
    );
    this.execStarted = db.query("UPDATE jobs SET pid = $pid, pid_start = $pid_start WHERE seq = $seq");
    this.execFinished = db.query("UPDATE jobs SET exit_status = $exit_status, metrics = $metrics, pid = NULL, pid_start = NULL WHERE seq = $seq");
    this.stagedOut = db.query("UPDATE jobs SET outputs = $outputs WHERE seq = $seq");
    this.updated = db.query("UPDATE jobs SET parameters = $parameters, inputs = $inputs WHERE seq = $seq");
    this.remove = db.query("DELETE FROM jobs WHERE seq = ?");
    this.removeEvents = db.query("DELETE FROM events WHERE job_seq = ?");
  }

  /**
   * Applies one event. Returns the job's seq for the event row, or null when
   * the event is not to be stored (an executor event, or a deleted job).
   */
  apply(e: FlueEvent): number | null {
    if (e.id === undefined) return null;
    if (e.type === "created") {
      const row = this.insert.run({
        id: e.id,
        definition_id: e.definition_id as number,
        definition_version: e.definition_version as number,
        definition_name: (e.definition_name as string | undefined) ?? null,
        owner: (e.owner as string | undefined) ?? null,
        parameters: JSON.stringify(e.parameters ?? {}),
        inputs: JSON.stringify(e.inputs ?? {}),
        ts: e.timestamp,
        max_attempts: (e.max_attempts as number | undefined) ?? 1,
      });
      this.count.run(e.definition_id as number, "NEW", 1);
      return Number(row.lastInsertRowid);
    }
    const job = this.find.get(e.id);
    if (!job) return null;
    const seq = job.seq;
    if (e.type === "deleted") {
      this.count.run(job.definition_id, job.state, -1);
      this.removeEvents.run(seq);
      this.remove.run(seq);
      return null;
    }
    const state = STATE_OF[e.type];
    if (state !== undefined && state !== job.state) {
      this.count.run(job.definition_id, job.state, -1);
      this.count.run(job.definition_id, state, 1);
    }
    if (state !== undefined) {
      this.setState.run({ seq, state, ts: e.timestamp, not_before: (e.until as number | undefined) ?? null });
    }
    switch (e.type) {
      case "started":
        this.started.run({ seq, ts: e.timestamp, attempt: e.attempt as number, instance: e.executor, thread: e.thread ?? null });
        break;
      case "execution.started":
        this.execStarted.run({ seq, pid: (e.pid as number | undefined) ?? null, pid_start: (e.pid_start as string | undefined) ?? null });
        break;
      case "execution.finished":
        this.execFinished.run({ seq, exit_status: (e.exit_status as number | null | undefined) ?? null, metrics: JSON.stringify(e.metrics ?? null) });
        break;
      case "stage-out.finished":
        if (e.outputs) this.stagedOut.run({ seq, outputs: JSON.stringify(e.outputs) });
        break;
      case "updated":
        this.updated.run({ seq, parameters: JSON.stringify(e.parameters ?? {}), inputs: JSON.stringify(e.inputs ?? {}) });
        break;
    }
    const text = (e.reason ?? e.text) as string | undefined;
    if (text !== undefined) {
      const level = (e.level as JobMessage["level"] | undefined) ?? (e.type === "failed" ? "error" : "info");
      const message: JobMessage = { at: e.timestamp, level, text };
      this.addMessage.run(seq, JSON.stringify(message));
    }
    return seq;
  }
}
