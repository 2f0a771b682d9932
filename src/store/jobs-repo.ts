/** Reading jobs. Writing them is the projection's business (projection.ts). */
import { and, desc, eq, getTableColumns, inArray, lt, sql, type SQL } from "drizzle-orm";
import type { JobState } from "../domain/index.ts";
import type { Db } from "./db.ts";
import { lazy } from "./lazy.ts";
import { jobCounts, jobs, type JobRow } from "./schema.ts";

export interface JobFilter {
  states?: JobState[];
  definitionId?: number;
  owner?: string;
  /** Only jobs older than the job with this seq: a cursor that makes every page as cheap as the first. */
  beforeSeq?: number;
}

/** What starting a job needs of it. */
export type QueuedJob = Pick<JobRow, "seq" | "id" | "attempts" | "maxAttempts" | "definitionId" | "definitionVersion" | "parameters" | "inputs" | "outputs">;

interface QueuedRow {
  seq: number;
  id: string;
  attempts: number;
  max_attempts: number;
  definition_id: number;
  definition_version: number;
  parameters: string;
  inputs: string;
  outputs: string;
}

/** Jobs finished in one minute: `minute` is UNIX seconds / 60. */
export interface MinuteCount {
  minute: number;
  state: string;
  n: number;
}

/** A failed job as the dashboard lists it; `messages` is the stored JSON text. */
export interface FailureRow {
  id: string;
  definition_name: string | null;
  definition_id: number;
  owner: string | null;
  finished_at: number | null;
  exit_status: number | null;
  messages: string;
}

/** A WAITING job this instance queues again: $self is this instance, $alive (JSON, or null alone) the instances alive in the fleet. */
const OURS_TO_RETRY = "(instance IS NULL OR instance = $self OR ($alive IS NOT NULL AND instance NOT IN (SELECT value FROM json_each($alive))))";

type RetryParams = {
  self: string;
  alive: string | null;
};

/** Every column of a job row, named by its field (the schema's names, as drizzle reads them). */
const JOB_SELECT = Object.entries(getTableColumns(jobs)).map(([field, column]) => `${column.name} AS ${field}`).join(", ");

/** A job row as SQLite gives it, under its field names: the JSON columns still text. */
type RawJobRow = Omit<JobRow, "parameters" | "inputs" | "messages" | "outputs" | "metrics"> & {
  parameters: string;
  inputs: string;
  messages: string;
  outputs: string;
  metrics: string | null;
};

/** The row drizzle would make of it: its JSON parsed, in place. */
function jobRow(raw: RawJobRow): JobRow {
  const row = raw as unknown as JobRow;
  row.parameters = JSON.parse(raw.parameters);
  row.inputs = JSON.parse(raw.inputs);
  row.messages = JSON.parse(raw.messages);
  row.outputs = JSON.parse(raw.outputs);
  row.metrics = raw.metrics === null ? null : JSON.parse(raw.metrics);
  return row;
}

/** Whether a filter selects every job (before its cursor, if any). */
const isPlain = (f: JobFilter) => !f.states?.length && f.definitionId === undefined && f.owner === undefined;

export class JobsRepo {
  private readonly byId;
  // The dashboard's reads: raw prepared statements, each served by one index.
  // Counters the projection keeps (job_owner_counts, job_minutes): a million jobs cost what ten do.
  private readonly ownerCounts = lazy(() =>
    this.db.$client.query<{ state: string; n: number }, [string]>("SELECT state, n FROM job_owner_counts WHERE owner = ? AND n <> 0"),
  );
  private readonly finishedSince = lazy(() =>
    this.db.$client.query<MinuteCount, [number]>("SELECT minute, state, sum(n) AS n FROM job_minutes WHERE minute >= ? GROUP BY minute, state"),
  );
  private readonly finishedSinceBy = lazy(() =>
    this.db.$client.query<MinuteCount, [number, string]>("SELECT minute, state, n FROM job_minutes WHERE minute >= ? AND owner = ?"),
  );
  /** The jobs' lowest and highest seq and their count, in one snapshot (see `pageSeqs`). */
  private readonly span = lazy(() =>
    this.db.$client.query<{ lo: number | null; hi: number | null; n: number }, []>(
      "SELECT (SELECT min(seq) FROM jobs) AS lo, (SELECT max(seq) FROM jobs) AS hi, (SELECT coalesce(sum(n), 0) FROM job_counts) AS n",
    ),
  );
  private readonly seqsFrom = lazy(() =>
    this.db.$client.query<{ seq: number }, [number, number]>("SELECT seq FROM jobs INDEXED BY jobs_seq WHERE seq <= ? ORDER BY seq DESC LIMIT ?"),
  );
  private readonly failed = lazy(() =>
    this.db.$client.query<FailureRow, [number]>(
      `SELECT id, definition_name, definition_id, owner, finished_at, exit_status, messages FROM jobs
       WHERE state = 'FAILED' ORDER BY seq DESC LIMIT ?`,
    ),
  );
  private readonly failedBy = lazy(() =>
    this.db.$client.query<FailureRow, [string, number]>(
      `SELECT id, definition_name, definition_id, owner, finished_at, exit_status, messages FROM jobs
       WHERE state = 'FAILED' AND owner = ? ORDER BY seq DESC LIMIT ?`,
    ),
  );
  private readonly queued;
  private readonly due;
  private readonly firstDue;

