import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { canTransition, FINAL_STATES, isFinal, JOB_STATES, retryDelay, type JobState } from "../../src/domain/job.ts";

// The life cycle as DESIGN.md and issue 2 describe it, written out here
// independently so a change to the table in job.ts has to be deliberate.
const ALLOWED: [JobState, JobState, string][] = [
  ["NEW", "QUEUED", "queued by its owner"],
  ["NEW", "CANCELLED", "cancelled before queueing"],
  ["QUEUED", "RUNNING", "claimed by a slot"],
  ["QUEUED", "CANCELLED", "cancelled while queued"],
  ["RUNNING", "FINISHED", "exit 0"],
  ["RUNNING", "FAILED", "failed with no attempts left"],
  ["RUNNING", "WAITING", "retryable failure, backing off"],
  ["RUNNING", "QUEUED", "interrupted by shutdown or a lost instance"],
  ["RUNNING", "CANCELLED", "cancelled while running"],
  ["WAITING", "QUEUED", "backoff elapsed"],
  ["WAITING", "CANCELLED", "cancelled while waiting"],
];
const allowed = new Set(ALLOWED.map(([from, to]) => `${from}>${to}`));

describe("canTransition", () => {
  test.each(ALLOWED)("%s → %s (%s)", (from, to) => {
    expect(canTransition(from, to)).toBe(true);
  });

  const forbidden = JOB_STATES.flatMap((from) => JOB_STATES.filter((to) => !allowed.has(`${from}>${to}`)).map((to) => [from, to] as [JobState, JobState]));
  test.each(forbidden)("%s ↛ %s", (from, to) => {
    expect(canTransition(from, to)).toBe(false);
  });

  test("the matrix has exactly the allowed transitions", () => {
    expect(forbidden).toHaveLength(JOB_STATES.length ** 2 - ALLOWED.length);
    expect(forbidden).toContainEqual(["NEW", "RUNNING"]);
    expect(forbidden).toContainEqual(["FINISHED", "QUEUED"]);
  });

  test("no state goes to itself, nothing leaves a final state, nothing returns to NEW", () => {
    for (const s of JOB_STATES) {
      expect(canTransition(s, s)).toBe(false);
      expect(canTransition(s, "NEW")).toBe(false);
      if (isFinal(s)) for (const to of JOB_STATES) expect(canTransition(s, to)).toBe(false);
    }
  });

  test("every non-final state can be cancelled and every state is reachable from NEW", () => {
    const reached = new Set<JobState>(["NEW"]);
    for (let grew = true; grew; ) {
      grew = false;
      for (const from of [...reached]) for (const to of JOB_STATES) if (canTransition(from, to) && !reached.has(to)) (reached.add(to), (grew = true));
    }
    expect([...reached].sort()).toEqual([...JOB_STATES].sort());
    for (const s of JOB_STATES) expect(canTransition(s, "CANCELLED")).toBe(!isFinal(s));
  });
});

test("the final states are FINISHED, FAILED and CANCELLED", () => {
  expect([...FINAL_STATES].sort()).toEqual(["CANCELLED", "FAILED", "FINISHED"]);
  expect(JOB_STATES.filter(isFinal).sort()).toEqual(["CANCELLED", "FAILED", "FINISHED"]);
});

describe("retryDelay", () => {
  test.each([
    [{ backoff: 1, factor: 2 }, 2, 1],
    [{ backoff: 1, factor: 2 }, 3, 2],
    [{ backoff: 1, factor: 2 }, 4, 4],
    [{ backoff: 1, factor: 2 }, 6, 16],
    [{ backoff: 5, factor: 1 }, 7, 5],
    [{ backoff: 0, factor: 3 }, 5, 0],
    [{ backoff: 0.5, factor: 3 }, 3, 1.5],
    [{ backoff: 2, factor: 2 }, 1, 2],
  ])("%j before attempt %d is %d s", (policy, next, seconds) => {
    expect(retryDelay(policy, next)).toBe(seconds);
  });

  test("never shrinks from one attempt to the next, and the second attempt waits the backoff", () => {
    const policy = fc.record({ backoff: fc.double({ min: 0, max: 86400, noNaN: true }), factor: fc.double({ min: 1, max: 10, noNaN: true }) });
    fc.assert(
      fc.property(policy, fc.integer({ min: 2, max: 60 }), (p, next) => {
        expect(retryDelay(p, 2)).toBe(p.backoff);
        expect(retryDelay(p, next + 1)).toBeGreaterThanOrEqual(retryDelay(p, next));
      }),
    );
  });
});
