/**
 * The queue hands jobs to an instance with free slots. Local: the SQLite
 * jobs table in submission order. The fleet implements the same interface
 * over JetStream.
 */
import type { EventLog, JobsRepo, QueuedJob } from "../store/index.ts";

/** A job the queue offers, as it is in the store, and the attempt it would be. */
export interface Offered {
  id: string;
  attempt: number;
  job: QueuedJob;
  /** Why this attempt starts, when the job said nothing yet: a fail-over says which instance was lost. */
  note?: string;
}

/** What a queue that fills itself in the background needs of the executor. */
export interface QueueHost {
  /** Slots free now (0 while not taking jobs). */
  free(): number;
  /** Makes the executor look at the queue again soon. */
  wake(): void;
}

export interface Queue {
  /** Up to `n` queued jobs for this instance to start now, oldest first, none of them in `exclude`. */
  claim(n: number, exclude: ReadonlyMap<string, unknown>): Offered[];
  /**
   * Shared by a fleet: a job left RUNNING here when flue died is the fleet's
   * to run again, not this instance's to retry or fail.
   */
  readonly shared?: boolean;
  /** Called once when the executor starts. */
  attach?(host: QueueHost): void;
  /** An attempt of the job, started from this queue, ended here (its end is emitted). */
  ended?(jobId: string): void;
  /**
   * The instances alive in the fleet, this one included: a WAITING job of
   * any other instance is this one's to queue again when its backoff ends.
   */
  alive?(): readonly string[];
  /** False while this instance's view of the jobs may still be behind the fleet's (it just joined): retries wait. */
  current?(): boolean;
}

/** How many queued jobs one look at the store reads ahead. */
const READ_AHEAD = 64;

/**
 * Reads the queue ahead, READ_AHEAD jobs at a time, and hands them out from
 * memory: one query per job cost more CPU than the rest of dispatching it.
 * Stays true to the store by following the events. A job submitted as
 * QUEUED logs `created` and `queued` one after the other and is newer than
 * anything read; any other `queued` (a retry, a job queued from NEW, one put
 * back at shutdown) may be older than what was read, so the read starts
 * over. A cancelled or deleted job leaves the read-ahead.
 */
export class LocalQueue implements Queue {
  private ahead: QueuedJob[] = [];
  /** The seq of the last job read; the next read continues after it. */
  private cursor = 0;
  /** The job of the event just before, if that event was its `created`. */
  private justCreated: string | undefined;

  constructor(
    private readonly jobs: JobsRepo,
    events: EventLog,
  ) {
    events.subscribe((e) => {
      const justCreated = this.justCreated;
      this.justCreated = e.type === "created" ? e.id : undefined;
      if (e.type === "queued") {
        if (e.id !== justCreated) this.startOver();
      } else if (e.type === "cancelled" || e.type === "deleted") {
        const i = this.ahead.findIndex((j) => j.id === e.id);
        if (i >= 0) this.ahead.splice(i, 1);
      }
    });
  }

  private startOver(): void {
    this.ahead = [];
    this.cursor = 0;
  }

  claim(n: number, exclude: ReadonlyMap<string, unknown>): Offered[] {
    const offered: Offered[] = [];
    while (offered.length < n) {
      if (this.ahead.length === 0) {
        this.ahead = this.jobs.nextQueued(this.cursor, READ_AHEAD);
        if (this.ahead.length === 0) break;
        this.cursor = this.ahead.at(-1)!.seq;
      }
      const job = this.ahead.shift()!;
      if (!exclude.has(job.id)) offered.push({ id: job.id, attempt: job.attempts + 1, job });
    }
    return offered;
  }
}
