/**
 * The dashboard, jobs and job pages in a real browser against the compiled
 * binary: rows that change state live, downloads, cancel, failure reasons,
 * the live log tail, others' jobs hidden, paging, light and dark.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { eventually, startBinary, type Binary } from "../helpers/index.ts";
import { defineOn, jobIn, submit } from "../e2e/support.ts";
import { launch, signIn, type Browser } from "./support.ts";

let flue: Binary;
let browser: Browser;
const defs: Record<string, number> = {};
const sh = (name: string, script: string, extra: Record<string, unknown> = {}) => ({ name, exec: "/bin/sh", argv: ["-c", script], ...extra });
const STDOUT = { output_adapter: { output_type: "file", output_parameters: { file_type: "stream", stream_name: "STDOUT" } } };

beforeAll(async () => {
  flue = await startBinary({ args: ["--slots", "4"] });
  browser = await launch();
  defs.done = await defineOn(flue, sh("sleep-then-done", "sleep 1.5; echo done"));
  defs.bytes = await defineOn(flue, sh("bytes-out", "printf 'alpha\\000beta\\n\\377'", STDOUT));
  defs.long = await defineOn(flue, sh("sleep-long", "sleep 300"));
  defs.boom = await defineOn(flue, sh("boom", "echo boom >&2; exit 3"));
  defs.ticker = await defineOn(flue, sh("ticker", "for i in 1 2 3 4 5 6; do echo line-$i; sleep 0.4; done"));
  defs.quick = await defineOn(flue, sh("quick", "true", { parameters: { token: { secret: true }, label: { default: "x" } } }));
  await signIn(browser.page, flue.url);
});

afterAll(async () => {
  await browser?.close();
  await flue?.stop();
});

test("the dashboard says there are no jobs yet", async () => {
  const { page } = browser;
  await page.goto(`${flue.url}/`);
  expect(await page.locator(".empty").textContent()).toContain("No jobs yet");
  expect(await page.locator(".empty a").getAttribute("href")).toBe("/definitions");
});

test("a row on /jobs goes RUNNING → FINISHED without a reload", async () => {
  const { page } = browser;
  const id = await submit(flue, defs.done);
  await jobIn(flue, id, "RUNNING");
  await page.goto(`${flue.url}/jobs`);
  // No navigation: no new document loads, and a mark left on this one stays.
  // (htmx stamps the history entry with replaceState, which is no navigation.)
  let loads = 0;
  const counted = () => loads++;
  page.on("domcontentloaded", counted);
  await page.evaluate(() => ((globalThis as unknown as { stillHere: boolean }).stillHere = true));
  const stillHere = () => page.evaluate(() => (globalThis as unknown as { stillHere?: boolean }).stillHere === true);
  const url = page.url();
  const badge = page.locator(`#job-${id} .badge`);
  expect(await badge.textContent()).toBe("RUNNING");
  await page.locator(`#job-${id} .badge`, { hasText: "FINISHED" }).waitFor({ timeout: 10_000 });
  expect([loads, await stillHere(), page.url()]).toEqual([0, true, url]);
  // A job submitted now joins the first page by itself.
  const later = await submit(flue, defs.quick, { parameters: { token: "s3cret" } });
  await page.locator(`#job-${later} .badge`, { hasText: "FINISHED" }).waitFor({ timeout: 10_000 });
  expect([loads, await stillHere(), page.url()]).toEqual([0, true, url]);
  // The pager counts the row that joined.
  await page.locator("#jobs-pager", { hasText: "1–2 of 2" }).waitFor({ timeout: 5_000 });
  page.off("domcontentloaded", counted);
  await browser.shot("jobs");
}, 30_000);

test("an output downloads from the job page with its bytes", async () => {
  const { page } = browser;
  const id = await submit(flue, defs.bytes);
  const done = await jobIn(flue, id, "FINISHED");
  const name = Object.keys(done.outputs)[0];
  await page.goto(`${flue.url}/jobs/${id}`);
  const [download] = await Promise.all([page.waitForEvent("download"), page.locator("#job-outputs a").first().click()]);
  const got = readFileSync((await download.path())!);
  const want = new Uint8Array(await (await flue.fetch(`/api/job/${id}/outputs/${name}`)).arrayBuffer());
  expect(new Uint8Array(got)).toEqual(want);
  expect(Array.from(got)).toEqual([...Buffer.from("alpha\0beta\n"), 0xff]);
  await browser.shot("job-finished");
}, 30_000);

test("a secret parameter shows as dots", async () => {
  const { page } = browser;
  const id = await submit(flue, defs.quick, { parameters: { token: "hunter2" } });
  await jobIn(flue, id, "FINISHED");
  await page.goto(`${flue.url}/jobs/${id}`);
  const html = await page.content();
  expect(html).not.toContain("hunter2");
  expect(html).toContain("••••");
});

test("a long job is cancelled from its page after confirming", async () => {
  const { page } = browser;
  const id = await submit(flue, defs.long);
  await jobIn(flue, id, "RUNNING");
  await page.goto(`${flue.url}/jobs/${id}`);
  const asked: string[] = [];
  page.once("dialog", (d) => {
    asked.push(d.message());
    void d.accept();
  });
  await page.getByRole("button", { name: "Cancel" }).click();
  await page.locator("#job-head .badge", { hasText: "CANCELLED" }).waitFor({ timeout: 10_000 });
  expect(asked[0]).toContain("Cancel job");
  await jobIn(flue, id, "CANCELLED");
  // Once it ended, the page offers no Cancel.
  await page.getByRole("button", { name: "Cancel" }).waitFor({ state: "detached" });
  await browser.shot("job-cancelled");
}, 30_000);

test("the dashboard shows a failed job's reason and links to it", async () => {
  const { page } = browser;
  const id = await submit(flue, defs.boom);
  await jobIn(flue, id, "FAILED");
  await page.goto(`${flue.url}/`);
  const row = page.locator("table.failures tr", { has: page.locator(`a[href="/jobs/${id}"]`) });
  expect(await row.locator(".reason").textContent()).toMatch(/exit|3/);
  expect(Number(await page.locator(".card-FAILED .n").textContent())).toBeGreaterThanOrEqual(1);
  expect(await page.locator("svg.chart title").first().textContent()).toContain("per minute");
  await browser.shot("dashboard");
  await page.goto(`${flue.url}/jobs/${id}`);
  expect(await page.locator("#log-stderr").textContent()).toContain("boom");
}, 30_000);

test("the live tail shows stdout lines while the job runs", async () => {
  const { page } = browser;
  const id = await submit(flue, defs.ticker);
  await jobIn(flue, id, "RUNNING");
  await page.goto(`${flue.url}/jobs/${id}`);
  await page.locator("#log-stdout", { hasText: "line-3" }).waitFor({ timeout: 10_000 });
  const mid = (await page.locator("#log-stdout").textContent()) ?? "";
  expect(mid).not.toContain("line-6");
  expect(((await (await flue.fetch(`/api/job/${id}/`)).json()) as { state: string }).state).toBe("RUNNING");
  await browser.shot("job-running");
  await page.locator("#job-head .badge", { hasText: "FINISHED" }).waitFor({ timeout: 10_000 });
  await eventually(async () => (await page.locator("#log-stdout").textContent()) === "line-1\nline-2\nline-3\nline-4\nline-5\nline-6\n");
}, 30_000);

test("another user's job, and an unknown one, is a 404", async () => {
  const made = await flue.fetch("/api/user/", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "sam", password: "sam-password", role: "submitter" }) });
  expect(made.status).toBe(201);
  const theirs = await submit(flue, defs.quick, { parameters: { token: "t" } });
  const other = await browser.context.newPage();
  try {
    await signIn(other, flue.url, "sam", "sam-password");
    for (const path of [`/jobs/${theirs}`, `/jobs/${theirs}/stdout`, "/jobs/00000000000000000000000000"]) {
      const res = await other.goto(`${flue.url}${path}`);
      expect(res?.status()).toBe(404);
    }
    // Sam's dashboard counts only Sam's jobs: none.
    await other.goto(`${flue.url}/`);
    expect(await other.locator(".empty").textContent()).toContain("No jobs yet");
  } finally {
    await other.close();
    await signIn(browser.page, flue.url);
  }
}, 30_000);

test("250 jobs page correctly", async () => {
  const { page } = browser;
  const res = await flue.fetch("/api/job/", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(Array.from({ length: 250 }, () => ({ process_definition: defs.quick, parameters: { token: "p" }, state: "NEW" }))),
  });
  expect(res.status).toBe(201);
  await page.goto(`${flue.url}/jobs?state=NEW`);
  expect(await page.locator("#job-rows tr").count()).toBe(50);
  expect(await page.locator(".pager").textContent()).toContain("1–50 of 250");
  const seen = new Set<string>();
  for (let i = 0; i < 5; i++) {
    for (const id of await page.locator("#job-rows tr").evaluateAll((rows) => rows.map((r) => r.id))) seen.add(id);
    if (i < 4) {
      await page.getByRole("link", { name: "Next →" }).click();
      await page.waitForURL(new RegExp(`offset=${(i + 1) * 50}`));
    }
  }
  expect(seen.size).toBe(250);
  expect(await page.locator(".pager").textContent()).toContain("201–250 of 250");
  expect(await page.getByRole("link", { name: "Next →" }).count()).toBe(0);
  await page.getByRole("link", { name: "← Previous" }).click();
  await page.waitForURL(/offset=150/);
  // The filter form: by definition.
  await page.goto(`${flue.url}/jobs`);
  await page.getByLabel("Definition").selectOption({ label: "boom" });
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForURL(/definition=/);
  expect(await page.locator("#job-rows tr").count()).toBe(1);
  await page.goto(`${flue.url}/jobs?state=BOGUS`);
  expect(await page.locator("main").textContent()).toContain("no state");
}, 60_000);

test("dark pages read well, and nothing logged an error", async () => {
  const dark = await launch({ colorScheme: "dark" });
  try {
    await signIn(dark.page, flue.url);
    await dark.page.goto(`${flue.url}/`);
    await dark.shot("dashboard-dark");
    await dark.page.goto(`${flue.url}/jobs?state=FAILED`);
    await dark.shot("jobs-dark");
    const failed = await dark.page.locator("table.jobs .badge", { hasText: "FAILED" }).first();
    await failed.locator("xpath=ancestor::tr//a").first().click();
    await dark.page.waitForURL(/\/jobs\/\w+$/);
    await dark.shot("job-dark");
    expect(dark.errors).toEqual([]);
  } finally {
    await dark.close();
  }
  expect(browser.errors).toEqual([]);
}, 30_000);
