/**
 * The built-in storages against real servers on loopback: a Bun.serve HTTP
 * server that counts requests, the real filesystem, and s3rver (an
 * S3-compatible server) started on a free port.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PluginError, type StorageContext, type StorageDefinition } from "flue/plugin";
import http from "../../plugins/http.ts";
import file from "../../plugins/file-storage.ts";
import s3 from "../../plugins/s3.ts";
import { storageContext } from "./harness.ts";
import { startS3Server, type S3Server } from "./s3-server.ts";
import * as v from "valibot";

const ALL_BYTES = new Uint8Array(256).map((_, i) => i);
const MiB = 1024 * 1024;

let dir: string;
const cleanups: (() => void)[] = [];
beforeAll(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), "flue-storages-")));
});
afterEach(() => cleanups.splice(0).forEach((f) => f()));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A storage context with fresh cache dir, removed after the test. */
function context(settings: Record<string, unknown> = {}): StorageContext {
  const h = storageContext(settings);
  cleanups.push(h.remove);
  return h.ctx;
}

/** A fresh path in the test's temp dir. */
let n = 0;
const path = (name = "f") => join(dir, `${++n}-${name}`);

/** Writes `mib` MiB of non-repeating-looking bytes to `to` without holding them in memory. */
async function writeLarge(to: string, mib: number): Promise<void> {
  const chunk = crypto.getRandomValues(new Uint8Array(MiB));
  const sink = Bun.file(to).writer();
  for (let i = 0; i < mib; i++) {
    chunk[0] = i;
    sink.write(chunk);
    await sink.flush();
  }
  await sink.end();
}

/** How far the process's RSS rose above its level before `run`, at its highest while `run` ran. */
async function peakGrowth(run: () => Promise<unknown>): Promise<number> {
  Bun.gc(true);
  const before = process.memoryUsage().rss;
  let peak = before;
  const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 1);
  try {
    await run();
  } finally {
    clearInterval(sample);
  }
  return Math.max(peak, process.memoryUsage().rss) - before;
}

async function sameBytes(a: string, b: string): Promise<boolean> {
  const hash = async (p: string) => new Bun.CryptoHasher("sha256").update(await Bun.file(p).arrayBuffer()).digest("hex");
  return (await hash(a)) === (await hash(b));
}

async function rejection(p: Promise<unknown>): Promise<PluginError> {
  const e = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(e).toBeInstanceOf(PluginError);
  return e as PluginError;
}

