/**
 * The admin pages in a real browser against the compiled binary: live
 * events, instances, users, tokens and the audit log, clicked and typed as
 * a person would. Screenshots go to test-output/screenshots/.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startBinary, type Binary } from "../helpers/index.ts";
import { defineOn, submit } from "../e2e/support.ts";
import { launch, signIn, type Browser } from "./support.ts";

let flue: Binary;
let browser: Browser;
let ok: number;
let bad: number;
beforeAll(async () => {
  flue = await startBinary();
  browser = await launch();
  ok = await defineOn(flue, { name: "ok", exec: "/bin/true" });
  bad = await defineOn(flue, { name: "bad", exec: "/bin/false" });
  await signIn(browser.page, flue.url);
});
afterAll(async () => {
  await browser?.close();
  await flue?.stop();
});

const row = (key: string) => browser.page.locator(`#event-rows tr.event[data-key="${key}"]`);

test("the events page shows a job's events as it runs, newest at the top", async () => {
  const { page } = browser;
  await page.goto(`${flue.url}/events`);
  await page.getByText("Live", { exact: true }).waitFor();
  const id = await submit(flue, ok);
  await row(`job.${id}.finished`).waitFor({ timeout: 10_000 });
  const keys = await page.locator("#event-rows tr.event").evaluateAll((trs) => trs.map((t) => t.getAttribute("data-key")));
  expect(keys[0]).toBe(`job.${id}.finished`);
  expect(keys).toContain(`job.${id}.created`);
  expect(keys.indexOf(`job.${id}.created`)).toBeGreaterThan(0);
  // Its fields in short, the whole event on opening; the job links to its page.
  const exec = row(`job.${id}.execution.finished`);
  expect(await exec.locator("summary").textContent()).toContain("exit_status=0");
  await exec.locator("summary").click();
  expect(await exec.locator("pre").textContent()).toContain(`"routing_key": "job.${id}.execution.finished"`);
  expect(await exec.getByRole("link").getAttribute("href")).toBe(`/jobs/${id}`);
  await browser.shot("events");
}, 30_000);

test("the pattern job.*.failed shows only failures; a broken pattern says so beside the field", async () => {
  const { page } = browser;
  await page.goto(`${flue.url}/events`);
  await page.getByLabel("Pattern").fill("job.*.failed");
  await page.getByRole("button", { name: "Apply" }).click();
  await page.waitForURL(/pattern=job\.\*\.failed/);
  await page.getByText("Live", { exact: true }).waitFor();
  const good = await submit(flue, ok);
  const failing = await submit(flue, bad);
  await row(`job.${failing}.failed`).waitFor({ timeout: 10_000 });
  // The good job finished first (one slot at a time or not, it is given time to): nothing of it shows.
  await Bun.sleep(300);
  const keys = await page.locator("#event-rows tr.event").evaluateAll((trs) => trs.map((t) => t.getAttribute("data-key")));
  expect(keys).toEqual([`job.${failing}.failed`]);
  expect(keys.join()).not.toContain(good);

  await page.getByLabel("Pattern").fill("job..#");
  await page.getByRole("button", { name: "Apply" }).click();
  await page.locator("#pattern-error").waitFor();
  expect(await page.locator("#pattern-error").textContent()).toContain("is not a pattern");
  expect(await page.getByLabel("Pattern").getAttribute("aria-invalid")).toBe("true");
}, 30_000);

test("pause holds new events back until resumed", async () => {
  const { page } = browser;
  await page.goto(`${flue.url}/events?pattern=job.*.finished`);
  await page.getByText("Live", { exact: true }).waitFor();
  await page.getByRole("button", { name: "Pause" }).click();
  const id = await submit(flue, ok);
  await page.getByRole("button", { name: "Resume (1 new)" }).waitFor({ timeout: 10_000 });
  expect(await row(`job.${id}.finished`).isVisible()).toBe(false);
  await page.getByRole("button", { name: /Resume/ }).click();
  expect(await row(`job.${id}.finished`).isVisible()).toBe(true);
}, 30_000);

test("the instances page shows this instance's version and slots, and refreshes", async () => {
  const { page } = browser;
  const api = (await (await flue.fetch("/api/instance/")).json()) as { objects: { version: string; slots: number; id: string }[] };
  const me = api.objects[0];
  await page.goto(`${flue.url}/instances`);
  const table = page.locator("table.instances");
  expect(await table.locator("td.version").textContent()).toBe(me.version);
  expect(await table.textContent()).toContain(`0 of ${me.slots}`);
  expect(await page.locator(".this-instance").textContent()).toContain("Data dir");
  const refreshed = page.waitForResponse((r) => r.url().endsWith("/instances/live") && r.status() === 200, { timeout: 8000 });
  await refreshed;
  await browser.shot("instances");
}, 30_000);

test("an admin adds a user through the form; the user sees no admin pages", async () => {
  const { page } = browser;
  await page.goto(`${flue.url}/users`);
  const add = page.getByRole("form", { name: "Add a user" });
  await add.getByLabel("Username").fill("dana");
  await add.getByLabel("Password").fill("short");
  await add.getByLabel("Role").selectOption("viewer");
  await add.getByRole("button", { name: "Add user" }).click();
  const error = page.locator("#new-password-error");
  await error.waitFor();
  expect(await error.textContent()).toContain("at least 8 characters");
  expect(await add.getByLabel("Username").inputValue()).toBe("dana");
  expect(await add.getByLabel("Password").getAttribute("aria-invalid")).toBe("true");
  await browser.shot("users-error");

  await add.getByLabel("Password").fill("dana-password");
  await add.getByRole("button", { name: "Add user" }).click();
  await page.getByText("Added dana (viewer).").waitFor();
  expect(await page.locator('tr[data-username="dana"]').textContent()).toContain("viewer");

  // The new user, in a browser of their own.
  const theirs = await launch();
  try {
    const second = theirs.page;
    await signIn(second, flue.url, "dana", "dana-password");
    const nav = second.getByRole("navigation", { name: "Sections" });
    expect(await nav.getByRole("link", { name: "Users" }).count()).toBe(0);
    expect(await nav.getByRole("link", { name: "Audit" }).count()).toBe(0);
    expect(await nav.getByRole("link", { name: "Tokens" }).count()).toBe(1);
    const res = await second.goto(`${flue.url}/users`);
    expect(res?.status()).toBe(403);
    expect(await second.getByRole("alert").textContent()).toBe("only an admin may manage users");
    expect(await second.locator("body").textContent()).not.toMatch(/Error:|\.ts:\d+/);
    await theirs.shot("users-403");
    expect(theirs.errors).toEqual([]);
  } finally {
    await theirs.close();
  }

  await page.goto(`${flue.url}/users`);
  const dana = page.locator('tr[data-username="dana"]');
  await dana.getByText("Change").click();
  await dana.getByLabel("Role").selectOption("submitter");
  await dana.getByLabel("Sees all jobs").check();
  await dana.getByRole("button", { name: "Save dana" }).click();
  await page.getByText("Saved dana: submitter, sees all jobs.").waitFor();
  expect(await page.locator('tr[data-username="dana"]').textContent()).toContain("submitter");

  // The last admin cannot stop being one: a message in the page, nothing changes.
  const admin = page.locator('tr[data-username="admin"]');
  await admin.getByText("Change").click();
  await admin.getByLabel("Role").selectOption("viewer");
  await admin.getByRole("button", { name: "Save admin" }).click();
  await page.getByRole("alert").filter({ hasText: "last admin" }).waitFor();
  expect(await page.locator('tr[data-username="admin"]').textContent()).toContain("admin");
  await browser.shot("users");
}, 45_000);

test("a token made in the page works once shown, and stops working when revoked", async () => {
  const { page } = browser;
  page.on("dialog", (d) => d.accept());
  await page.goto(`${flue.url}/tokens`);
  await page.getByLabel("Name").fill("ci-runner");
  await page.getByLabel("Role").selectOption("submitter");
  await page.getByLabel("Expires").selectOption("30");
  await page.getByRole("button", { name: "Make token" }).click();
  const secretBox = page.locator("#token-secret");
  await secretBox.waitFor();
  const secret = (await secretBox.textContent())!.trim();
  expect(secret).toStartWith("flue_");
  expect(await page.getByText("will not show it again").count()).toBe(1);
  await browser.shot("tokens-secret");

  const bearer = { authorization: `Bearer ${secret}` };
  expect((await fetch(`${flue.url}/api/job/`, { headers: bearer })).status).toBe(200);
  // Shown once: the page, loaded again, no longer has it.
  await page.goto(`${flue.url}/tokens`);
  expect(await page.content()).not.toContain(secret);
  const tr = page.locator('tr[data-name="ci-runner"]');
  expect(await tr.textContent()).toContain("submitter");
  expect(await tr.locator("time").count()).toBe(3); // created, expires, last used
  await browser.shot("tokens");

  await tr.getByRole("button", { name: "Revoke ci-runner" }).click();
  await page.getByText("Revoked ci-runner.").waitFor();
  expect(await page.locator('tr[data-name="ci-runner"]').count()).toBe(0);
  expect((await fetch(`${flue.url}/api/job/`, { headers: bearer })).status).toBe(401);
}, 30_000);

test("the audit page lists those changes with their actor, and filters by action", async () => {
  const { page } = browser;
  await page.goto(`${flue.url}/audit`);
  const actions = async () => page.locator("table.audit tbody tr").evaluateAll((trs) => trs.map((t) => t.getAttribute("data-action")));
  const all = await actions();
  for (const a of ["user.create", "user.update", "token.create", "token.delete", "definition.create"]) expect(all).toContain(a);
  // Newest first: the token was revoked last.
  expect(all[0]).toBe("token.delete");
  const created = page.locator('tr[data-action="user.create"]').first();
  expect(await created.locator("td").nth(1).textContent()).toBe("admin");
  expect(await created.textContent()).toContain("dana");
  expect(await page.locator('tr[data-action="definition.create"] a').first().getAttribute("href")).toMatch(/^\/definitions\/\d+$/);
  await browser.shot("audit");

  await page.getByLabel("Action").fill("user.update");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForURL(/action=user\.update/);
  expect(new Set(await actions())).toEqual(new Set(["user.update"]));
  expect(await page.locator("table.audit").textContent()).toContain("role=submitter");
}, 30_000);

test("deleting a user asks first, and an answer of no keeps them", async () => {
  const { page } = browser;
  await page.goto(`${flue.url}/users`);
  const answers = [false, true];
  const seen: string[] = [];
  page.removeAllListeners("dialog");
  page.on("dialog", (d) => {
    seen.push(d.message());
    void (answers.shift() ? d.accept() : d.dismiss());
  });
  const dana = page.locator('tr[data-username="dana"]');
  await dana.getByRole("button", { name: "Delete" }).click();
  await Bun.sleep(200);
  expect(await dana.count()).toBe(1);
  await dana.getByRole("button", { name: "Delete" }).click();
  await page.getByText("Deleted dana.").waitFor();
  expect(seen).toEqual(["Delete the user dana? Their tokens stop working at once.", "Delete the user dana? Their tokens stop working at once."]);
  expect(await page.locator('tr[data-username="dana"]').count()).toBe(0);
}, 30_000);

test("the pages read well in the dark, and nothing went wrong in the browser", async () => {
  const dark = await launch({ colorScheme: "dark" });
  try {
    await signIn(dark.page, flue.url);
    await dark.page.goto(`${flue.url}/users`);
    await dark.shot("users-dark");
    await dark.page.goto(`${flue.url}/events?pattern=%23`);
    await dark.page.getByText("Live", { exact: true }).waitFor();
    await submit(flue, bad);
    await dark.page.locator("#event-rows tr.event").first().waitFor();
    await dark.page.locator("#event-rows tr.event").nth(3).waitFor();
    await dark.shot("events-dark");
    expect(dark.errors).toEqual([]);
  } finally {
    await dark.close();
  }
  expect(browser.errors).toEqual([]);
}, 30_000);
