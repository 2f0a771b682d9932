/**
 * The queue hands jobs to an instance with free slots. Local: the SQLite
 * jobs table in submission order. The fleet implements the same interface
 * over JetStream.
 */
import type { JobsRepo } from "../store/jobs-repo.ts";

export interface Queue {
  /** Up to `n` queued job ids for this instance to start now, oldest first, none of them in `exclude`. */
  claim(n: number, exclude: ReadonlyMap<string, unknown>): string[];
}

export class LocalQueue implements Queue {
  constructor(private readonly jobs: JobsRepo) {}

  claim(n: number, exclude: ReadonlyMap<string, unknown>): string[] {
    const ids = this.jobs.nextQueued(n + exclude.size);
    return (exclude.size ? ids.filter((id) => !exclude.has(id)) : ids).slice(0, n);
  }
}
