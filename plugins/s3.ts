/**
 * The `s3` storage: objects at `s3://bucket/key` in Amazon S3 or any
 * S3-compatible store (MinIO, R2, Ceph), through Bun's built-in S3 client.
 * Fetch streams the object into the file; put streams the file up as a
 * multipart upload, which a cancelled job aborts, so a partial object is
 * never stored.
 *
 * Settings:
 * - `FLUE_S3_ACCESS_KEY_ID`, `FLUE_S3_SECRET_ACCESS_KEY`: the credentials (required).
 * - `FLUE_S3_ENDPOINT`: the service's URL (default: AWS, from the region).
 * - `FLUE_S3_REGION`: the region (default us-east-1).
 * Buckets are addressed path-style (`endpoint/bucket/key`), which every
 * S3-compatible store and AWS accept.
 */
import { statSync } from "node:fs";
import { basename } from "node:path";
import { S3Client, type S3File } from "bun";
import { PluginError, defineStorage } from "flue/plugin";
import * as v from "valibot";

const settings = v.object({
  endpoint: v.optional(v.pipe(v.string(), v.url("FLUE_S3_ENDPOINT must be a URL"))),
  region: v.optional(v.string()),
  access_key_id: v.optional(v.string()),
  secret_access_key: v.optional(v.string()),
});
type Settings = v.InferOutput<typeof settings>;

/** Object failures another attempt cannot fix: it is not there, or we may not have it. */
const FINAL = new Set(["NoSuchKey", "NoSuchBucket", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidBucketName"]);

export default defineStorage({
  kind: "storage",
  schemes: ["s3"],
  version: "1.0.0",
  description: "Objects in Amazon S3 or an S3-compatible store, streamed",
  settings,
  check(uri, _direction, s) {
    return problem(uri, s);
  },
  async fetch(uri, to, ctx) {
    const object = open(uri, ctx.settings);
    try {
      const bytes = await Bun.write(to, new Response(cancellable(object.stream(), ctx.signal)));
      return { bytes, fileName: basename(decodeURIComponent(uri.pathname)) };
    } catch (e) {
      throw failure("fetch", uri, e, ctx.signal);
    }
  },
  async put(uri, from, ctx) {
    const object = open(uri, ctx.settings);
    try {
      // A body that errors on cancellation makes Bun abort the multipart
      // upload, rather than complete it with what it has so far.
      await object.write(new Response(cancellable(Bun.file(from).stream(), ctx.signal)));
    } catch (e) {
      throw failure("put", uri, e, ctx.signal);
    }
    return { bytes: statSync(from).size };
  },
});

/** The stream, erroring when `signal` aborts. */
function cancellable(stream: ReadableStream<Uint8Array>, signal: AbortSignal): ReadableStream<Uint8Array> {
  return stream.pipeThrough(new TransformStream<Uint8Array, Uint8Array>(), { signal });
}

/** Why this URI cannot be used with these settings, or undefined. */
function problem(uri: URL, s: Settings): string | undefined {
  if (!uri.hostname) return `${uri.href} names no bucket: write s3://bucket/key`;
  if (uri.pathname.length <= 1 || uri.pathname.endsWith("/")) return `${uri.href} names no object key: write s3://bucket/key`;
  if (!s.access_key_id || !s.secret_access_key) return "s3 has no credentials: set FLUE_S3_ACCESS_KEY_ID and FLUE_S3_SECRET_ACCESS_KEY";
}

function open(uri: URL, raw: Record<string, unknown>): S3File {
  const s = v.parse(settings, raw);
  const message = problem(uri, s);
  if (message) throw new PluginError(message, false);
  const client = new S3Client({
    bucket: decodeURIComponent(uri.hostname),
    endpoint: s.endpoint,
    region: s.region,
    accessKeyId: s.access_key_id,
    secretAccessKey: s.secret_access_key,
  });
  return client.file(decodeURIComponent(uri.pathname.slice(1)));
}

/** A PluginError naming the object and the store's error code; a cancellation stays what it is. */
function failure(action: string, uri: URL, e: unknown, signal: AbortSignal): unknown {
  if (signal.aborted) return signal.reason ?? e;
  const code = (e as { code?: string }).code;
  const retryable = !FINAL.has(code ?? "");
  return new PluginError(`s3 ${action} ${uri.href} failed: ${code ? `${code}: ` : ""}${(e as Error).message}`, retryable);
}