  /**
   * This instance's id. In a fleet the tables hold other instances' jobs
   * too; only jobs taken here (or from before it had an id) are started here.
   */
  self = "";

  constructor(private readonly db: Db) {
    // Raw and mapped by hand: a submission reads its job back, and every job page reads one (drizzle's mapping was half the cost).
    this.byId = lazy(() => db.$client.query<RawJobRow, [string]>(`SELECT ${JOB_SELECT} FROM jobs WHERE id = ?`));
    // Raw, and only what starting a job needs: this runs once or twice per job.
    this.queued = lazy(() =>
      db.$client.query<QueuedRow, [number, number, string]>(
        `SELECT seq, id, attempts, max_attempts, definition_id, definition_version, parameters, inputs, outputs
         FROM jobs WHERE state = 'QUEUED' AND seq > ?1 AND (instance IS NULL OR instance = ?3) ORDER BY seq LIMIT ?2`,
      ),
    );
    this.due = lazy(() =>
      db.$client.query<{ id: string; instance: string | null }, [RetryParams & { now: number }]>(
        `SELECT id, instance FROM jobs WHERE state = 'WAITING' AND not_before <= $now AND ${OURS_TO_RETRY}`,
      ),
    );
    this.firstDue = lazy(() =>
      db.$client.query<{ t: number | null }, [RetryParams]>(`SELECT min(not_before) AS t FROM jobs WHERE state = 'WAITING' AND ${OURS_TO_RETRY}`),
    );
  }

  get(id: string): JobRow | undefined {
    const r = this.byId().get(id);
    return r ? jobRow(r) : undefined;
  }

  private where(f: JobFilter): SQL | undefined {
    const parts: SQL[] = [];
    if (f.states?.length) parts.push(f.states.length === 1 ? eq(jobs.state, f.states[0]) : inArray(jobs.state, f.states));
    if (f.definitionId !== undefined) parts.push(eq(jobs.definitionId, f.definitionId));
    if (f.owner !== undefined) parts.push(eq(jobs.owner, f.owner));
    if (f.beforeSeq !== undefined) parts.push(lt(jobs.seq, f.beforeSeq));
    return parts.length ? and(...parts) : undefined;
  }

  /**
   * Newest first. Two steps: the page's seqs from a narrow index (an offset
   * of 900,000 walks index pages, not rows), then those rows.
   */
  list(f: JobFilter, limit: number, offset: number): JobRow[] {
    const page = this.pageSeqs(f, limit, offset);
    if (page.length === 0) return [];
    return this.db
      .select()
      .from(jobs)
      .where(inArray(jobs.seq, page.map((r) => r.seq)))
      .orderBy(desc(jobs.seq))
      .all();
  }

  private pageSeqs(f: JobFilter, limit: number, offset: number): { seq: number }[] {
    if (f.states && f.states.length > 1) {
      // Several states: each state's newest rows from its own index, merged.
      // One IN (...) would collect and sort every matching row first.
      const each = f.states.map((state) => sql`SELECT * FROM (${this.seqQuery({ ...f, states: [state] }, limit + offset, 0)})`);
      return this.db.all(sql`SELECT seq FROM (${sql.join(each, sql` UNION ALL `)}) ORDER BY seq DESC LIMIT ${limit} OFFSET ${offset}`);
    }
    if (offset > 0 && isPlain(f) && f.beforeSeq === undefined) {
      // While no job was ever deleted from the middle, seqs run without a gap from the
      // oldest to the newest, and the row `offset` places from the newest is seq hi - offset:
      // a page a million deep is an index lookup instead of a walk of the index.
      const { lo, hi, n } = this.span().get()!;
      if (hi !== null && lo !== null && hi - lo + 1 === n) return this.seqsFrom().all(hi - offset, limit);
    }
    return this.db.all(this.seqQuery(f, limit, offset));
  }

