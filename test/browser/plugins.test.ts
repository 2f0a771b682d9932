/** The Plugins page lists the built-ins and a user's plugin, as GET /api/plugins/ does. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startBinary, tempDir, type Binary } from "../helpers/index.ts";
import { launch, signIn, type Browser } from "./support.ts";

const dir = tempDir("flue-ui-plugins-");
let flue: Binary;
let browser: Browser;
beforeAll(async () => {
  writeFileSync(
    join(dir.path, "shout.ts"),
    `import { defineAdapter } from "flue/plugin";
import * as v from "valibot";
export default defineAdapter({
  kind: "adapter", type: "shout", version: "0.3.0", description: "A user's adapter",
  parameters: v.strictObject({ volume: v.optional(v.number()) }),
  input: { stageIn: (_p, ctx, source) => { ctx.vars[ctx.name] = source ? source.path : ""; } },
});
`,
  );
  flue = await startBinary({ args: ["--plugins", dir.path] });
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
  await flue?.stop();
  dir.remove();
});

test("the page lists every plugin the API lists, with its source and parameters", async () => {
  const { page } = browser;
  await signIn(page, flue.url);
  await page.getByRole("link", { name: "Plugins" }).click();
  await page.waitForURL(/\/plugins$/);
  const api = ((await (await flue.fetch("/api/plugins/")).json()) as { objects: { type?: string; schemes?: string[] }[] }).objects;
  const rows = page.locator("table.plugins tbody tr");
  expect(await rows.count()).toBe(api.length);
  // A storage of two schemes is one plugin, listed once.
  expect(api.filter((p) => p.schemes?.includes("https"))).toHaveLength(1);
  expect(await rows.filter({ hasText: "https://" }).count()).toBe(1);
  const shout = rows.filter({ hasText: "shout" });
  expect(await shout.textContent()).toContain("0.3.0");
  expect(await shout.textContent()).toContain(join(dir.path, "shout.ts"));
  expect(await shout.textContent()).toContain("volume");
  for (const scheme of ["s3://", "file://", "https://"]) expect(await page.locator("table.plugins").textContent()).toContain(scheme);
  await browser.shot("plugins");
  expect(browser.errors).toEqual([]);
});
