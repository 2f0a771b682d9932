/**
 * Events: immutable facts with a routing key in the executor seed's format
 * (`executor.ready`, `job.{id}.stage-in.finished`, …). Every event carries
 * `executor` (instance id), `timestamp` (float UNIX seconds), `type` (the key
 * without the job id) and, for a job, `id` and `thread` (slot).
 */
export const JOB_EVENT_TYPES = [
  "created",
  "updated",
  "queued",
  "started",
  "stage-in.started",
  "stage-in.finished",
  "execution.started",
  "execution.finished",
  "stage-out.started",
  "stage-out.finished",
  "waiting",
  "finished",
  "failed",
  "cancelled",
  "message",
  "deleted",
] as const;
export type JobEventType = (typeof JOB_EVENT_TYPES)[number];

export interface FlueEvent {
  type: string;
  executor: string;
  timestamp: number;
  id?: string;
  thread?: number;
  [field: string]: unknown;
}

export function routingKey(event: Pick<FlueEvent, "type" | "id">): string {
  return event.id === undefined ? event.type : `job.${event.id}.${event.type}`;
}

/**
 * Compiles a topic pattern (`*` one word, `#` any number of words, words
 * separated by dots) into a predicate over routing keys.
 */
export function topicMatcher(pattern: string): (key: string) => boolean {
  const p = (pattern.trim() || "#").split(".");
  if (p.length === 1 && p[0] === "#") return () => true;
  return (key) => matchWords(p, key.split("."), 0, 0);
}

function matchWords(p: string[], k: string[], i: number, j: number): boolean {
  if (i === p.length) return j === k.length;
  if (p[i] === "#") {
    for (let t = j; t <= k.length; t++) if (matchWords(p, k, i + 1, t)) return true;
    return false;
  }
  if (j === k.length) return false;
  return (p[i] === "*" || p[i] === k[j]) && matchWords(p, k, i + 1, j + 1);
}

/** Whether a pattern is well formed: words of `*`, `#` or text without wildcards. */
export function isValidPattern(pattern: string): boolean {
  if (pattern.trim() === "") return true;
  return pattern.split(".").every((w) => w === "*" || w === "#" || (w.length > 0 && !/[*#\s]/.test(w)));
}
