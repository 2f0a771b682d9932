/**
 * The admin UI's files come from inside flue, the same in the compiled
 * binary as in development (`bun src/main.ts serve`): htmx 4 byte for byte
 * as npm ships it, cached for good under the version, nothing from a CDN.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { ADMIN, ROOT, startBinary, tempDir, type Binary } from "../helpers/index.ts";
import { VERSION } from "../../src/version.ts";

let binary: Binary;
let dev: { url: string; stop: () => Promise<void> };

/** flue from its sources, as `npm start` runs it. */
async function startDev() {
  const dir = tempDir();
  const proc = Bun.spawn({
    cmd: [process.execPath, join(ROOT, "src/main.ts"), "serve", "--port", "0", "--data-dir", dir.path],
    cwd: ROOT, // as npm start does: tsconfig.json there sets hono/jsx as the JSX runtime
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", FLUE_ADMIN_PASSWORD: ADMIN.password },
    stdout: "pipe",
    stderr: "pipe",
  });
  const reader = proc.stdout.getReader();
  let out = "";
  let url: string | undefined;
  while (!url) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`flue from source exited: ${out}`);
    out += new TextDecoder().decode(value);
    url = /listening on (\S+)/.exec(out)?.[1];
  }
  return {
    url,
    stop: async () => {
      proc.kill("SIGTERM");
      await proc.exited;
      dir.remove();
    },
  };
}

beforeAll(async () => {
  [binary, dev] = await Promise.all([startBinary(), startDev()]);
});
afterAll(async () => {
  await binary?.stop();
  await dev?.stop();
});

const FILES = ["htmx.min.js", "hx-sse.min.js", "flue.css", "flue.js", "jobs.js", "definitions.css", "admin.js"];

test("each static file is served the same by the binary and from source, htmx as npm ships it", async () => {
  const htmx = await Bun.file(join(ROOT, "node_modules/htmx.org/dist/htmx.min.js")).bytes();
  for (const name of FILES) {
    const [a, b] = await Promise.all([binary.url, dev.url].map((u) => fetch(`${u}/static/${VERSION}/${name}`)));
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(a.headers.get("cache-control")).toContain("immutable");
    expect(a.headers.get("content-type")).toMatch(name.endsWith(".css") ? /^text\/css/ : /^text\/javascript/);
    const [x, y] = [new Uint8Array(await a.arrayBuffer()), new Uint8Array(await b.arrayBuffer())];
    expect(x).toEqual(y);
    if (name === "htmx.min.js") expect(x).toEqual(htmx);
  }
  expect((await fetch(`${binary.url}/static/${VERSION}/nope.js`)).status).toBe(404);
  // A page open across an upgrade still gets its files, just not cached for good.
  const old = await fetch(`${binary.url}/static/0.0.0/flue.css`);
  expect(old.status).toBe(200);
  expect(old.headers.get("cache-control")).toBe("no-cache");
});

test("the sign-in page loads nothing from elsewhere and forbids framing", async () => {
  const res = await fetch(`${binary.url}/login`);
  const html = await res.text();
  expect(html.startsWith("<!DOCTYPE html>")).toBe(true);
  const sources = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
  expect(sources.length).toBeGreaterThan(3);
  for (const s of sources) expect(s.startsWith("/")).toBe(true);
  expect(res.headers.get("x-frame-options")).toBe("DENY");
  expect(res.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
  expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
});
