/**
 * flue's benchmark: each case against the compiled binary, beside a baseline
 * measured in the same run on the same machine. Prints one Markdown table and
 * writes it to docs/benchmarks.md.
 *
 *   scripts/bench            the full run (a few minutes)
 *   scripts/bench --tiny     every case on tiny sizes (the test suite runs this)
 *   scripts/bench --only=throughput,store   some cases (throughput, submit, dispatch, store, memory, binary, fleet)
 *   FLUE_BINARY=/tmp/x/flue scripts/bench --only=throughput   another build, not built here (to compare two)
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { machine, ROOT, table, type Bench } from "./bench-lib.ts";
import { binary, memory, storeScale } from "./bench-resources.ts";
import { dispatchLatency, submitLatency, throughput } from "./bench-speed.ts";
import { fleet } from "./bench-fleet.ts";

const tiny = process.argv.includes("--tiny");
const out = process.argv.includes("--no-write") || tiny || process.argv.some((a) => a.startsWith("--only=")) ? undefined : join(ROOT, "docs/benchmarks.md");
const N = {
  throughput: tiny ? 200 : 5000,
  submit: tiny ? 100 : 5000,
  dispatch: tiny ? 20 : 300,
  store: tiny ? 5000 : 1_000_000,
  storeQueries: tiny ? 20 : 200,
  queued: tiny ? 500 : 10_000,
  stdoutBytes: tiny ? 16 * 2 ** 20 : 2 ** 30,
};
const b: Bench = { tiny, N, rows: [], log: (s) => console.error(`bench: ${s}`) };

// ---- main -----------------------------------------------------------------

const only = process.argv.find((a) => a.startsWith("--only="))?.slice(7).split(",");
const cases = { throughput, submit: submitLatency, dispatch: dispatchLatency, store: storeScale, memory, binary, fleet };
const unknown = only?.filter((name) => !(name in cases));
if (unknown?.length) {
  console.error(`bench: no case named ${unknown.join(", ")}; the cases are ${Object.keys(cases).join(", ")}`);
  process.exit(2);
}
if (!process.env.FLUE_BINARY) {
  const build = Bun.spawnSync([process.execPath, join(ROOT, "scripts/build.ts")], { stdout: "inherit", stderr: "inherit" });
  if (build.exitCode !== 0) process.exit(1);
}
const began = Date.now();
for (const [name, run] of Object.entries(cases)) if (!only || only.includes(name)) await run(b);

const m = machine();
const report = [
  `# flue benchmarks`,
  ``,
  `${new Date().toISOString().slice(0, 10)}, ${tiny ? "tiny sizes (a smoke run, not a measurement)" : "full sizes"}, ${((Date.now() - began) / 1000).toFixed(0)} s. Made by \`scripts/bench\`.`,
  ``,
  Object.entries(m).map(([k, v]) => `- ${k}: ${v}`).join("\n"),
  ``,
  table(b.rows),
  ``,
  `Ratio: flue's figure against the baseline measured in the same run (for latencies and memory, baseline ÷ flue), so 1.00 is the limit and lower is further from it.`,
  ``,
].join("\n");
console.log(report);
if (out) {
  mkdirSync(join(ROOT, "docs"), { recursive: true });
  writeFileSync(out, report);
  b.log(`wrote ${out}`);
}