describe("http", () => {
  let server: ReturnType<typeof Bun.serve>;
  let base: string;
  const seen: { path: string; ifNoneMatch: string | null; ifModifiedSince: string | null; status: number }[] = [];
  let version = 1;
  const lastModified = new Date("2024-05-01T12:00:00Z").toUTCString();
  let big: string;
  const uploads = new Map<string, string>();

  const route = (req: Request): Response => {
    const url = new URL(req.url);
    const inm = req.headers.get("if-none-match");
    const ims = req.headers.get("if-modified-since");
    if (url.pathname.startsWith("/etag/")) {
      const etag = `"v${version}"`;
      if (inm === etag) return new Response(null, { status: 304, headers: { etag } });
      return new Response(`content version ${version}`, { headers: { etag } });
    }
    switch (url.pathname) {
      case "/last-modified": {
        if (ims === lastModified) return new Response(null, { status: 304 });
        return new Response("dated", { headers: { "last-modified": lastModified } });
      }
      case "/no-store":
        return new Response("fresh", { headers: { etag: '"same"', "cache-control": "no-store" } });
      case "/binary":
        if (inm === '"bin"') return new Response(null, { status: 304 });
        return new Response(ALL_BYTES, { headers: { etag: '"bin"' } });
      case "/slow": // one chunk, then nothing until the client gives up
        return new Response(new ReadableStream({ start: (c) => c.enqueue(new Uint8Array(1024)) }));
      case "/big":
        return new Response(Bun.file(big));
      case "/moved":
        return Response.redirect(`${base}/etag/data.txt`, 302);
      case "/missing":
        return new Response("no", { status: 404, statusText: "Not Found" });
      case "/down":
        return new Response("later", { status: 503, statusText: "Service Unavailable" });
      default:
        return new Response("?", { status: 400 });
    }
  };

  beforeAll(async () => {
    big = path("big");
    await writeLarge(big, 100);
    server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        const url = new URL(req.url);
        if (req.method === "PUT") {
          const to = path("upload");
          await Bun.write(to, req);
          uploads.set(url.pathname, to);
          return new Response(null, { status: 201 });
        }
        const response = route(req);
        seen.push({ path: url.pathname, ifNoneMatch: req.headers.get("if-none-match"), ifModifiedSince: req.headers.get("if-modified-since"), status: response.status });
        return response;
      },
    });
    base = `http://127.0.0.1:${server.port}`;
  });
  afterAll(() => server.stop(true));
  const requests = (p: string) => seen.filter((s) => s.path === p);

  test("fetches once, then revalidates with If-None-Match and reuses the body on 304", async () => {
    const ctx = context();
    const uri = new URL(`${base}/etag/data.txt`);
    const first = path();
    expect(await http.fetch!(uri, first, ctx)).toEqual({ bytes: 17, fileName: "data.txt" });
    const second = path();
    expect(await http.fetch!(uri, second, ctx)).toEqual({ bytes: 17, fileName: "data.txt" });
    expect(readFileSync(second, "utf8")).toBe("content version 1");
    expect(requests("/etag/data.txt").map((r) => [r.ifNoneMatch, r.status])).toEqual([
      [null, 200],
      ['"v1"', 304],
    ]);

    version = 2; // the object changes: a new ETag, fetched whole again
    const third = path();
    await http.fetch!(uri, third, ctx);
    expect(readFileSync(third, "utf8")).toBe("content version 2");
    await http.fetch!(uri, path(), ctx);
    expect(requests("/etag/data.txt").map((r) => [r.ifNoneMatch, r.status]).slice(2)).toEqual([
      ['"v1"', 200],
      ['"v2"', 304],
    ]);
  });

  test("revalidates with If-Modified-Since", async () => {
    const ctx = context();
    const uri = new URL(`${base}/last-modified`);
    await http.fetch!(uri, path(), ctx);
    const to = path();
    await http.fetch!(uri, to, ctx);
    expect(readFileSync(to, "utf8")).toBe("dated");
    expect(requests("/last-modified").map((r) => [r.ifModifiedSince, r.status])).toEqual([
      [null, 200],
      [lastModified, 304],
    ]);
  });

  test("a no-store response is fetched every time", async () => {
    const ctx = context();
    for (let i = 0; i < 3; i++) await http.fetch!(new URL(`${base}/no-store`), path(), ctx);
    expect(requests("/no-store").map((r) => [r.ifNoneMatch, r.status])).toEqual([
      [null, 200],
      [null, 200],
      [null, 200],
    ]);
  });

  test("follows redirects", async () => {
    const to = path();
    const { fileName } = await http.fetch!(new URL(`${base}/moved`), to, context());
    expect(fileName).toBe("data.txt");
    expect(readFileSync(to, "utf8")).toStartWith("content version");
  });

  test("404 is a final failure naming the URI and status; 503 may be retried", async () => {
    const missing = await rejection(http.fetch!(new URL(`${base}/missing`), path(), context()));
    expect(missing.message).toBe(`GET ${base}/missing answered HTTP 404 Not Found`);
    expect(missing.retryable).toBe(false);
    const down = await rejection(http.fetch!(new URL(`${base}/down`), path(), context()));
    expect(down.message).toContain("503");
    expect(down.retryable).toBe(true);
  });

  test("a refused connection may be retried", async () => {
    const closed = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
    const uri = new URL(`http://127.0.0.1:${closed.port}/x`);
    await closed.stop(true);
    const e = await rejection(http.fetch!(uri, path(), context()));
    expect(e.message).toStartWith(`GET ${uri.href} failed:`);
    expect(e.retryable).toBe(true);
  });

  test("cancellation aborts the fetch while the body streams", async () => {
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 100);
    const e = await http.fetch!(new URL(`${base}/slow`), path(), { ...context(), signal: abort.signal }).catch((e) => e);
    expect(e).not.toBeInstanceOf(PluginError);
    expect((e as Error).name).toBe("AbortError");
  });

  test("binary bytes arrive unchanged, from the network and from the cache", async () => {
    const ctx = context();
    for (let i = 0; i < 2; i++) {
      const to = path();
      await http.fetch!(new URL(`${base}/binary`), to, ctx);
      expect(new Uint8Array(readFileSync(to))).toEqual(ALL_BYTES);
    }
    expect(requests("/binary").map((r) => r.status)).toEqual([200, 304]);
  });

  test("a 100 MiB body is streamed to the file, not held in memory", async () => {
    const to = path();
    const ctx = context();
    let bytes = 0;
    const grown = await peakGrowth(async () => ({ bytes } = await http.fetch!(new URL(`${base}/big`), to, ctx)));
    console.log(`http: RSS rose at most ${(grown / MiB).toFixed(1)} MiB while fetching 100 MiB`);
    expect(bytes).toBe(100 * MiB);
    expect(grown).toBeLessThan(40 * MiB);
    expect(await sameBytes(to, big)).toBe(true);
  });

  test("the cache stays within cache_bytes, evicting the least recently used", async () => {
    const ctx = context({ cache_bytes: "40" }); // room for two 17-byte bodies
    const get = async (name: string) => {
      await Bun.sleep(5); // distinct use times
      await http.fetch!(new URL(`${base}/etag/${name}`), path(), ctx);
      return requests(`/etag/${name}`).at(-1)!.status;
    };
    expect([await get("a"), await get("b"), await get("a")]).toEqual([200, 200, 304]);
    expect(await get("c")).toBe(200); // over the bound: b, the least recently used, goes
    expect([await get("a"), await get("c"), await get("b")]).toEqual([304, 304, 200]);
  });

  test("concurrent fetches of one URI leave a consistent cache", async () => {
    const ctx = context();
    const uri = new URL(`${base}/binary`);
    const targets = Array.from({ length: 8 }, () => path());
    await Promise.all(targets.map((to) => http.fetch!(uri, to, ctx)));
    await Promise.all(targets.map((to) => http.fetch!(uri, to, ctx)));
    for (const to of targets) expect(new Uint8Array(readFileSync(to))).toEqual(ALL_BYTES);
  });

  test("put streams the file with HTTP PUT", async () => {
    const from = path();
    writeFileSync(from, ALL_BYTES);
    expect(await http.put!(new URL(`${base}/up/one`), from, context())).toEqual({ bytes: 256 });
    expect(new Uint8Array(readFileSync(uploads.get("/up/one")!))).toEqual(ALL_BYTES);
  });

  test("check accepts only http(s) URLs with a host", () => {
    const check = (u: string) => (http as StorageDefinition).check!(new URL(u), "input", {});
    expect(check("https://example.org/a")).toBeUndefined();
    expect(check("ftp://example.org/a")).toContain("ftp:");
  });
});

