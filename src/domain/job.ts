/**
 * The job life cycle.
 *
 *            queue                claim              exit 0
 *   NEW ──────────────▶ QUEUED ──────────▶ RUNNING ──────────▶ FINISHED
 *    │                   ▲  │               │  │ │
 *    │                   │  │               │  │ └──────────────▶ FAILED
 *    │        backoff    │  │     retryable │  │  failed, no attempts left
 *    │       elapsed     │  │       failure ▼  │
 *    │                 WAITING ◀────────────┘  │ interrupted (shutdown,
 *    │                   │  │                  │ instance lost): QUEUED
 *    ▼                   ▼  ▼                  ▼
 *   CANCELLED ◀──────────────────────────── cancel (any state but final)
 *
 * FINISHED, FAILED and CANCELLED are final. Every transition is an event;
 * the job row is the projection of its events.
 */
export const JOB_STATES = ["NEW", "QUEUED", "RUNNING", "WAITING", "FINISHED", "FAILED", "CANCELLED"] as const;
export type JobState = (typeof JOB_STATES)[number];

export const FINAL_STATES: ReadonlySet<JobState> = new Set(["FINISHED", "FAILED", "CANCELLED"]);

export const isFinal = (state: JobState) => FINAL_STATES.has(state);

const TRANSITIONS: Record<JobState, readonly JobState[]> = {
  NEW: ["QUEUED", "CANCELLED"],
  QUEUED: ["RUNNING", "CANCELLED"],
  RUNNING: ["FINISHED", "FAILED", "CANCELLED", "WAITING", "QUEUED"],
  WAITING: ["QUEUED", "CANCELLED"],
  FINISHED: [],
  FAILED: [],
  CANCELLED: [],
};

export function canTransition(from: JobState, to: JobState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** How long to wait before attempt `next` (2, 3, …) under a retry policy, in seconds. */
export function retryDelay(policy: { backoff: number; factor: number }, next: number): number {
  return policy.backoff * policy.factor ** Math.max(0, next - 2);
}