  private seqQuery(f: JobFilter, limit: number, offset: number): SQL {
    const where = this.where(f);
    // Unfiltered, SQLite would walk the table itself in rowid order; the seq index is far denser.
    const from = isPlain(f) ? sql`${jobs} INDEXED BY jobs_seq` : sql`${jobs}`;
    return sql`SELECT ${jobs.seq} AS seq FROM ${from} ${where ? sql`WHERE ${where}` : sql``} ORDER BY ${jobs.seq} DESC LIMIT ${limit} OFFSET ${offset}`;
  }

  /** A job's seq, for a cursor. */
  seqOf(id: string): number | undefined {
    return this.db.select({ seq: jobs.seq }).from(jobs).where(eq(jobs.id, id)).get()?.seq;
  }

  /** From the counters the projection keeps, so it never scans the jobs table. Ignores `beforeSeq`. */
  total(f: JobFilter): number {
    if (f.owner !== undefined && f.definitionId === undefined) {
      const states = f.states?.length ? new Set<string>(f.states) : undefined;
      return this.ownerCounts()
        .all(f.owner)
        .reduce((n, r) => (states && !states.has(r.state) ? n : n + r.n), 0);
    }
    if (f.owner !== undefined) {
      return this.db.select({ n: sql<number>`count(*)` }).from(jobs).where(this.where({ ...f, beforeSeq: undefined })).get()?.n ?? 0;
    }
    const parts: SQL[] = [];
    if (f.states?.length) parts.push(inArray(jobCounts.state, f.states));
    if (f.definitionId !== undefined) parts.push(eq(jobCounts.definitionId, f.definitionId));
    const row = this.db
      .select({ n: sql<number>`coalesce(sum(${jobCounts.n}), 0)` })
      .from(jobCounts)
      .where(parts.length ? and(...parts) : undefined)
      .get();
    return row?.n ?? 0;
  }

  countsByState(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.db.select({ state: jobCounts.state, n: sql<number>`sum(${jobCounts.n})` }).from(jobCounts).groupBy(jobCounts.state).all()) {
      out[r.state] = r.n;
    }
    return out;
  }

  /** One owner's jobs per state. */
  countsByOwner(owner: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.ownerCounts().all(owner)) out[r.state] = r.n;
    return out;
  }

  /** Jobs that reached a final state since `since` (UNIX seconds), per minute and state. */
  finishedPerMinute(since: number, owner?: string): MinuteCount[] {
    const minute = Math.floor(since / 60);
    return owner === undefined ? this.finishedSince().all(minute) : this.finishedSinceBy().all(minute, owner);
  }

  /** The newest failed jobs, with their messages (the last says why). */
  latestFailures(limit: number, owner?: string): FailureRow[] {
    return owner === undefined ? this.failed().all(limit) : this.failedBy().all(owner, limit);
  }

  /** The oldest queued jobs after `afterSeq`, at most `limit`, with what starting them needs. */
  nextQueued(afterSeq: number, limit: number): QueuedJob[] {
    return this.queued()
      .all(afterSeq, limit, this.self)
      .map((r) => ({
        seq: r.seq,
        id: r.id,
        attempts: r.attempts,
        maxAttempts: r.max_attempts,
        definitionId: r.definition_id,
        definitionVersion: r.definition_version,
        parameters: JSON.parse(r.parameters),
        inputs: JSON.parse(r.inputs),
        // Before its first stage-out: where the job asked outputs to go ({name: {uri}}).
        outputs: r.outputs === "{}" ? {} : JSON.parse(r.outputs),
      }));
  }

  /**
   * Waiting jobs whose backoff has elapsed and that are this instance's to
   * queue again: its own, and in a fleet (`active`: the instances alive)
   * those of instances that are gone.
   */
  dueWaiting(now: number, active?: readonly string[]): { id: string; instance: string | null }[] {
    return this.due().all({ now, ...this.retryParams(active) });
  }

  /** Jobs this instance was running when it stopped. */
  runningOn(instance: string): JobRow[] {
    // Start-up asks this once, and usually there are none: a raw look first keeps the query builder's cold first use (~5 ms) off it.
    if (!this.db.$client.query("SELECT 1 FROM jobs WHERE state = 'RUNNING' AND instance = ? LIMIT 1").get(instance)) return [];
    return this.db.select().from(jobs).where(and(eq(jobs.state, "RUNNING"), eq(jobs.instance, instance))).all();
  }

  /** When the first of the waiting jobs `dueWaiting` would return is due. */
  earliestWaiting(active?: readonly string[]): number | undefined {
    return this.firstDue().get(this.retryParams(active))?.t ?? undefined;
  }

  private retryParams(active: readonly string[] | undefined): RetryParams {
    return { self: this.self, alive: active ? JSON.stringify(active) : null };
  }
}
