/**
 * The request body cap, counted as the body streams in: a declared length
 * past it is refused at once, and a chunked body fails the moment it passes
 * it, so no more than one chunk past the cap is ever held. (Hono's bodyLimit
 * buffers a chunked body whole before deciding.)
 */
import type { MiddlewareHandler } from "hono";
import { AppError } from "../domain/index.ts";

const tooLarge = (max: number) => new AppError(413, "too_large", `the request body is larger than ${max} bytes`);

export function limitBody(max: number): MiddlewareHandler {
  return async (c, next) => {
    const req = c.req.raw;
    if (!req.body) return next();
    const declared = req.headers.get("content-length");
    if (declared !== null) {
      // HTTP/1.1 delivers no more than the declared length: only a chunked body needs counting.
      if (Number(declared) > max) throw tooLarge(max);
      return next();
    }
    let seen = 0;
    const counted = req.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          seen += chunk.byteLength;
          if (seen > max) controller.error(tooLarge(max));
          else controller.enqueue(chunk);
        },
      }),
    );
    c.req.raw = new Request(req, { body: counted, duplex: "half" } as RequestInit);
    await next();
  };
}
