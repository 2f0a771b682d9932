/**
 * Reads the submit path makes without a transaction of their own: a
 * commit's read runs inside the transaction that writes its events.
 */
import { afterAll, expect, test } from "bun:test";
import { newId, type FlueEvent } from "../../src/domain/index.ts";
import { tempStore } from "../helpers/index.ts";

const { store, remove } = tempStore();
afterAll(remove);

const ev = (type: string, id: string, fields: Record<string, unknown> = {}): FlueEvent => ({ type, id, executor: "x", timestamp: Date.now() / 1000, ...fields });

test("a commit's read runs in the transaction that writes its events and sees what they made", async () => {
  const def = store.definitions.create({ exec: "/bin/true" }, "admin");
  const ids = [newId(), newId()];
  const created = (id: string) => ev("created", id, { definition_id: def.id, definition_version: 1, owner: "ann", parameters: {}, inputs: {} });
  const sqlite = store.db.$client;
  // Two commits in one turn share one transaction; each read sees both jobs.
  const [a, b] = await Promise.all(
    ids.map((id) => store.events.commit([created(id)], () => ({ inTransaction: sqlite.inTransaction, states: ids.map((i) => store.jobs.get(i)?.state) }))),
  );
  expect(a).toEqual({ inTransaction: true, states: ["NEW", "NEW"] });
  expect(b).toEqual(a);
  expect(sqlite.inTransaction).toBe(false);
  expect(store.events.listForJob(ids[1]).map((e) => e.type)).toEqual(["created"]);
});
