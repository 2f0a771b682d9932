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

/** Reads a JSON body; malformed JSON is a 400 saying where it broke. */
export async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === "") throw new AppError(400, "invalid", "the request body is empty; send JSON", [{ path: "", message: "expected a JSON body" }]);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new AppError(400, "malformed_json", `the body is not valid JSON: ${(e as Error).message}`);
  }
}
