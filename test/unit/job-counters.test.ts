/**
 * The counters the projection keeps for the dashboard and per-user totals:
 * jobs per owner and state, and jobs ended per minute. They must agree with
 * the jobs table after any sequence of events, and a data dir made before
 * they existed gets them filled in by its migration.
 */
import { Database } from "bun:sqlite";
import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { newId, type FlueEvent } from "../../src/domain/index.ts";
import { migrate } from "../../src/store/db.ts";
import { migrations } from "../../src/store/migrations.gen.ts";
import { Store } from "../../src/store/index.ts";
import { jobEvent, tempDir, tempStore } from "../helpers/index.ts";

const dirs: { remove: () => void }[] = [];
afterEach(() => dirs.splice(0).forEach((d) => d.remove()));

function open(): Store {
  const { store, remove } = tempStore();
  dirs.push({ remove });
  return store;
}

const ev = (type: string, id: string, timestamp: number, fields: Record<string, unknown> = {}): FlueEvent => jobEvent(type, id, { timestamp, ...fields });

/** One job's life: created by `owner`, ending in `end` at `at`. */
function life(definitionId: number, owner: string, end: "finished" | "failed" | "cancelled" | null, at: number): FlueEvent[] {
  const id = newId(at * 1000);
  const created = ev("created", id, at - 1, { definition_id: definitionId, definition_version: 1, owner, parameters: {}, inputs: {}, max_attempts: 1 });
  if (end === null) return [created, ev("queued", id, at - 1)];
  return [created, ev("queued", id, at - 1), ev("started", id, at - 0.5, { attempt: 1, thread: 1 }), ev(end, id, at)];
}

/** What the counters should say, counted from the jobs table itself. */
function counted(store: Store) {
  const db = store.db.$client;
  return {
    owners: db.query("SELECT coalesce(owner, '') AS owner, state, count(*) AS n FROM jobs GROUP BY 1, 2 ORDER BY 1, 2").all(),
    minutes: db
      .query("SELECT CAST(finished_at / 60 AS INTEGER) AS minute, coalesce(owner, '') AS owner, state, count(*) AS n FROM jobs WHERE state IN ('FINISHED','FAILED','CANCELLED') GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")
      .all(),
  };
}

function kept(store: Store) {
  const db = store.db.$client;
  return {
    owners: db.query("SELECT owner, state, n FROM job_owner_counts WHERE n <> 0 ORDER BY 1, 2").all(),
    minutes: db.query("SELECT minute, owner, state, n FROM job_minutes ORDER BY 1, 2, 3").all(),
  };
}

test("per-owner and per-minute counts follow every event, deletes included", () => {
  const store = open();
  const def = store.definitions.create({ exec: "/bin/true" }, "admin");
  const now = Date.now() / 1000;
  const events: FlueEvent[] = [];
  const owners = ["ann", "bo", "cy"];
  for (let i = 0; i < 300; i++) {
    const end = (["finished", "failed", "cancelled", null] as const)[i % 4];
    events.push(...life(def.id, owners[i % 3], end, now - 3600 + i * 11));
  }
  // In batches of varied size, as the executor's group commits make them.
  for (let i = 0; i < events.length; i += 37) store.events.append(...events.slice(i, i + 37));
  // Delete a few, whatever their state.
  for (const row of store.db.$client.query<{ id: string }, []>("SELECT id FROM jobs ORDER BY seq LIMIT 10").all()) {
    store.events.append(ev("deleted", row.id, now));
  }
  const c = counted(store);
  const k = kept(store);
  expect(k.owners).toEqual(c.owners);
  // Minutes count endings as they happened: the deleted jobs' endings stay counted.
  expect(k.minutes.reduce((n: number, r: any) => n + r.n, 0)).toBe(225);
  expect(store.jobs.countsByOwner("ann")).toEqual(Object.fromEntries((c.owners as any[]).filter((r) => r.owner === "ann").map((r) => [r.state, r.n])));
  expect(store.jobs.total({ owner: "bo" })).toBe((c.owners as any[]).filter((r) => r.owner === "bo").reduce((n, r) => n + r.n, 0));
  expect(store.jobs.total({ owner: "bo", states: ["FAILED"] })).toBe((c.owners as any[]).find((r) => r.owner === "bo" && r.state === "FAILED")?.n ?? 0);
  const hour = store.jobs.finishedPerMinute(now - 1800);
  expect(hour.every((r) => r.minute >= Math.floor((now - 1800) / 60))).toBe(true);
  expect(hour.reduce((n, r) => n + r.n, 0)).toBeGreaterThan(100);
  store.close();
});