describe("file", () => {
  let shared: string;
  let elsewhere: string;
  beforeAll(() => {
    shared = join(dir, "shared");
    elsewhere = join(dir, "elsewhere");
    mkdirSync(join(shared, "in"), { recursive: true });
    mkdirSync(elsewhere);
    writeFileSync(join(elsewhere, "secret"), "secret");
    symlinkSync(join(elsewhere, "secret"), join(shared, "in", "link-out"));
    symlinkSync(elsewhere, join(shared, "dir-out"));
  });
  const url = (p: string) => new URL(`file://${p}`);
  const settings = (mode: string) => ({ allow: `${shared}, /nonexistent-flue-dir`, mode });
  const check = (u: URL, s: Record<string, unknown>) => (file as StorageDefinition).check!(u, "input", v.parse(file.settings!, s));

  for (const mode of ["nfs", "local"]) {
    test(`${mode}: put then fetch round trip of binary bytes, creating directories`, async () => {
      const ctx = context(settings(mode));
      const from = path();
      writeFileSync(from, ALL_BYTES);
      const target = join(shared, mode, "deep", "out.bin");
      expect(await file.put!(url(target), from, ctx)).toEqual({ bytes: 256 });
      const to = path();
      expect(await file.fetch!(url(target), to, ctx)).toEqual({ bytes: 256, fileName: "out.bin" });
      expect(new Uint8Array(readFileSync(to))).toEqual(ALL_BYTES);
      // local: the workdir's file is the shared file itself; nfs: a copy.
      expect(statSync(to).ino === statSync(target).ino).toBe(mode === "local");
    });

    test(`${mode}: an empty file`, async () => {
      const ctx = context(settings(mode));
      const from = path();
      writeFileSync(from, "");
      await file.put!(url(join(shared, mode, "empty")), from, ctx);
      const to = path();
      expect(await file.fetch!(url(join(shared, mode, "empty")), to, ctx)).toEqual({ bytes: 0, fileName: "empty" });
      expect(statSync(to).size).toBe(0);
    });
  }

  test("a large file, both ways", async () => {
    const ctx = context(settings("nfs"));
    const from = path();
    await writeLarge(from, 64);
    await file.put!(url(join(shared, "large")), from, ctx);
    const to = path();
    expect((await file.fetch!(url(join(shared, "large")), to, ctx)).bytes).toBe(64 * MiB);
    expect(await sameBytes(from, to)).toBe(true);
  });

  test("put replaces an existing file", async () => {
    const ctx = context(settings("nfs"));
    const target = join(shared, "replaced");
    writeFileSync(target, "old");
    const from = path();
    writeFileSync(from, "new");
    await file.put!(url(target), from, ctx);
    expect(readFileSync(target, "utf8")).toBe("new");
  });

  test("a missing file is a final failure naming its path", async () => {
    const e = await rejection(file.fetch!(url(join(shared, "nope")), path(), context(settings("nfs"))));
    expect(e.message).toBe(`${join(shared, "nope")} does not exist`);
    expect(e.retryable).toBe(false);
  });

  test("refuses .., symlinks out, and everything when nothing is allowed", async () => {
    const ctx = context(settings("nfs"));
    const escapes = [
      new URL(`file://${shared}/in/../../elsewhere/secret`),
      new URL(`file://${shared}/in/%2e%2e/%2e%2e/elsewhere/secret`),
      url(join(shared, "in", "link-out")),
      url(join(shared, "dir-out", "secret")),
      url(join(shared, "dir-out", "new-file")),
    ];
    for (const uri of escapes) {
      const e = await rejection(file.fetch!(uri, path(), ctx));
      expect(e.message).toContain("is outside the allowed directories");
      expect(e.retryable).toBe(false);
      await rejection(file.put!(uri, join(elsewhere, "secret"), ctx));
      expect(check(uri, settings("nfs"))).toContain("is outside the allowed directories");
    }
    expect(readFileSync(join(elsewhere, "secret"), "utf8")).toBe("secret");
    expect(check(url(join(shared, "in", "not-yet")), settings("nfs"))).toBeUndefined();

    const none = await rejection(file.fetch!(url(join(shared, "large")), path(), context()));
    expect(none.message).toContain("set FLUE_FILE_ALLOW or --allow-dir");
    expect(check(url(join(shared, "large")), {})).toContain("FLUE_FILE_ALLOW");
  });

  test("settings are validated", () => {
    expect(() => v.parse(file.settings!, { allow: "relative/dir" })).toThrow("absolute");
    expect(() => v.parse(file.settings!, { mode: "copy" })).toThrow("nfs or local");
  });
});

