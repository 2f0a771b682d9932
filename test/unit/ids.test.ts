import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ID_PATTERN, newId } from "../../src/domain/ids.ts";

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";
const MAX_TIME = 2 ** 48 - 1;

/** Reads the milliseconds back out of an id's first ten characters. */
const timeOf = (id: string) => [...id.slice(0, 10)].reduce((t, c) => t * 32 + ALPHABET.indexOf(c), 0);

describe("newId", () => {
  test("is 26 lowercase Crockford base32 characters", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_TIME }), (t) => {
        const id = newId(t);
        expect(id).toHaveLength(26);
        expect(id).toMatch(ID_PATTERN);
        expect([...id].every((c) => ALPHABET.includes(c))).toBe(true);
      }),
    );
  });

  test("carries its time in the first ten characters", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: MAX_TIME }), (t) => expect(timeOf(newId(t))).toBe(t)));
    expect(newId(0).slice(0, 10)).toBe("0000000000");
    const now = Date.now();
    expect(timeOf(newId())).toBeGreaterThanOrEqual(now);
    expect(timeOf(newId())).toBeLessThan(now + 60_000);
  });

  test("a later time sorts after an earlier one", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_TIME }), fc.integer({ min: 0, max: MAX_TIME }), (a, b) => {
        fc.pre(a !== b);
        const [ia, ib] = [newId(a), newId(b)];
        expect(ia < ib).toBe(a < b);
      }),
    );
    expect(newId(999) < newId(1000)).toBe(true);
  });

  test("ids made in the same millisecond share the time prefix and differ", () => {
    const a = newId(1_700_000_000_000);
    const b = newId(1_700_000_000_000);
    expect(a.slice(0, 10)).toBe(b.slice(0, 10));
    expect(a).not.toBe(b);
  });

  test("is unique over many calls", () => {
    const n = 100_000;
    const ids = new Set(Array.from({ length: n }, () => newId()));
    expect(ids.size).toBe(n);
  });

  test("the random part uses the whole alphabet", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) for (const c of newId(0).slice(10)) seen.add(c);
    expect([...seen].sort().join("")).toBe(ALPHABET);
  });
});

describe("ID_PATTERN", () => {
  test.each(["01hz3k8q2w9x7v5t4r3p2n1m0", "01hz3k8q2w9x7v5t4r3p2n1m0ab", "01HZ3K8Q2W9X7V5T4R3P2N1M0A", "01hz3k8q2w9x7v5t4r3p2n1m0i", "01hz3k8q2w9x7v5t4r3p2n1m0u", "../../../../etc/passwd0000"])(
    "rejects %p",
    (id) => expect(ID_PATTERN.test(id)).toBe(false),
  );
});
