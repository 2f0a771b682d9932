/**
 * Parameters the built-in adapters share: a binding's name, a file path in
 * the workdir given as a template, sizes and durations as people write them.
 */
import { PluginError, type AdapterContext, type BindResult, type Direction } from "flue/plugin";
import { lstatSync, mkdirSync } from "node:fs";
import { dirname, relative } from "node:path";
import * as v from "valibot";

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const Name = v.pipe(v.string("name must be a string"), v.regex(IDENT, "name must be an identifier (letters, digits, '_')"));

/** A path in the workdir, a template: `${name}` alone is a file named after the binding. */
export const FilePath = v.pipe(v.string("file_path must be a string"), v.minLength(1, "file_path must not be empty"));

const UNITS: Record<string, number> = { "": 1, b: 1, k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, kib: 1024, mib: 1024 ** 2 };

/** A size in bytes, as a number or as text ("10KB", "64KiB"), up to 64 MiB. */
export function Size(field: string) {
  const message = `${field} must be a size such as "10KB" or a number of bytes (1 to 64 MiB)`;
  return v.pipe(
    v.union([v.number(), v.string()], message),
    v.transform((s) => {
      if (typeof s === "number") return s;
      const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(s.trim());
      const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
      return m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : NaN;
    }),
    v.check((n) => Number.isSafeInteger(n) && n >= 1 && n <= 64 * 1024 ** 2, message),
  );
}

/** Seconds, more than 0 and at most a day. */
export function Seconds(field: string) {
  return v.pipe(v.number(`${field} must be a number of seconds`), v.gtValue(0, `${field} must be more than 0`), v.maxValue(86400, `${field} must be at most 86400`));
}

/** The variable `path` consists of, if it is exactly one `${var}`. */
function soleVariable(path: string | undefined): string | undefined {
  return path === undefined ? undefined : /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(path)?.[1];
}

/** bind() for an adapter whose parameters have `name` and `file_path`: the name is `name`, else the file_path's sole variable. */
export function bindByPath(p: { name?: string; file_path?: string }, direction: Direction): BindResult {
  const sole = soleVariable(p.file_path);
  if (p.name !== undefined && sole !== undefined && sole !== p.name) {
    return { problems: [{ path: "name", message: `name "${p.name}" differs from the file_path variable "${sole}"` }] };
  }
  const name = p.name ?? sole ?? `${direction}_file`;
  return { name, templates: p.file_path === undefined || sole === name ? [] : [{ path: "file_path", template: p.file_path }] };
}

/**
 * The absolute path of the binding's file in the workdir, its directory
 * made: `file_path` with its variables filled in, or a file named after the
 * binding when file_path is absent or just `${name}`.
 */
export function bindingPath(filePath: string | undefined, ctx: AdapterContext): string {
  const full = ctx.resolve(filePath === undefined || soleVariable(filePath) === ctx.name ? ctx.name : ctx.render(filePath));
  mkdirSync(dirname(full), { recursive: true });
  return full;
}

/** The binding's file (`vars[name]`) once the process has ended, re-checked inside the workdir; fails when the process did not write it. */
export function writtenFile(ctx: AdapterContext): string {
  const path = ctx.vars[ctx.name];
  let file = false;
  try {
    file = lstatSync(path).isFile();
  } catch {
    // absent
  }
  if (!file) throw new PluginError(`the process did not write ${relative(ctx.workdir, path) || path}`);
  return ctx.resolve(path); // again now: the process may have planted a symlink
}