describe("s3", () => {
  let server: S3Server;
  let ctx: StorageContext;
  beforeAll(async () => {
    server = await startS3Server(["flue"]);
    ctx = context({ endpoint: server.endpoint, access_key_id: server.accessKeyId, secret_access_key: server.secretAccessKey });
  });
  afterAll(() => server.stop());

  test("round trip of binary bytes", async () => {
    const from = path();
    writeFileSync(from, ALL_BYTES);
    const uri = new URL("s3://flue/some/dir/all%20bytes.bin");
    expect(await s3.put!(uri, from, ctx)).toEqual({ bytes: 256 });
    const to = path();
    expect(await s3.fetch!(uri, to, ctx)).toEqual({ bytes: 256, fileName: "all bytes.bin" });
    expect(new Uint8Array(readFileSync(to))).toEqual(ALL_BYTES);
  });

  test("an empty object", async () => {
    const from = path();
    writeFileSync(from, "");
    await s3.put!(new URL("s3://flue/empty"), from, ctx);
    const to = path();
    expect((await s3.fetch!(new URL("s3://flue/empty"), to, ctx)).bytes).toBe(0);
  });

  test("a 200 MiB object, streamed both ways: memory stays far below its size", async () => {
    const from = path();
    await writeLarge(from, 200);
    // Measured in a process of its own: this runner's heap is shared with every other test.
    const probe = Bun.spawn({
      cmd: [process.execPath, join(import.meta.dir, "s3-memory-probe.ts"), server.endpoint, server.accessKeyId, server.secretAccessKey, from, "200"],
      stdout: "pipe",
      stderr: "inherit",
    });
    const out = JSON.parse(await new Response(probe.stdout).text());
    expect(await probe.exited).toBe(0);
    console.log(`s3: RSS rose at most ${(out.up / MiB).toFixed(1)} MiB putting, ${(out.down / MiB).toFixed(1)} MiB fetching 200 MiB`);
    expect(out.bytes).toBe(out.expected);
    expect(await sameBytes(from, `${from}.back`)).toBe(true);
    // Bun's upload queue holds a fixed ~70–90 MiB whatever the size; the download far less.
    expect(out.up).toBeLessThan(120 * MiB);
    expect(out.down).toBeLessThan(60 * MiB);
  }, 60_000);

  test("a cancelled put stores nothing; a cancelled fetch stops", async () => {
    const from = path();
    await writeLarge(from, 50);
    const abort = new AbortController();
    const cancelled = { ...ctx, signal: abort.signal };
    setTimeout(() => abort.abort(), 20);
    const put = await s3.put!(new URL("s3://flue/cancelled"), from, cancelled).catch((e) => e);
    expect((put as Error).name).toBe("AbortError");
    await rejection(s3.fetch!(new URL("s3://flue/cancelled"), path(), ctx));

    const fetched = await s3.fetch!(new URL("s3://flue/probe.bin"), path(), cancelled).catch((e) => e);
    expect((fetched as Error).name).toBe("AbortError");
  });

  test("a missing key or bucket is a final failure", async () => {
    const key = await rejection(s3.fetch!(new URL("s3://flue/nope"), path(), ctx));
    expect(key.message).toStartWith("s3 fetch s3://flue/nope failed: NoSuchKey");
    expect(key.retryable).toBe(false);
    const bucket = await rejection(s3.fetch!(new URL("s3://no-bucket/x"), path(), ctx));
    expect(bucket.message).toContain("NoSuchBucket");
    expect(bucket.retryable).toBe(false);
  });

  test("without credentials, a message naming the settings", async () => {
    const e = await rejection(s3.fetch!(new URL("s3://flue/x"), path(), context({ endpoint: server.endpoint })));
    expect(e.message).toBe("s3 has no credentials: set FLUE_S3_ACCESS_KEY_ID and FLUE_S3_SECRET_ACCESS_KEY");
    expect(e.retryable).toBe(false);
  });

  test("check wants a bucket and a key", () => {
    const s = v.parse(s3.settings!, { access_key_id: "a", secret_access_key: "b" });
    const check = (u: string) => (s3 as StorageDefinition).check!(new URL(u), "output", s);
    expect(check("s3://flue/a/b")).toBeUndefined();
    expect(check("s3://flue/")).toContain("names no object key");
    expect(check("s3:///key")).toContain("names no bucket");
  });
});
