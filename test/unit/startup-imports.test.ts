/**
 * Every static import of a Node builtin ends up at the top of the compiled
 * bundle, so it is loaded at every start, whether or not this run uses it,
 * and some cost milliseconds each (node:tls and node:crypto ~10 ms on these
 * machines). The heavy ones are imported where they are used instead.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");
/** Loaded at start-up for good reason: the store, the executor and the paths need them. */
const AT_START = new Set(["fs", "path", "os", "bun:sqlite"]);

test("the bundle's start loads only the builtins every run needs", async () => {
  const built = await Bun.build({ entrypoints: [join(ROOT, "src/main.ts")], target: "bun", format: "esm" });
  expect(built.success).toBe(true);
  const main = built.outputs.find((o) => o.kind === "entry-point")!;
  const code = await main.text();
  const hoisted = new Set([...code.matchAll(/^import\s[^;]*?\sfrom\s"([^"]+)";?$/gm)].map((m) => m[1]!));
  expect(hoisted.size).toBeGreaterThan(0); // the pattern still finds the bundle's imports
  expect([...hoisted].filter((m) => !AT_START.has(m.replace(/^node:/, ""))).sort()).toEqual([]);
});
