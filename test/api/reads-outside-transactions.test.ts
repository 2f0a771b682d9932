/**
 * The statements a request or a job runs outside a transaction. Each is a
 * transaction of its own, which in WAL mode takes and drops a lock on the
 * -shm file (two fcntl calls, ~5 µs on these machines), so the hot paths
 * keep them to what they cannot do without: a submission runs one, the
 * sign-in's `PRAGMA data_version` (how a `flue user set` made by another
 * process is seen at once); reading a job adds its one read; running jobs
 * adds only the queue's look ahead, one per 64 jobs and one when it runs
 * dry. Counted on the real database: every statement the app prepares is
 * watched for whether its connection was in a transaction.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, expect, test } from "bun:test";
import { inProcess, type InProcess } from "../helpers/index.ts";

let counting = false;
const outside: string[] = [];

function watched<S extends object>(statement: S, db: Database, sql: string): S {
  for (const method of ["get", "all", "values", "run"] as const) {
    const run = (statement as Record<string, unknown>)[method] as ((...args: unknown[]) => unknown) | undefined;
    if (typeof run !== "function") continue;
    (statement as Record<string, unknown>)[method] = (...args: unknown[]) => {
      if (counting && !db.inTransaction) outside.push(sql.trim().split(/\s+/).slice(0, 4).join(" "));
      return run.apply(statement, args);
    };
  }
  return statement;
}

const query = Database.prototype.query;
const prepare = Database.prototype.prepare;
let f: InProcess;
let definition: number;

beforeAll(async () => {
  Database.prototype.query = function (this: Database, sql: string) {
    return watched(query.call(this, sql), this, sql);
  } as typeof query;
  Database.prototype.prepare = function (this: Database, sql: string, ...rest: unknown[]) {
    return watched((prepare as (...a: unknown[]) => object).call(this, sql, ...rest), this, sql);
  } as typeof prepare;
  f = await inProcess({ slots: 2 });
  definition = (await f.json("POST", "/api/process_definition/", { definition: { exec: "/bin/true" } })).body.id;
  // Statements are prepared on first use: one of each request first, uncounted.
  const job = await f.json("POST", "/api/job/", { process_definition: definition, state: "QUEUED" });
  await f.json("GET", `/api/job/${job.body.id}/?wait=10`);
});

afterAll(async () => {
  Database.prototype.query = query;
  Database.prototype.prepare = prepare;
  await f.close();
});

/** What `during` ran outside a transaction. */
async function countedDuring(during: () => Promise<void>): Promise<string[]> {
  outside.length = 0;
  counting = true;
  try {
    await during();
  } finally {
    counting = false;
  }
  return [...outside];
}

test("a submission runs one statement outside a transaction: the sign-in's PRAGMA data_version", async () => {
  const ran = await countedDuring(async () => {
    for (let i = 0; i < 3; i++) expect((await f.json("POST", "/api/job/", { process_definition: definition, state: "NEW" })).status).toBe(201);
  });
  expect(ran).toEqual(Array(3).fill("PRAGMA data_version"));
});

test("reading a job runs the sign-in's and the job's read, nothing more", async () => {
  const job = (await f.json("POST", "/api/job/", { process_definition: definition, state: "NEW" })).body;
  const ran = await countedDuring(async () => {
    expect((await f.json("GET", `/api/job/${job.id}/`)).status).toBe(200);
  });
  expect(ran).toEqual(["PRAGMA data_version", "SELECT seq AS seq,"]);
});

test("running jobs runs no statement outside a transaction but the queue's look ahead", async () => {
  const ids: string[] = (await f.json("POST", "/api/job/", Array.from({ length: 20 }, () => ({ process_definition: definition, state: "QUEUED" })))).body.objects.map(
    (j: { id: string }) => j.id,
  );
  const ran = await countedDuring(
    () =>
      new Promise<void>((resolve) => {
        const left = new Set(ids);
        const stop = f.app.store.events.subscribe((e) => {
          if (e.type === "finished" && e.id !== undefined && left.delete(e.id) && left.size === 0) {
            stop();
            resolve();
          }
        });
      }),
  );
  // One look finds the twenty; once they are handed out, a slot that frees looks again and finds
  // none: at most one such look per slot, never one a job.
  expect(new Set(ran)).toEqual(new Set(["SELECT seq, id, attempts,"]));
  expect(ran.length).toBeLessThanOrEqual(3);
});