test("a data dir from before the counters gets them filled in from its jobs", () => {
  const dir = tempDir();
  dirs.push(dir);
  const path = join(dir.path, "flue.db");
  // The schema as it was before the counters (migrations 0000–0004), with jobs in it.
  const old = new Database(path);
  old.run("CREATE TABLE flue_migrations (idx INTEGER PRIMARY KEY, tag TEXT NOT NULL, applied_at REAL NOT NULL)");
  const before = migrations.findIndex((m) => m.tag.endsWith("_dashboard_counters"));
  for (const m of migrations.slice(0, before)) {
    for (const s of m.statements) old.run(s);
    old.query("INSERT INTO flue_migrations VALUES (?, ?, ?)").run(m.idx, m.tag, 0);
  }
  const now = Date.now() / 1000;
  const insert = old.query(
    "INSERT INTO jobs (id, definition_id, definition_version, state, owner, parameters, inputs, created_at, finished_at) VALUES (?, 1, 1, ?, ?, '{}', '{}', ?, ?)",
  );
  for (let i = 0; i < 50; i++) {
    const state = ["FINISHED", "FAILED", "QUEUED"][i % 3];
    insert.run(newId(), state, i % 2 ? "ann" : null, now - 100, state === "QUEUED" ? null : now - 60 * (i % 5));
  }
  // One ended long ago: past the week the chart keeps.
  insert.run(newId(), "FINISHED", "ann", now - 30 * 86400, now - 30 * 86400);
  migrate(old);
  old.close();
  const store = Store.open(path);
  const c = counted(store);
  const k = kept(store);
  expect(k.owners).toEqual(c.owners);
  expect(k.minutes).toEqual((c.minutes as any[]).filter((r) => r.minute * 60 > now - 8 * 86400));
  store.close();
});

test("past the 50,000 jobs in flight the projection remembers, the ones it forgot still move and count right", () => {
  const store = open();
  const def = store.definitions.create({ exec: "/bin/true" }, "admin");
  const now = Date.now() / 1000;
  const ids = Array.from({ length: 56_000 }, (_, i) => newId((now - 3600) * 1000 + i));
  const created = (id: string) => ev("created", id, now - 60, { definition_id: def.id, definition_version: 1, owner: "ann", parameters: {}, inputs: {}, max_attempts: 1 });
  for (let i = 0; i < ids.length; i += 2000) store.events.append(...ids.slice(i, i + 2000).map(created));
  // The oldest were forgotten to make room; the newest are remembered.
  const moved = [...ids.slice(0, 100), ...ids.slice(-100)];
  store.events.append(...moved.flatMap((id) => [ev("queued", id, now - 30), ev("started", id, now - 20, { attempt: 1, thread: 1 }), ev("finished", id, now - 10)]));
  for (const id of [ids[0], ids[99], ids.at(-1)!]) expect(store.jobs.get(id)?.state).toBe("FINISHED");
  expect(store.jobs.get(ids[100])?.state).toBe("NEW");
  expect(store.jobs.countsByOwner("ann")).toEqual({ NEW: ids.length - 200, FINISHED: 200 });
  expect(kept(store).owners).toEqual(counted(store).owners);
  store.close();
});
