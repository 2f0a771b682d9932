/**
 * The queue hands jobs to an instance with free slots. Local: the SQLite
 * jobs table in submission order. The fleet implements the same interface
 * over JetStream.
 */
import type { JobsRepo, QueuedJob } from "../store/index.ts";

/** A job the queue offers, as it is in the store, and the attempt it would be. */
export interface Offered {
  id: string;
  attempt: number;
  job: QueuedJob;
}

export interface Queue {
  /** Up to `n` queued jobs for this instance to start now, oldest first, none of them in `exclude`. */
  claim(n: number, exclude: ReadonlyMap<string, unknown>): Offered[];
}

export class LocalQueue implements Queue {
  constructor(private readonly jobs: JobsRepo) {}

  claim(n: number, exclude: ReadonlyMap<string, unknown>): Offered[] {
    const rows = this.jobs.nextQueued(n + exclude.size);
    const offered: Offered[] = [];
    for (const r of rows) {
      if (offered.length === n) break;
      if (!exclude.has(r.id)) offered.push({ id: r.id, attempt: r.attempts + 1, job: r });
    }
    return offered;
  }
}
