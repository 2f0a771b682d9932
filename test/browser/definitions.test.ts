/**
 * Definitions in a real browser: create through the form (a validation error
 * first, beside its field), edit (a new version), run with an uploaded file
 * and check the job's stdout, the run form of declared parameters, what a
 * viewer may not do, and delete behind a confirm dialog.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { basic, startBinary, type Binary } from "../helpers/index.ts";
import { launch, signIn, type Browser } from "./support.ts";

let flue: Binary;
let browser: Browser;
beforeAll(async () => {
  flue = await startBinary();
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
  await flue?.stop();
});

let defId = 0;
const STDIN = '{"file_type": "stream", "stream_name": "STDIN"}';
const STDOUT = '{"file_type": "stream", "stream_name": "STDOUT"}';

test("an empty list says so and offers to create one", async () => {
  const { page } = browser;
  await signIn(page, flue.url);
  await page.goto(`${flue.url}/definitions`);
  expect(await page.locator(".empty").textContent()).toContain("No definitions yet — create one");
  await browser.shot("definitions-empty");
}, 30_000);

test("create: errors appear beside their fields, values stay; fixed, it lands on the definition", async () => {
  const { page } = browser;
  await page.goto(`${flue.url}/definitions`);
  await page.getByRole("link", { name: "create one" }).click();
  await page.waitForURL(/\/definitions\/new$/);
  await page.getByLabel("Name", { exact: true }).fill("upper");
  await page.getByLabel("Description").fill("Upper-cases its input");
  await page.getByLabel("Arguments").fill("a-z\n${case}");
  await page.getByLabel("Timeout (seconds)").fill("-1");
  await page.getByLabel("Input adapter").selectOption("file");
  await page.getByLabel("Input parameters (JSON)").fill(STDIN);
  await page.getByLabel("Output adapter").selectOption("file");
  await page.getByLabel("Output parameters (JSON)").fill(STDOUT);
  await page.getByLabel("Limits (JSON)").fill('{"memory": "tiny"}');
  await page.getByRole("button", { name: "Create definition" }).click();

  await page.locator("#f-exec-error").waitFor();
  const exec = page.locator("#f-exec");
  expect(await exec.getAttribute("aria-invalid")).toBe("true");
  expect(await page.locator("#f-exec-error").textContent()).toContain("exec must not be empty");
  expect(await exec.getAttribute("aria-describedby")).toContain("f-exec-error");
  expect(await page.locator("#f-timeout-error").textContent()).toContain("timeout must be more than 0");
  expect(await page.locator("#f-argv-error").textContent()).toContain('argument 2 (line 2): unknown variable "${case}"');
  expect(await page.locator("#f-limits-error").textContent()).toContain("limits.memory");
  // What was typed is still there.
  expect(await page.getByLabel("Name", { exact: true }).inputValue()).toBe("upper");
  expect(await page.getByLabel("Arguments").inputValue()).toBe("a-z\n${case}");
  expect(new URL(page.url()).pathname).toBe("/definitions/new");
  await browser.shot("definition-form-errors");

  await page.getByLabel("Executable").fill("/usr/bin/tr");
  await page.getByLabel("Arguments").fill("a-z\nA-Z");
  await page.getByLabel("Timeout (seconds)").fill("30");
  await page.getByLabel("Limits (JSON)").fill('{"memory": "512MiB", "open_files": 256}');
  await page.getByRole("button", { name: "Create definition" }).click();
  await page.waitForURL(/\/definitions\/\d+\?saved=1$/);
  defId = Number(/\/definitions\/(\d+)/.exec(page.url())![1]);
  expect(await page.locator("h1").textContent()).toContain("upper");
  expect(await page.locator("pre.cmdline").textContent()).toBe("/usr/bin/tr a-z A-Z");
  expect(await page.getByText("Saved as version 1.").count()).toBe(1);
  expect(await page.locator("dl.facts").last().textContent()).toContain("512MiB");
  await browser.shot("definition");
}, 30_000);

test("edit: a new version appears, the old one can still be read", async () => {
  const { page } = browser;
  await page.goto(`${flue.url}/definitions/${defId}`);
  await page.getByRole("link", { name: "Edit" }).click();
  await page.waitForURL(/\/edit$/);
  expect(await page.getByLabel("Executable").inputValue()).toBe("/usr/bin/tr");
  await page.getByLabel("Parameters (JSON)", { exact: true }).fill(
    JSON.stringify({
      mode: { enum: ["upper", "lower"], default: "upper", description: "which way" },
      label: { type: "string", required: true, pattern: "[a-z]+", description: "a tag for the run" },
      count: { type: "integer", default: 3 },
      verbose: { type: "boolean" },
      token: { type: "string", secret: true, default: "s3cret" },
    }),
  );
  await page.getByLabel("Arguments").fill("a-z\nA-Z\n${nope}");
  await page.getByRole("button", { name: "Save new version" }).click();
  expect(await page.locator("#f-argv-error").textContent()).toContain('unknown variable "${nope}"');
  await page.getByLabel("Arguments").fill("a-z\nA-Z");
  await page.getByRole("button", { name: "Save new version" }).click();
  await page.waitForURL(/\?saved=2$/);
  expect(await page.locator("ol.versions li").count()).toBe(2);
  expect(await page.locator("table.params").textContent()).toContain("which way");
  expect(await page.locator("table.params").textContent()).not.toContain("s3cret");
  expect(await page.locator("details.raw").textContent()).not.toContain("s3cret");
  await browser.shot("definition-v2");
  await page.getByRole("link", { name: "v1", exact: true }).click();
  await page.waitForURL(/version=1$/);
  expect(await page.locator(".old-version").textContent()).toContain("the newest is version 2");
  await page.goto(`${flue.url}/definitions?q=upper`);
  expect(await page.locator("table.def-list tbody tr").count()).toBe(1);
  expect(await page.locator("table.def-list").textContent()).toContain("v2");
  await browser.shot("definitions");
  await page.goto(`${flue.url}/definitions?q=nothing-like-this`);
  expect(await page.locator(".empty").textContent()).toContain("No definition matches");
}, 30_000);

test("run: an enum is a select, a required parameter left empty says so beside it, an upload goes through tr", async () => {
  const { page } = browser;
  await page.goto(`${flue.url}/definitions/${defId}`);
  await page.getByRole("link", { name: "Run" }).click();
  await page.waitForURL(/\/run$/);
  expect(await page.locator("select#p-mode option").allTextContents()).toEqual(["upper", "lower"]);
  expect(await page.locator("select#p-mode").inputValue()).toBe("upper");
  expect(await page.locator("#p-label").getAttribute("required")).not.toBeNull();
  expect(await page.locator("label[for=p-label]").getAttribute("class")).toContain("required");
  expect(await page.locator("#p-count").getAttribute("type")).toBe("number");
  expect(await page.locator("#p-count").inputValue()).toBe("3");
  expect(await page.locator("#p-token").getAttribute("type")).toBe("password");
  expect(await page.locator("#p-verbose").getAttribute("type")).toBe("checkbox");
  await browser.shot("run-form");

  // Nothing filled in: the required parameter and the missing input each say so.
  await page.getByRole("button", { name: "Submit job" }).click();
  expect(await page.locator("#p-label-error").textContent()).toBe("is required");
  expect(await page.locator("#p-label").getAttribute("aria-invalid")).toBe("true");
  expect(await page.locator("#in-input_file-error").textContent()).toContain("is required to queue the job");
  await browser.shot("run-form-errors");

  const content = Buffer.concat([Buffer.from("hello, flue!\n"), randomBytes(2048)]);
  await page.getByLabel("label").fill("first");
  await page.getByLabel("File for input_file").setInputFiles({ name: "data.bin", mimeType: "application/octet-stream", buffer: content });
  await page.getByRole("button", { name: "Submit job" }).click();
  await page.waitForURL(/\/jobs\/[^/]+$/);
  const jobId = new URL(page.url()).pathname.split("/").pop()!;
  const res = await fetch(`${flue.url}/api/job/${jobId}/?wait=10`, { headers: { authorization: basic() } });
  const job = (await res.json()) as { state: string; parameters: Record<string, unknown> };
  expect(job.state).toBe("FINISHED");
  expect(job.parameters).toMatchObject({ mode: "upper", label: "first", count: 3, verbose: false });
  const stdout = Buffer.from(await (await fetch(`${flue.url}/api/job/${jobId}/stdout`, { headers: { authorization: basic() } })).arrayBuffer());
  const expected = Buffer.from(content.map((b) => (b >= 0x61 && b <= 0x7a ? b - 32 : b)));
  expect(stdout.equals(expected)).toBe(true);
}, 30_000);

test("run: text input, saved as NEW", async () => {
  const { page } = browser;
  await page.goto(`${flue.url}/definitions/${defId}/run`);
  await page.getByLabel("label").fill("second");
  await page.getByLabel("Type text").check();
  await page.getByLabel("Text for input_file").fill("abc");
  await page.getByLabel("Save as NEW").check();
  await page.getByRole("button", { name: "Submit job" }).click();
  await page.waitForURL(/\/jobs\/[^/]+$/);
  const jobId = new URL(page.url()).pathname.split("/").pop()!;
  const job = (await (await fetch(`${flue.url}/api/job/${jobId}/`, { headers: { authorization: basic() } })).json()) as { state: string };
  expect(job.state).toBe("NEW");
}, 30_000);

test("a viewer sees definitions but no Run, Edit or Delete, and a run form they post is refused in words", async () => {
  const made = await flue.fetch("/api/user/", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "vera", password: "vera-password", role: "viewer" }) });
  expect(made.status).toBe(201);
  const { page } = browser;
  await signIn(page, flue.url, "vera", "vera-password");
  await page.goto(`${flue.url}/definitions`);
  expect(await page.getByRole("link", { name: "New definition" }).count()).toBe(0);
  await page.goto(`${flue.url}/definitions/${defId}`);
  expect(await page.locator("pre.cmdline").count()).toBe(1);
  for (const name of ["Run", "Edit"]) expect(await page.getByRole("link", { name, exact: true }).count()).toBe(0);
  expect(await page.getByRole("button", { name: "Delete" }).count()).toBe(0);
  await browser.shot("definition-viewer");
  await page.goto(`${flue.url}/definitions/${defId}/run`);
  await page.getByLabel("label").fill("third");
  await page.getByLabel("Type text").check();
  await page.getByLabel("Text for input_file").fill("abc");
  const answered = page.waitForResponse((r) => r.url().endsWith("/run") && r.request().method() === "POST");
  await page.getByRole("button", { name: "Submit job" }).click();
  expect((await answered).status()).toBe(403);
  await page.locator("#flash .alert").waitFor();
  expect(await page.locator("#flash .alert").textContent()).toContain("a viewer may not submit jobs");
  await browser.shot("run-viewer-refused");
  const edit = await page.goto(`${flue.url}/definitions/${defId}/edit`);
  expect(edit?.status()).toBe(403);
}, 30_000);

test("dark: the definition page reads in dark colours", async () => {
  const dark = await launch({ colorScheme: "dark" });
  try {
    await signIn(dark.page, flue.url);
    await dark.page.goto(`${flue.url}/definitions/${defId}`);
    await dark.shot("definition-dark");
    await dark.page.goto(`${flue.url}/definitions/${defId}/run`);
    await dark.page.getByRole("button", { name: "Submit job" }).click();
    await dark.page.locator("#p-label-error").waitFor();
    await dark.shot("run-form-dark");
    expect(dark.errors).toEqual([]);
  } finally {
    await dark.close();
  }
}, 30_000);

test("delete asks first, then lands on the list with a notice", async () => {
  const { page } = browser;
  await signIn(page, flue.url);
  await page.goto(`${flue.url}/definitions/${defId}`);
  let asked = "";
  page.once("dialog", (d) => {
    asked = d.message();
    void d.accept();
  });
  await page.getByRole("button", { name: "Delete" }).click();
  await page.waitForURL(/\/definitions\?deleted=upper$/);
  expect(asked).toContain("Delete the definition upper?");
  expect(await page.locator(".notice").textContent()).toContain("Deleted the definition upper.");
  expect(await page.locator(".empty").count()).toBe(1);
  await browser.shot("definitions-deleted");
  const gone = await page.goto(`${flue.url}/definitions/${defId}`);
  expect(gone?.status()).toBe(404);
  expect(browser.errors).toEqual([]);
}, 30_000);
