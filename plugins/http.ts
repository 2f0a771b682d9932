/**
 * The `http` / `https` storage: an input is fetched from its URL (following
 * redirects) and an output is sent with an HTTP PUT, both streamed between
 * the network and a file, never held in memory.
 *
 * The same URL is downloaded once. The body is kept in the storage's cache
 * dir with its ETag / Last-Modified; a later fetch asks the server with
 * If-None-Match / If-Modified-Since and, on 304, copies the kept body.
 * Responses marked `Cache-Control: no-store`, or carrying neither
 * validator, are not kept. The least recently used bodies are evicted once
 * the cache outgrows its bound.
 *
 * Settings:
 * - `FLUE_HTTP_CACHE_BYTES`: the cache's bound in bytes (default 1 GiB; 0 turns the cache off).
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { PluginError, defineStorage } from "flue/plugin";
import * as v from "valibot";
import { atomically, cloneOrCopy, errorCode } from "./lib/files.ts";

const settings = v.object({
  cache_bytes: v.optional(
    v.pipe(
      v.union([v.string(), v.number()]),
      v.transform(Number),
      v.integer("cache_bytes must be a whole number of bytes"),
      v.minValue(0, "cache_bytes must not be negative"),
    ),
    1024 ** 3,
  ),
});

export default defineStorage({
  kind: "storage",
  schemes: ["http", "https"],
  version: "1.0.0",
  description: "Inputs from http(s) URLs, downloaded once and revalidated; outputs sent with HTTP PUT",
  settings,
  check(uri) {
    if (uri.protocol !== "http:" && uri.protocol !== "https:") return `${uri.protocol} is not http: or https:`;
    if (!uri.hostname) return `${shown(uri)} has no host`;
  },
  async fetch(uri, to, ctx) {
    const { cache_bytes } = v.parse(settings, ctx.settings);
    const cache = cache_bytes > 0 ? new Cache(ctx.cacheDir, cache_bytes) : undefined;
    const entry = cache?.lookup(uri);
    return network("GET", uri, ctx.signal, async () => {
      let response = await fetch(uri, { headers: validators(entry), signal: ctx.signal });
      if (response.status === 304 && cache && entry) {
        const bytes = await cache.restore(entry, to);
        if (bytes !== undefined) return { bytes, fileName: fileName(response) };
        // Evicted or replaced since the lookup: ask for the whole body.
        response = await fetch(uri, { signal: ctx.signal });
      }
      if (!response.ok) throw failure("GET", uri, response);
      const bytes = await Bun.write(to, response);
      if (cache) {
        try {
          await cache.keep(uri, response.headers, to);
        } catch (e) {
          ctx.message(`http cache: could not keep ${shown(uri)}: ${(e as Error).message}`, "warning");
        }
      }
      return { bytes, fileName: fileName(response) };
    });
  },
  async put(uri, from, ctx) {
    const body = Bun.file(from);
    return network("PUT", uri, ctx.signal, async () => {
      const response = await fetch(uri, { method: "PUT", body, signal: ctx.signal });
      if (!response.ok) throw failure("PUT", uri, response);
      await response.body?.cancel();
      return { bytes: body.size };
    });
  },
});

/** Runs a request; a network error becomes a retryable PluginError, a cancellation stays what it is. */
async function network<T>(method: string, uri: URL, signal: AbortSignal, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof PluginError || signal.aborted) throw e;
    throw new PluginError(`${method} ${shown(uri)} failed: ${(e as Error).message}`, true);
  }
}

/** A status another attempt may fix (a server error, a timeout, throttling) is retryable; any other is final. */
function failure(method: string, uri: URL, response: Response): PluginError {
  response.body?.cancel().catch(() => {});
  const { status } = response;
  const retryable = status >= 500 || status === 408 || status === 429;
  return new PluginError(`${method} ${shown(uri)} answered HTTP ${status} ${response.statusText}`.trimEnd(), retryable);
}

