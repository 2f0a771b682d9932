/**
 * The benchmark runs once on tiny sizes so it cannot rot: every case must
 * produce its row against the compiled binary. Its figures are not judged
 * here (timed tests lie on noisy machines); scripts/bench is where they are.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { ROOT } from "./helpers/index.ts";

test("scripts/bench --tiny prints a row for every case", async () => {
  const proc = Bun.spawn({ cmd: [process.execPath, join(ROOT, "scripts/bench.ts"), "--tiny"], cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  expect(code, err).toBe(0);
  for (const row of [
    /^\| throughput, \/bin\/true .*\| \d+ jobs\/s \| Bun\.spawn ×2: \d+\/s \(\d+ before flue, \d+ after\); xargs -P2: \d+\/s \|/m,
    /^\| CPU of the flue process per job, \/bin\/true .*\| \d+ µs \| Bun\.spawn ×2 loop: \d+ µs a spawn \|/m,
    /^\| CPU of the whole machine per job, \/bin\/true .*\| \d+ µs \| Bun\.spawn ×2 loop: \d+ µs a spawn \|/m,
    /^\| throughput, sh -c .*\| \d+ jobs\/s \|/m,
    /^\| submit latency POST \/api\/job\/, 1 client .*\| [\d.]+ ms \/ [\d.]+ ms \|/m,
    /^\| submit latency POST \/api\/job\/, 50 clients .*\| [\d.]+ ms \/ [\d.]+ ms \|/m,
    /^\| submissions a second at 50 clients \(flue's CPU a request, by thread: [^)]+\) \| \d+\/s \| bare Bun\.serve: \d+\/s \|/m,
    /^\| dispatch latency.*\| [\d.]+ ms \/ [\d.]+ ms \|/m,
    /^\| store at 5,000 jobs: GET first page .*\| [\d.]+ ms \/ [\d.]+ ms \|/m,
    /^\| store at 5,000 jobs: GET filtered page/m,
    /^\| store at 5,000 jobs: GET page \d+, following next links/m,
    /^\| store at 5,000 jobs: GET page at \?offset=4500 alone/m,
    /^\| store at 5,000 jobs: GET one job/m,
    /^\| store: database size per job .*\| \d+ B \|/m,
    /^\| RSS idle \| [\d.]+ MB \|/m,
    /^\| RSS with 500 queued jobs \| [\d.]+ MB \|/m,
    /^\| RSS peak while a job writes .* \| [\d.]+ MB \|/m,
    /^\| binary size \| [\d.]+ MB \|/m,
    /^\| exec → first HTTP 200, empty data dir \(median\) \| [\d.]+ ms \|/m,
    /^\| fleet: 16 jobs of sleep 0.2 s, 2 slots each, three instances against one \| [\d.]+ jobs\/s \| one instance: [\d.]+ jobs\/s/m,
    /^\| fleet: fail-over, kill -9 → the next attempt started .*\| [\d.]+ s \|/m,
  ]) {
    expect(out).toMatch(row);
  }
  // The stdout case reads back exactly what the job wrote, or it is marked unmet.
  expect(out).toContain("- bun: ");
}, 180_000);

test("scripts/bench --only= with a case it does not have says which, lists the cases, and measures nothing", async () => {
  const proc = Bun.spawn({ cmd: [process.execPath, join(ROOT, "scripts/bench.ts"), "--only=throughput,speed"], cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  expect(code).toBe(2);
  expect(err).toContain("no case named speed; the cases are throughput, submit, dispatch, store, memory, binary, fleet");
  expect(out).toBe("");
});
