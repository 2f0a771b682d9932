/**
 * A real browser for the UI suites: Debian's Chromium driven by
 * playwright-core, a fresh profile per launch, against the compiled binary.
 * Screenshots go to test-output/screenshots/ for a person to look at; every
 * console error and page error is collected, and a suite fails on any.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { ADMIN, ROOT } from "../helpers/index.ts";

export const SCREENSHOTS = join(ROOT, "test-output", "screenshots");

const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Console errors and uncaught page errors seen so far, in any page. */
  errors: string[];
  /** Saves a full-page screenshot as test-output/screenshots/<name>.png. */
  shot: (name: string, page?: Page) => Promise<void>;
  close: () => Promise<void>;
}

export async function launch(opts: { colorScheme?: "light" | "dark" } = {}): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), "flue-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 900 },
    colorScheme: opts.colorScheme ?? "light",
  });
  // Every wait gives up well inside a test's 30 s: a test that times out makes bun test kill every
  // process its file started (this browser, the flue under test), failing the tests after it too.
  context.setDefaultTimeout(15_000);
  context.setDefaultNavigationTimeout(15_000);
  const errors: string[] = [];
  const watch = (p: Page) => {
    p.on("console", (m) => {
      // A 4xx the page asked for and handled is not an error of the page.
      if (m.type() === "error" && !/status of 4\d\d/.test(m.text())) errors.push(`console: ${m.text()}`);
    });
    p.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  };
  context.on("page", watch);
  const page = context.pages()[0] ?? (await context.newPage());
  watch(page);
  mkdirSync(SCREENSHOTS, { recursive: true });
  return {
    context,
    page,
    errors,
    shot: async (name, p = page) => {
      await p.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
    },
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Signs in through the form, as a user would (signed out first), and waits to leave the sign-in page. */
export async function signIn(page: Page, base: string, user = ADMIN.user, password = ADMIN.password): Promise<void> {
  await page.context().clearCookies();
  await page.goto(`${base}/login`);
  await page.getByLabel("Username").fill(user);
  await page.getByLabel("Password").fill(password);
  // Waiting is armed before the click, so a quick redirect cannot slip past it; and it gives up
  // well before the test's own timeout, whose expiry would make bun kill this file's browser and flue.
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith("/login"), { timeout: 15_000 }), page.getByRole("button", { name: "Sign in" }).click()]);
}