/** The URL without its user and password, for messages. */
function shown(uri: URL): string {
  if (!uri.username && !uri.password) return uri.href;
  const copy = new URL(uri);
  copy.username = copy.password = "";
  return copy.href;
}

/** The last segment of the URL the redirects led to, as the input's file name. */
function fileName(response: Response): string | undefined {
  return basename(new URL(response.url).pathname) || undefined;
}

interface Entry {
  uri: string;
  etag?: string;
  lastModified?: string;
  /** The body's file in the cache dir. Bodies are never rewritten: a new version gets a new file, so a reader copying the old one is unharmed. */
  body: string;
}

function validators(entry: Entry | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (entry?.etag) headers["If-None-Match"] = entry.etag;
  if (entry?.lastModified) headers["If-Modified-Since"] = entry.lastModified;
  return headers;
}

/**
 * Bodies kept by URL: `<sha256(url)>.json` names the entry's validators and
 * body file `<sha256(url)>.<uuid>`. The JSON is replaced atomically, so
 * concurrent fetches of one URL leave one consistent entry.
 */
class Cache {
  constructor(
    private readonly dir: string,
    private readonly maxBytes: number,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  lookup(uri: URL): Entry | undefined {
    try {
      const entry = JSON.parse(readFileSync(this.metaPath(uri), "utf8")) as Entry;
      if (entry.uri === shown(uri) && statSync(join(this.dir, entry.body)).isFile()) return entry;
    } catch {
      // No entry, a torn one from a crash, or its body was evicted: fetch it whole.
    }
    return undefined;
  }

  /** Copies the entry's body to `to` and marks it recently used; undefined when the body is gone. */
  async restore(entry: Entry, to: string): Promise<number | undefined> {
    const body = join(this.dir, entry.body);
    try {
      await cloneOrCopy(body, to);
      const now = new Date();
      utimesSync(body, now, now);
      return statSync(to).size;
    } catch (e) {
      if (errorCode(e) === "ENOENT") return undefined;
      throw e;
    }
  }

  /** Keeps the body just fetched into `from`, replacing the URL's entry; drops the entry when the response may not be kept. */
  async keep(uri: URL, headers: Headers, from: string): Promise<void> {
    const previous = this.lookup(uri);
    const etag = headers.get("etag") ?? undefined;
    const lastModified = headers.get("last-modified") ?? undefined;
    const storable = !/\bno-store\b/i.test(headers.get("cache-control") ?? "") && (etag || lastModified);
    if (storable) {
      // Kept without its credentials: the cache's files are flue's, but passwords belong nowhere on disk.
      const entry: Entry = { uri: shown(uri), etag, lastModified, body: `${this.key(uri)}.${crypto.randomUUID()}` };
      await cloneOrCopy(from, join(this.dir, entry.body));
      await atomically(this.metaPath(uri), (tmp) => writeFileSync(tmp, JSON.stringify(entry)));
    } else {
      rmSync(this.metaPath(uri), { force: true });
    }
    if (previous) rmSync(join(this.dir, previous.body), { force: true });
    this.evict();
  }

  /** Removes the least recently used bodies until the cache fits its bound. */
  private evict(): void {
    const bodies = readdirSync(this.dir)
      .filter((name) => !name.startsWith(".") && !name.endsWith(".json"))
      .flatMap((name) => {
        try {
          const { size, mtimeMs } = statSync(join(this.dir, name));
          return [{ name, size, mtimeMs }];
        } catch {
          return []; // removed by a concurrent fetch
        }
      })
      .sort((a, b) => a.mtimeMs - b.mtimeMs);
    let total = bodies.reduce((sum, b) => sum + b.size, 0);
    for (const body of bodies) {
      if (total <= this.maxBytes) break;
      rmSync(join(this.dir, body.name), { force: true });
      total -= body.size;
    }
  }

  private key(uri: URL): string {
    return new Bun.CryptoHasher("sha256").update(uri.href).digest("hex");
  }

  private metaPath(uri: URL): string {
    return join(this.dir, `${this.key(uri)}.json`);
  }
}
