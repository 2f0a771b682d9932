/**
 * Sizes as people write them ("512MiB", "1GB", "1048576"): one parser for
 * the flags (--max-output) and for a definition's limits, so both read the
 * same units the same way.
 */

const SIZE_UNITS: Record<string, number> = { "": 1, b: 1, k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/** "512MiB" → 536870912 bytes; undefined when the text is not a size. */
export function parseSizeText(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = m ? SIZE_UNITS[m[2].toLowerCase()] : undefined;
  return m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : undefined;
}

/** A size given as a number of bytes or as text, in bytes; undefined when it is neither. */
export function sizeInBytes(size: unknown): number | undefined {
  if (typeof size === "number") return Number.isSafeInteger(size) ? size : undefined;
  return typeof size === "string" ? parseSizeText(size) : undefined;
}

/** Bytes for people: 67108864 → "64 MiB", 1000 → "1000 bytes". */
export function formatSize(bytes: number): string {
  for (const [unit, n] of [["GiB", 1024 ** 3], ["MiB", 1024 ** 2], ["KiB", 1024]] as const) {
    if (bytes >= n && bytes % n === 0) return `${bytes / n} ${unit}`;
  }
  return `${bytes} bytes`;
}
