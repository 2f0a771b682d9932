/**
 * Signing in and out in a real browser, the session cookie's attributes,
 * and requests forged by another site: refused, and nothing changes.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startBinary, type Binary } from "../helpers/index.ts";
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

test("a page asks for sign-in first, a wrong password says so, the right one lands where the user was going", async () => {
  const { page } = browser;
  await page.goto(`${flue.url}/jobs?state=FAILED`);
  expect(new URL(page.url()).pathname).toBe("/login");
  await browser.shot("sign-in");
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  expect(await page.getByRole("alert").textContent()).toContain("Wrong username or password");
  await page.getByLabel("Password").fill("test-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${flue.url}/jobs?state=FAILED`);
  const cookie = (await browser.context.cookies()).find((c) => c.name === "flue_session")!;
  expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/" });
  expect(cookie.value.length).toBeGreaterThan(30);
});

test("sign out ends the session on the server, not only in the browser", async () => {
  const { page, context } = browser;
  await signIn(page, flue.url);
  const before = (await context.cookies()).find((c) => c.name === "flue_session")!.value;
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/login$/);
  // The old cookie, replayed, no longer signs anyone in.
  const res = await fetch(`${flue.url}/`, { headers: { cookie: `flue_session=${before}` }, redirect: "manual" });
  expect(res.status).toBe(303);
  expect(res.headers.get("location")).toBe("/login");
});

/** Serves a page that submits a form to flue's /logout as soon as it loads. */
function forger(flueUrl: string) {
  return Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: () =>
      new Response(`<!DOCTYPE html><form id=f method=post action="${flueUrl}/logout"><input name=_csrf value=guess></form><script>f.submit()</script>`, {
        headers: { "content-type": "text/html" },
      }),
  });
}

async function forge(pageUrl: string): Promise<number> {
  const other = await browser.context.newPage();
  try {
    const answered = other.waitForResponse((r) => r.url().endsWith("/logout"));
    await other.goto(pageUrl);
    return (await answered).status();
  } finally {
    await other.close();
  }
}

test("a form on another site that posts to flue is refused, and the session stays", async () => {
  const { page } = browser;
  await signIn(page, flue.url);
  const evil = forger(flue.url);
  try {
    // Another site (localhost is not 127.0.0.1): SameSite=Strict keeps the cookie home, so no session.
    expect(await forge(`http://localhost:${evil.port}/`)).toBe(401);
    // The same site on another port: the cookie goes along, and the Origin check refuses it.
    expect(await forge(`http://127.0.0.1:${evil.port}/`)).toBe(403);
  } finally {
    evil.stop(true);
  }
  await page.goto(`${flue.url}/`);
  expect(new URL(page.url()).pathname).toBe("/");
});

test("a state change without the CSRF token is refused even from a client that sends no Origin", async () => {
  const { page, context } = browser;
  await signIn(page, flue.url);
  const session = (await context.cookies()).find((c) => c.name === "flue_session")!.value;
  const post = (headers: Record<string, string>, body = "") =>
    fetch(`${flue.url}/logout`, { method: "POST", headers: { cookie: `flue_session=${session}`, "content-type": "application/x-www-form-urlencoded", ...headers }, body, redirect: "manual" });
  expect((await post({})).status).toBe(403);
  expect((await post({}, "_csrf=wrong")).status).toBe(403);
  expect((await post({ origin: "http://evil.example" })).status).toBe(403);
  expect((await post({ "sec-fetch-site": "cross-site", "x-csrf-token": "x" })).status).toBe(403);
  await page.goto(`${flue.url}/`);
  expect(new URL(page.url()).pathname).toBe("/");
  expect(browser.errors).toEqual([]);
});

test("the next address after sign-in never leaves flue", async () => {
  const { page } = browser;
  await page.context().clearCookies();
  await page.goto(`${flue.url}/login?next=//evil.example/`);
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill("test-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForLoadState();
  expect(new URL(page.url()).origin).toBe(flue.url);
});

test("a changed password ends the user's browser sessions", async () => {
  const { page, context } = browser;
  const made = await flue.fetch("/api/user/", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "erin", password: "erin-password", role: "viewer" }) });
  const user = (await made.json()) as { id: number };
  await signIn(page, flue.url, "erin", "erin-password");
  expect(new URL(page.url()).pathname).toBe("/");
  const patched = await flue.fetch(`/api/user/${user.id}/`, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify({ password: "erin-new-password" }) });
  expect(patched.status).toBe(200);
  await page.goto(`${flue.url}/`);
  expect(new URL(page.url()).pathname).toBe("/login");
  expect((await context.cookies()).length).toBeGreaterThan(0); // the browser still has the cookie; the server forgot it
});
