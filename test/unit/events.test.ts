import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { isValidPattern, routingKey, topicMatcher } from "../../src/domain/events.ts";

/**
 * A reference matcher written differently from the real one: the pattern
 * becomes a regular expression over the key with a dot before every word.
 */
function reference(pattern: string, key: string): boolean {
  const words = (pattern.trim() || "#").split(".");
  const source = words
    .map((w) => (w === "#" ? "(?:\\.[^.]*)*" : w === "*" ? "\\.[^.]*" : `\\.${w.replace(/[\\^$.|?*+()[\]{}-]/g, "\\$&")}`))
    .join("");
  return new RegExp(`^${source}$`).test(`.${key}`);
}

const ID = "01hz3k8q2w9x7v5t4r3p2n1m0a";

describe("topicMatcher", () => {
  const cases: [string, string, boolean][] = [
    ["executor.ready", "executor.ready", true],
    ["executor.ready", "executor.readyx", false],
    ["executor.*", "executor.ready", true],
    ["*", "executor.ready", false],
    ["#", "executor.ready", true],
    ["#", `job.${ID}.stage-in.finished`, true],
    ["", `job.${ID}.created`, true],
    [`job.*.finished`, `job.${ID}.finished`, true],
    [`job.*.finished`, `job.${ID}.stage-in.finished`, false],
    [`job.*.finished`, `job.${ID}`, false],
    [`job.*.*.finished`, `job.${ID}.stage-in.finished`, true],
    [`job.*.*.finished`, `job.${ID}.finished`, false],
    [`job.#.finished`, `job.${ID}.finished`, true],
    [`job.#.finished`, `job.${ID}.stage-out.finished`, true],
    [`job.#.finished`, `job.finished`, true],
    [`job.#.finished`, `job.${ID}.failed`, false],
    [`#.finished`, `job.${ID}.execution.finished`, true],
    [`#.finished`, "finished", true],
    [`#.finished`, `job.${ID}.finished.x`, false],
    [`job.${ID}.#`, `job.${ID}.stage-in.started`, true],
    [`job.${ID}.#`, `job.${ID}`, true],
    [`job.${ID}.#`, `job.other.created`, false],
    [`job.#`, "executor.ready", false],
    [`#.stage-in.#`, `job.${ID}.stage-in.finished`, true],
    [`#.stage-in.#`, `job.${ID}.stage-out.finished`, false],
    [`#.#`, "a", true],
    [`*.#`, "executor.ready", true],
    [`*.#.*`, "a", false],
    [`job.*.finished`, `JOB.${ID}.finished`, false],
  ];
  test.each(cases)("%p against %p is %p", (pattern, key, matches) => {
    expect(topicMatcher(pattern)(key)).toBe(matches);
    expect(reference(pattern, key)).toBe(matches);
  });

  test("agrees with the reference matcher on generated patterns and keys", () => {
    const word = fc.constantFrom("job", "a", "b", "finished", "stage-in");
    const pattern = fc.array(fc.oneof(word, fc.constantFrom("*", "#")), { minLength: 1, maxLength: 5 }).map((w) => w.join("."));
    const key = fc.array(word, { minLength: 1, maxLength: 6 }).map((w) => w.join("."));
    let matched = 0;
    fc.assert(
      fc.property(pattern, key, (p, k) => {
        const m = topicMatcher(p)(k);
        if (m) matched++;
        expect(m).toBe(reference(p, k));
      }),
      { numRuns: 2000 },
    );
    // Guards against a generator that only ever produces misses.
    expect(matched).toBeGreaterThan(50);
  });

  test("a pattern without wildcards matches only its own key", () => {
    const key = fc.array(fc.stringMatching(/^[a-z0-9-]{1,5}$/), { minLength: 1, maxLength: 4 }).map((w) => w.join("."));
    fc.assert(fc.property(key, key, (a, b) => expect(topicMatcher(a)(b)).toBe(a === b)));
  });
});

describe("isValidPattern", () => {
  test.each(["#", "", "  ", "*", "job.*.finished", "job.#", "#.finished", "executor.ready", `job.${ID}.stage-in.*`])("%p is valid", (p) => {
    expect(isValidPattern(p)).toBe(true);
  });
  test.each(["job..finished", ".job", "job.", "job*", "job.*x.finished", "a#", "job. finished", "a b", "job.**"])("%p is not", (p) => {
    expect(isValidPattern(p)).toBe(false);
  });
});

describe("routingKey", () => {
  test("a job event is keyed job.{id}.{type}; any other by its type", () => {
    expect(routingKey({ type: "stage-in.finished", id: ID })).toBe(`job.${ID}.stage-in.finished`);
    expect(routingKey({ type: "created", id: ID })).toBe(`job.${ID}.created`);
    expect(routingKey({ type: "executor.ready" })).toBe("executor.ready");
  });

  test("the keys it makes are what the documented patterns select", () => {
    const finished = topicMatcher("job.*.finished");
    expect(finished(routingKey({ type: "finished", id: ID }))).toBe(true);
    expect(finished(routingKey({ type: "execution.finished", id: ID }))).toBe(false);
    expect(finished(routingKey({ type: "executor.ready" }))).toBe(false);
  });
});
