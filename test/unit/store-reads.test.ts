/**
 * Reads the submit path makes without a transaction of their own: a
 * definition comes from memory until a write changes definitions, and a
 * commit's read runs inside the transaction that writes its events.
 */
import { afterAll, expect, test } from "bun:test";
import { newId } from "../../src/domain/index.ts";
import { jobEvent as ev, tempStore } from "../helpers/index.ts";

const { store, remove } = tempStore();
afterAll(remove);

test("a definition found before a rename, an update or a delete is never found after it as it was", () => {
  const made = store.definitions.create({ name: "first", exec: "/bin/true" }, "admin");
  expect(store.definitions.find(made.id)?.name).toBe("first");
  expect(store.definitions.find(String(made.id))?.version).toBe(1);
  expect(store.definitions.find("first")?.id).toBe(made.id);
  // Names and ids are apart: no name reaches a row cached by its id.
  for (const name of [`#${made.id}`, `id ${made.id}`, `name first`]) expect(store.definitions.find(name)).toBeUndefined();

  store.definitions.update(made.id, { name: "second", exec: "/bin/echo" });
  expect(store.definitions.find("first")).toBeUndefined();
  expect(store.definitions.find("second")?.version).toBe(2);
  expect(store.definitions.find(made.id)?.definition).toEqual({ name: "second", exec: "/bin/echo" });

  // As another instance of the fleet wrote it: a newer version replaces the one here.
  const shared = { ...store.definitions.find(made.id)!, version: 3, definition: { name: "second", exec: "/bin/date" }, updatedAt: Date.now() / 1000 };
  store.definitions.applyShared(shared);
  expect(store.definitions.find("second")?.version).toBe(3);
  expect(store.definitions.find(made.id)?.definition).toEqual({ name: "second", exec: "/bin/date" });

  expect(store.definitions.delete(made.id)).toBe(true);
  expect(store.definitions.find(made.id)).toBeUndefined();
  expect(store.definitions.find("second")).toBeUndefined();
});

test("a definition row handed out cannot be changed by the caller for the next one", () => {
  const made = store.definitions.create({ name: "frozen", exec: "/bin/true", argv: ["a"] }, "admin");
  const row = store.definitions.find(made.id)!;
  expect(() => {
    (row.definition as { argv: string[] }).argv.push("b");
  }).toThrow();
  expect(() => {
    (row as { name: string | null }).name = "other";
  }).toThrow();
  expect(store.definitions.find("frozen")?.definition).toEqual({ name: "frozen", exec: "/bin/true", argv: ["a"] });
});

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
