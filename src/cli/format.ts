/** What the user and token commands read and print: expiry durations, times, tables. */
import { usage } from "./args.ts";

const SECONDS: Record<string, number> = { m: 60, h: 3600, d: 86_400, w: 7 * 86_400 };
/** The API's bound (expires_in_days ≤ 3650), so a token made here could have been made there. */
const MAX_SECONDS = 3650 * 86_400;

/**
 * "30d", "12h", "90m", "2w" → seconds; "never" → null. config.ts's
 * parseDuration has no days and reads a bare number as seconds, which is
 * the wrong guess for a token's lifetime, so this one asks for a unit.
 */
export function parseExpiry(text: string, flag: string): number | null {
  if (text.trim() === "never") return null;
  const m = /^(\d+)\s*([mhdw])$/.exec(text.trim());
  const seconds = m ? Number(m[1]) * SECONDS[m[2]] : Number.NaN;
  if (!m || !(seconds > 0) || seconds > MAX_SECONDS) {
    throw usage(`${flag} must be a duration such as 30d, 12h, 90m or 2w (at most 3650d), or never; not "${text}"`);
  }
  return seconds;
}

/** UNIX seconds → "2025-06-01 12:00:00Z"; null → `none`. */
export function when(seconds: number | null, none = "never"): string {
  if (seconds === null) return none;
  return new Date(seconds * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

/** A plain table: a header row, columns padded to their widest cell. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join("  ");
  return [line(header), ...rows.map(line)].join("\n");
}
