/** One place renders every error: JSON for the API, never a stack trace. */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { AppError } from "../domain/index.ts";

export function renderError(err: Error, c: Context): Response {
  if (err instanceof AppError) return c.json(err.toJSON(), err.status as 400);
  if (err instanceof HTTPException) {
    const status = err.status;
    const code = status === 413 ? "too_large" : status === 401 ? "unauthorized" : "bad_request";
    return c.json({ error: { code, message: err.message || "bad request" } }, status);
  }
  console.error(`flue: ${c.req.method} ${c.req.path} failed:`, err);
  return c.json({ error: { code: "internal", message: "flue could not complete this request; the details are in its log" } }, 500);
}

const MAX_DEPTH = 64;
/**
 * A JSON body's largest size, below --max-body: JSON is parsed whole, so it
 * is held whole. Larger inputs go as multipart uploads.
 */
export const MAX_JSON_BYTES = 16 * 1024 * 1024;

/** The body as text, refused with a 413 once it passes `max` bytes. */
async function textAtMost(c: Context, max: number): Promise<string> {
  const body = c.req.raw.body;
  if (!body) return "";
  const length = c.req.header("content-length");
  const tooLarge = () =>
    new AppError(413, "too_large", `a JSON body may be at most ${max} bytes; send larger inputs as multipart/form-data uploads`);
  if (length !== undefined) {
    if (Number(length) > max) throw tooLarge();
    return c.req.text(); // no more than the declared length arrives
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Reads a JSON body; malformed JSON is a 400 saying where it broke. Nesting
 * is capped: no request needs more, and the code that walks a body (cloning,
 * validation, deep comparison) recurses and would overflow the stack.
 */
export async function readJson(c: Context): Promise<unknown> {
  const text = await textAtMost(c, MAX_JSON_BYTES);
  if (text.trim() === "") throw new AppError(400, "invalid", "the request body is empty; send JSON", [{ path: "", message: "expected a JSON body" }]);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    const message = `the body is not valid JSON: ${(e as Error).message}`;
    throw new AppError(400, "malformed_json", message, [{ path: "", message: "expected valid JSON" }]);
  }
  if (depth(body) > MAX_DEPTH) {
    throw new AppError(400, "invalid", `the body is nested deeper than ${MAX_DEPTH} levels`, [{ path: "", message: `at most ${MAX_DEPTH} levels of nesting` }]);
  }
  return body;
}

/** How deeply a parsed JSON value nests, without recursion. */
function depth(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (typeof v !== "object" || v === null) continue;
    if (d > max) max = d;
    if (max > MAX_DEPTH) return max;
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}
