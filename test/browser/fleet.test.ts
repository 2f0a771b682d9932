/**
 * The Instances page of a fleet in a real browser: three instances of the
 * compiled binary on one nats-server, each row with its host, version,
 * labels, slots and last heartbeat; kill -9 one, and the open page shows it
 * LOST on its own (the table refreshes itself), in the failure colour.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { eventually, startBinary, type Binary } from "../helpers/index.ts";
import { startNatsServer, type NatsServer } from "../cluster/nats-server.ts";
import { launch, signIn, type Browser } from "./support.ts";
import { withId } from "../cluster/fleet.ts";

let nats: NatsServer;
const fleet: (Binary & { id: string })[] = [];
let browser: Browser;

async function member(...labels: string[]): Promise<Binary & { id: string }> {
  const b = await startBinary({ args: ["--nats", nats.url, "--heartbeat", "0.5s", ...(labels.length ? ["--labels", labels.join(",")] : [])] });
  const m = withId(b);
  fleet.push(m);
  return m;
}

beforeAll(async () => {
  nats = await startNatsServer();
  await member();
  await member("ffmpeg", "R");
  await member("gpu");
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
  for (const b of fleet) if (b.proc.exitCode === null) await b.kill9();
  await nats?.remove();
});

test("every instance is a row with its labels and heartbeat; one killed turns LOST without a reload", async () => {
  const [a, b, c] = fleet;
  const { page } = browser;
  await signIn(page, a.url);
  await page.goto(`${a.url}/instances`);
  const row = (id: string) => page.locator("table.instances tbody tr", { has: page.locator(`code:text-is("${id}")`) });
  await eventually(async () => (await page.locator("table.instances tbody tr").count()) === 3);
  expect(await row(a.id).textContent()).toContain("this one");
  expect(await row(b.id).locator("code.label").allTextContents()).toEqual(["ffmpeg", "R"]);
  expect(await row(c.id).locator("code.label").allTextContents()).toEqual(["gpu"]);
  expect(await row(a.id).textContent()).toContain("none");
  for (const x of fleet) {
    expect(await row(x.id).getAttribute("data-state")).toBe("ACTIVE");
    expect(await row(x.id).locator(".slots").textContent()).toContain("of 2");
  }
  expect(await page.locator("table.instances thead").textContent()).toContain("Last heartbeat");
  await browser.shot("fleet-instances");

  await c.kill9();
  await eventually(async () => (await row(c.id).getAttribute("data-state")) === "LOST", 12_000);
  const badge = (id: string) => row(id).locator(".badge[class*=state-]");
  const colour = (id: string) => badge(id).evaluate((el) => el.ownerDocument.defaultView!.getComputedStyle(el).color);
  expect(await badge(c.id).textContent()).toBe("LOST");
  expect(await colour(c.id)).not.toBe(await colour(b.id));
  await browser.shot("fleet-instances-lost");
  expect(browser.errors).toEqual([]);
});
