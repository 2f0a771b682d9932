/**
 * Flags for the user and token commands: `--flag value`, `--flag=value`,
 * and switches that take no value. Anything else the command line gets
 * wrong is a UsageError (exit 2) that names the flag.
 */

/** A message for the operator; `code` 2 means the command line was wrong, 1 that the command failed. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code: 1 | 2 = 1,
  ) {
    super(message);
  }
}

export const usage = (message: string) => new CliError(message, 2);

/** "value": the flag takes one; "switch": it is present or not. */
export type FlagKinds = Record<string, "value" | "switch">;

export interface Parsed {
  positional: string[];
  values: Map<string, string>;
  switches: Set<string>;
  help: boolean;
}

/** Every command also takes --data-dir and --help. */
const COMMON: FlagKinds = { "data-dir": "value" };

export function parseArgs(args: string[], kinds: FlagKinds): Parsed {
  const all = { ...COMMON, ...kinds };
  const parsed: Parsed = { positional: [], values: new Map(), switches: new Set(), help: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--help" || arg === "-h") {
      parsed.help = true;
      continue;
    }
    if (!arg.startsWith("--") || arg === "--") {
      if (arg.startsWith("-") && arg !== "-") throw usage(`unknown flag ${arg}`);
      parsed.positional.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const flag = arg.slice(2, eq < 0 ? undefined : eq);
    const kind = all[flag];
    if (!kind) throw usage(`unknown flag --${flag}`);
    if (kind === "switch") {
      if (eq >= 0) throw usage(`--${flag} takes no value`);
      parsed.switches.add(flag);
      continue;
    }
    const value = eq < 0 ? args[++i] : arg.slice(eq + 1);
    if (value === undefined || (eq < 0 && value.startsWith("--"))) throw usage(`--${flag} needs a value`);
    if (parsed.values.has(flag)) throw usage(`--${flag} given twice`);
    parsed.values.set(flag, value);
  }
  return parsed;
}

/** The positional arguments, exactly `names.length` of them. */
export function positionals(p: Parsed, ...names: string[]): string[] {
  if (p.positional.length < names.length) throw usage(`missing ${names[p.positional.length]}`);
  if (p.positional.length > names.length) throw usage(`unexpected argument "${p.positional[names.length]}"`);
  return p.positional;
}
