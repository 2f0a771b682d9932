/** Moving a file's bytes to and from a stream in bounded pieces, never the whole file in memory. */
import { createReadStream } from "node:fs";
import type { Writable } from "node:stream";

/**
 * node:stream/promises' `pipeline`, loaded at its first use: a static import
 * is hoisted to the top of the bundle and costs every start-up milliseconds.
 */
export const pipeline = (async (...args: unknown[]) => {
  const { pipeline: run } = await import("node:stream/promises");
  return (run as (...a: unknown[]) => Promise<void>)(...args);
}) as typeof import("node:stream/promises").pipeline;

/** Writes the file at `path` to `to` in writes of at most `chunkSize` bytes, waiting for `drain`; returns the bytes written. Leaves `to` open. */
export async function sendFile(to: Writable, path: string, chunkSize: number, signal: AbortSignal, onChunk?: (bytes: number) => void): Promise<number> {
  let sent = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: chunkSize, signal }) as AsyncIterable<Buffer>) {
    if (to.destroyed) throw new Error("the connection was closed");
    if (!to.write(chunk)) await drained(to, signal);
    sent += chunk.length;
    onChunk?.(sent);
  }
  return sent;
}

/** "12 bytes", "3.5 MiB": for messages. */
export function bytesText(n: number): string {
  return n < 1024 * 1024 ? `${n} bytes` : `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** Resolves on `drain`; rejects when `to` errs, closes first (a peer's reset need not emit an error), or `signal` aborts. */
function drained(to: Writable, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (e?: Error) => {
      to.off("drain", onDrain).off("error", settle).off("close", onClose);
      signal.removeEventListener("abort", onAbort);
      if (e) reject(e);
      else resolve();
    };
    const onDrain = () => settle();
    const onClose = () => settle(new Error("the connection was closed"));
    const onAbort = () => settle(new Error("aborted"));
    to.on("drain", onDrain).on("error", settle).on("close", onClose);
    signal.addEventListener("abort", onAbort);
  });
}
