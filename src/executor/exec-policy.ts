/**
 * Which executables a definition may run (--allow-exec, --deny-exec).
 * Checked when a definition is registered and again when a job runs, on the
 * executable's real path: a symlink or a PATH lookup does not get around it.
 */
import { realpathSync } from "node:fs";
import { resolve } from "node:path";

export interface ExecPolicy {
  /** Real paths of executables, and of directories (ending in "/"); empty allows anything. */
  allow: readonly string[];
  /** The same, always refused. */
  deny: readonly string[];
}

/** The PATH a job gets unless its definition sets one. */
export const DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin";

/** Where the executor finds `exec`: as given when it has a "/", else through PATH. */
export function findExecutable(exec: string, path = DEFAULT_PATH): string | undefined {
  return exec.includes("/") ? exec : (Bun.which(exec, { PATH: path }) ?? undefined);
}

/** The real path of the executable the executor would start for `exec`. */
export function resolveExecutable(exec: string, path = DEFAULT_PATH, found = findExecutable(exec, path)): string | undefined {
  if (!found) return undefined;
  try {
    return realpathSync(found);
  } catch {
    return undefined;
  }
}

/** An --allow-exec/--deny-exec entry as a real path; a name without "/" is looked up on PATH. */
function canonicalEntry(entry: string): string {
  const dir = entry.endsWith("/");
  if (!dir && !entry.includes("/")) return resolveExecutable(entry) ?? entry;
  let real: string;
  try {
    real = realpathSync(resolve(entry));
  } catch {
    real = resolve(entry); // not there (yet): kept as written
  }
  return dir ? `${real.replace(/\/$/, "")}/` : real;
}

export function execPolicy(allow: readonly string[], deny: readonly string[]): ExecPolicy {
  return { allow: allow.map(canonicalEntry), deny: deny.map(canonicalEntry) };
}

const matches = (real: string, entry: string) => (entry.endsWith("/") ? real.startsWith(entry) : real === entry);

/**
 * Why `real` (a resolved executable, or undefined when it was not found)
 * may not run under `policy`, or undefined when it may. Pure.
 */
export function execRefusal(exec: string, real: string | undefined, policy: ExecPolicy): string | undefined {
  if (real === undefined) {
    return policy.allow.length ? `${exec} was not found, so it cannot be checked against --allow-exec` : undefined;
  }
  const shown = real === exec ? exec : `${exec} (${real})`;
  if (policy.deny.some((e) => matches(real, e))) return `${shown} is refused by --deny-exec`;
  if (policy.allow.length && !policy.allow.some((e) => matches(real, e))) return `${shown} is not allowed by --allow-exec`;
  return undefined;
}

/** Resolves and checks in one: the refusal, if any. `found`: findExecutable's answer, when the caller has it. */
export function checkExec(exec: string, policy: ExecPolicy, path = DEFAULT_PATH, found?: string): string | undefined {
  if (!policy.allow.length && !policy.deny.length) return undefined;
  return execRefusal(exec, resolveExecutable(exec, path, found ?? findExecutable(exec, path)), policy);
}
