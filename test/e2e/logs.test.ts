/**
 * A job's stdout and stderr are files flue opens and hands to it: what may
 * happen to them after the job. A spare log flue did not make, or one that
 * is not empty, is never reused, and a process that escaped its job
 * (process groups alone) cannot grow its log past --max-output for long.
 * The compiled binary, real processes.
 */
import { afterAll, expect, test } from "bun:test";
import { chownSync, linkSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { eventually, startBinary, tempDir, type Binary } from "../helpers/index.ts";

const asRoot = process.geteuid!() === 0;
const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function run(b: Binary, script: string): Promise<{ id: string; state: string }> {
  const post = (path: string, body: unknown) => b.fetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const def = (await (await post("/api/process_definition/", { definition: { exec: "/bin/sh", argv: ["-c", script] } })).json()) as { id: number };
  const job = (await (await post("/api/job/", { process_definition: def.id })).json()) as { id: string };
  return (await (await b.fetch(`/api/job/${job.id}/?wait=20`)).json()) as { id: string; state: string };
}

test.skipIf(!asRoot)("a spare log that is not flue's own (another owner, another link) is not reused: a job's output never reaches it", async () => {
  const data = tempDir();
  const outside = tempDir();
  cleanups.push(() => data.remove(), () => outside.remove());
  // What an earlier job could have left: a file in logs/.spare/ of another user, linked from elsewhere.
  mkdirSync(join(data.path, "logs", ".spare"), { recursive: true, mode: 0o700 });
  const planted = join(data.path, "logs", ".spare", "1.1");
  writeFileSync(planted, "", { mode: 0o644 });
  chownSync(planted, 65534, 65534);
  linkSync(planted, join(outside.path, "kept"));
  const b = await startBinary({ dataDir: data.path, args: ["--slots", "1", "--run-as", "root"] });
  cleanups.push(() => b.stop());
  const job = await run(b, "echo SECRET-OUT; echo SECRET-ERR >&2");
  expect(job.state).toBe("FINISHED");
  expect(readFileSync(join(outside.path, "kept"), "utf8")).toBe("");
  expect(await (await b.fetch(`/api/job/${job.id}/stdout`)).text()).toBe("SECRET-OUT\n");
  expect(statSync(join(data.path, "logs", `${job.id}-1.stdout`)).uid).toBe(0);
});

test("a spare log with something in it is not reused: a job's log holds only what the job wrote", async () => {
  const data = tempDir();
  cleanups.push(() => data.remove());
  // flue's own spares in every other respect (owner, one link, mode), but not empty.
  mkdirSync(join(data.path, "logs", ".spare"), { recursive: true, mode: 0o700 });
  for (const name of ["1.1", "1.2"]) writeFileSync(join(data.path, "logs", ".spare", name), `PLANTED ${name}\n`, { mode: 0o600 });
  const b = await startBinary({ dataDir: data.path, args: ["--slots", "1"] });
  cleanups.push(() => b.stop());
  const job = await run(b, "echo OUT; echo ERR >&2");
  expect(job.state).toBe("FINISHED");
  expect(await (await b.fetch(`/api/job/${job.id}/stdout`)).text()).toBe("OUT\n");
  expect(await (await b.fetch(`/api/job/${job.id}/stderr`)).text()).toBe("ERR\n");
});

test("with process groups alone, a daemon the job left cannot grow its log far past --max-output; it is cut back while it writes", async () => {
  const marker = `flue-logs-test-${process.pid}`;
  const b = await startBinary({ args: ["--containment", "process-group", "--max-output", "1MiB"] });
  cleanups.push(() => b.stop());
  cleanups.push(() => {
    for (const p of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
      try {
        if (readFileSync(`/proc/${p}/cmdline`, "utf8").includes(marker)) process.kill(Number(p), "SIGKILL");
      } catch {}
    }
  });
  // About 5 MB a second, from a process in a session of its own that outlives the job.
  const job = await run(b, `setsid sh -c 'while :; do head -c 262144 /dev/zero; sleep 0.05; done; : ${marker}' & sleep 0.01`);
  expect(job.state).toBe("FINISHED");
  const log = join(b.dataDir, "logs", `${job.id}-1.stdout`);
  const sizes: number[] = [];
  for (let i = 0; i < 12; i++) {
    await Bun.sleep(250);
    sizes.push(statSync(log).size);
  }
  // Cut back every second: never more than the cap and about a second of writing.
  expect(Math.max(...sizes)).toBeLessThan(1024 * 1024 + 8 * 1024 * 1024);
  expect(sizes.some((s) => s <= 1024 * 1024)).toBe(true);
  await eventually(() => statSync(log).size <= 1024 * 1024, 3000);
});
