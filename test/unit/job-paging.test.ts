/**
 * Pages of the job list at any offset: the store reaches a deep page
 * directly while no seq is missing, and walks the index once one is (a job
 * deleted from the middle). Either way a page is what OFFSET over every job,
 * newest first, would give.
 */
import { afterAll, expect, test } from "bun:test";
import { newId } from "../../src/domain/index.ts";
import type { Store } from "../../src/store/index.ts";
import { jobEvent as ev, tempStore } from "../helpers/index.ts";

const { store, remove } = tempStore();
afterAll(remove);

/** Every page of `limit` from offset 0 to past the end, as ids, beside what OFFSET over all jobs gives. */
function pages(store: Store, limit: number) {
  const all = store.db.$client.query<{ n: number }, []>("SELECT count(*) AS n FROM jobs").get()!.n;
  const byOffset = store.db.$client.query<{ id: string }, [number, number]>("SELECT id FROM jobs ORDER BY seq DESC LIMIT ? OFFSET ?");
  const got: string[][] = [];
  const want: string[][] = [];
  for (let offset = 0; offset <= all + limit; offset++) {
    got.push(store.jobs.list({}, limit, offset).map((j) => j.id));
    want.push(byOffset.all(limit, offset).map((r) => r.id));
  }
  return { got, want };
}

test("every page of the job list is the jobs at that offset, before and after jobs are deleted", () => {
  const def = store.definitions.create({ exec: "/bin/true" }, "admin");
  const ids = Array.from({ length: 40 }, () => newId());
  store.events.append(...ids.map((id, i) => ev("created", id, { definition_id: def.id, definition_version: 1, owner: i % 2 ? "ann" : "bo", parameters: {}, inputs: {} })));

  const whole = pages(store, 7);
  expect(whole.got).toEqual(whole.want);
  expect(whole.got[3]).toEqual(ids.slice().reverse().slice(3, 10));

  // The oldest deleted: the seqs still run without a gap.
  store.events.append(ev("deleted", ids[0]));
  const trimmed = pages(store, 7);
  expect(trimmed.got).toEqual(trimmed.want);
  expect(trimmed.got.at(-1)).toEqual([]);

  // One from the middle: a page past it must not be off by one.
  store.events.append(ev("deleted", ids[20]));
  const gapped = pages(store, 7);
  expect(gapped.got).toEqual(gapped.want);
  expect(gapped.got[15]).not.toContain(ids[20]);
  expect(gapped.got[38 - 19]).toEqual([ids[19], ids[18], ids[17], ids[16], ids[15], ids[14], ids[13]]);

  // The newest deleted too, then new jobs after the gap.
  store.events.append(ev("deleted", ids[39]));
  const more = Array.from({ length: 5 }, () => newId());
  store.events.append(...more.map((id) => ev("created", id, { definition_id: def.id, definition_version: 1, owner: "ann", parameters: {}, inputs: {} })));
  const later = pages(store, 3);
  expect(later.got).toEqual(later.want);
});
