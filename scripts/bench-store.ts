/**
 * Fills a data dir with finished jobs, fast, through flue's own event log and
 * projection, so the database is laid out exactly as flue writes it: the
 * events each job's life emits, in transactions of a thousand jobs.
 */
import { Store } from "../src/store/index.ts";
import { newId, type FlueEvent } from "../src/domain/index.ts";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

export function generateJobs(dataDir: string, n: number) {
  mkdirSync(dataDir, { recursive: true });
  const store = Store.open(join(dataDir, "flue.db"));
  const definition = store.definitions.create(
    {
      name: "bench",
      exec: "/bin/sh",
      argv: ["-c", "echo ${greeting}"],
      parameters: { greeting: { type: "string", default: "hello" } },
      output_adapter: { output_type: "file", output_parameters: { file_type: "stream", stream_name: "STDOUT" } },
    },
    "admin",
  );
  const executor = "01bench0000000000000000000";
  const began = performance.now();
  let t = Date.now() / 1000 - n / 1000;
  let sampleId = "";
  let eventsPerJob = 0;
  const BATCH = 1000;
  for (let i = 0; i < n; i += BATCH) {
    const events: FlueEvent[] = [];
    for (let j = i; j < Math.min(n, i + BATCH); j++) {
      const id = newId(t * 1000);
      if (j === Math.floor(n / 2)) sampleId = id;
      const failed = j % 10 === 0;
      const e = (type: string, fields: Record<string, unknown> = {}, dt = 0.0005): FlueEvent => {
        t += dt;
        return { type, id, executor, timestamp: t, ...fields };
      };
      const job = [
        e("created", { definition_id: definition.id, definition_version: 1, definition_name: "bench", owner: "admin", parameters: { greeting: "hello" }, inputs: {}, max_attempts: 1 }),
        e("queued"),
        e("started", { attempt: 1, thread: 1 }),
        e("stage-in.started", { thread: 1 }),
        e("stage-in.finished", { thread: 1, time: 0.0001, bytes: 0 }),
        e("execution.started", { thread: 1, executable: "/bin/sh", pid: 1000 + j, pid_start: "123456" }),
        e("execution.finished", { thread: 1, executable: "/bin/sh", exit_status: failed ? 1 : 0, metrics: { wall: 0.0021, user: 0.0011, system: 0.0004, max_rss: null } }),
        ...(failed
          ? [e("failed", { thread: 1, reason: "exit status 1" })]
          : [
              e("stage-out.started", { thread: 1 }),
              e("stage-out.finished", { thread: 1, time: 0.0001, bytes: 5, outputs: { output_file: { size: 5, file_name: "output_file" } } }),
              e("finished", { thread: 1 }),
            ]),
      ];
      eventsPerJob = Math.max(eventsPerJob, job.length);
      events.push(...job);
    }
    store.events.append(...events);
  }
  store.db.$client.run("PRAGMA wal_checkpoint(TRUNCATE)");
  store.close();
  return { definitionId: definition.id, sampleId, eventsPerJob, seconds: (performance.now() - began) / 1000 };
}
