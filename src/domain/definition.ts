/**
 * Process definitions: parse → canonicalize → validate, collecting every
 * problem with its path, then resolve into what the executor needs.
 *
 * The stored form is canonical in spelling only (`args` becomes `argv`,
 * `input_params` becomes `input_parameters`, …): defaults are not written
 * into it, so a client reads back what it sent, as the seed registry did.
 */
import * as v from "valibot";
import {
  BUILTIN_VARIABLES,
  DefinitionSchema,
  IDENT,
  ParameterSchema,
  type Definition,
  type LimitsSpec,
  type ParameterSpec,
} from "./definition-schema.ts";
import type { FieldError } from "./errors.ts";
import { issuesToFields, join } from "./issues.ts";
import { checkParameterSpec } from "./parameters.ts";
import { sizeInBytes } from "./size.ts";
import { templateVariables } from "./template.ts";

export type { Definition } from "./definition-schema.ts";

export type Direction = "input" | "output";

/**
 * How one input or output reaches the process: its name (`${name}`), the
 * adapter type, and its parameters as that adapter's schema parsed them.
 */
export interface Binding {
  name: string;
  type: string;
  params: unknown;
}

/** What an AdapterBinder finds; `templates` are parameters that are `${...}` templates, with their field paths. */
export interface BoundAdapter {
  binding?: Binding;
  errors: FieldError[];
  templates?: { path: string; template: string }[];
}

/**
 * Validates one adapter entry's parameters against the adapter registered
 * for `type`. Injected by the service: the domain knows no plugins. `at` is
 * the entry's path (definition.input_adapters.1).
 */
export type AdapterBinder = (direction: Direction, type: string, params: unknown, at: string) => BoundAdapter;

/** The binder of a store opened without plugins (the CLI's): it knows no adapter. */
export const NO_ADAPTERS: AdapterBinder = (direction, type, _params, at) => ({
  errors: [{ path: join(at, `${direction}_type`), message: `unknown ${direction}_type "${type}"; no adapters are loaded` }],
});

const isObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === "object" && x !== null && !Array.isArray(x);

/** Maps one key's alternative spelling onto the canonical one. */
function rename(obj: Record<string, unknown>, from: string, to: string, at: string, errors: FieldError[]) {
  if (!(from in obj)) return;
  if (to in obj && !Bun.deepEquals(obj[to], obj[from])) {
    errors.push({ path: join(at, from), message: `give either ${to} or ${from}, not both` });
  } else {
    obj[to] = obj[from];
  }
  delete obj[from];
}

/**
 * Returns a canonical copy of a raw definition: the seed's alternative
 * spellings mapped, numbers in argv and environment written as strings,
 * `retries: N` written as `{count: N}`. Never mutates its input. Idempotent.
 */
export function canonicalize(raw: unknown, at = "definition"): { value: unknown; errors: FieldError[] } {
  const errors: FieldError[] = [];
  if (!isObject(raw)) return { value: raw, errors };
  const d: Record<string, unknown> = structuredClone(raw);
  rename(d, "args", "argv", at, errors);
  if (Array.isArray(d.argv)) d.argv = d.argv.map((a) => (typeof a === "number" && Number.isFinite(a) ? String(a) : a));
  if (isObject(d.environment)) {
    for (const [k, val] of Object.entries(d.environment)) {
      if (typeof val === "number" && Number.isFinite(val)) d.environment[k] = String(val);
    }
  }
  for (const dir of ["input", "output"] as const) {
    const single = d[`${dir}_adapter`];
    if (isObject(single)) rename(single, `${dir}_params`, `${dir}_parameters`, join(at, `${dir}_adapter`), errors);
    const list = d[`${dir}_adapters`];
    if (!Array.isArray(list)) continue;
    list.forEach((entry, i) => {
      if (isObject(entry)) rename(entry, `${dir}_params`, `${dir}_parameters`, join(at, `${dir}_adapters.${i}`), errors);
    });
  }
  if (typeof d.retries === "number") d.retries = { count: d.retries };
  return { value: d, errors };
}

/**
 * Keys that name an object's prototype: valibot's records drop them without
 * a word, so `{"environment": {"__proto__": ...}}` would vanish silently.
 */
function forbiddenKeys(value: unknown, at: string, depth = 0): FieldError[] {
  if (typeof value !== "object" || value === null || depth > 8) return [];
  const errors: FieldError[] = [];
  for (const key of Object.keys(value)) {
    const path = join(at, key);
    if (key === "__proto__" || key === "constructor" || key === "prototype") errors.push({ path, message: `"${key}" is not allowed as a name` });
    else errors.push(...forbiddenKeys((value as Record<string, unknown>)[key], path, depth + 1));
  }
  return errors;
}

/** What the executor needs of a definition, defaults filled. */
export interface ResolvedDefinition {
  exec: string;
  argv: string[];
  cwd: string | undefined;
  environment: Record<string, string>;
  application: string | undefined;
  processType: "single" | "service";
  timeout: number | null;
  inputs: Binding[];
  outputs: Binding[];
  parameters: Record<string, ParameterSpec>;
  retries: { count: number; backoff: number; factor: number };
  limits: Limits;
}

/** A definition's limits in bytes and seconds; an absent one is no limit. */
export interface Limits {
  memory?: number;
  cpuTime?: number;
  openFiles?: number;
  processes?: number;
  outputBytes?: number;
}

function resolveLimits(l: LimitsSpec | undefined): Limits {
  if (!l) return {};
  const out: Limits = {
    memory: sizeInBytes(l.memory),
    cpuTime: l.cpu_time,
    openFiles: l.open_files,
    processes: l.processes,
    outputBytes: sizeInBytes(l.output_bytes),
  };
  for (const k of Object.keys(out) as (keyof Limits)[]) if (out[k] === undefined) delete out[k];
  return out;
}

type AdapterEntry = { input_type?: string; output_type?: string; input_parameters?: unknown; output_parameters?: unknown };

/** A definition's adapter entries of one direction with their paths: the shorthand or the list, not both. */
function adapterEntries(d: Definition, dir: Direction, at: string, errors: FieldError[]): { entry: AdapterEntry; at: string }[] {
  const single = d[`${dir}_adapter`];
  const list = d[`${dir}_adapters`];
  if (single && list) errors.push({ path: join(at, `${dir}_adapters`), message: `give either ${dir}_adapter or ${dir}_adapters, not both` });
  if (single) return [{ entry: single, at: join(at, `${dir}_adapter`) }];
  return (list ?? []).map((entry, i) => ({ entry, at: join(at, `${dir}_adapters.${i}`) }));
}

/** Binds every entry of one direction; `complete` is false when one could not be bound. */
function bindAll(d: Definition, dir: Direction, at: string, bind: AdapterBinder, errors: FieldError[]) {
  const bound: { binding: Binding; at: string }[] = [];
  const templates: { path: string; template: string }[] = [];
  const entries = adapterEntries(d, dir, at, errors);
  for (const { entry, at: entryAt } of entries) {
    const type = dir === "input" ? entry.input_type : entry.output_type;
    const r = bind(dir, type ?? "", dir === "input" ? entry.input_parameters : entry.output_parameters, entryAt);
    errors.push(...r.errors);
    templates.push(...(r.templates ?? []));
    if (r.binding) bound.push({ binding: r.binding, at: entryAt });
  }
  return { bound, templates, complete: bound.length === entries.length };
}

/**
 * The top-level fields of a definition that failed its schema which are valid
 * on their own (parameters entry by entry), so the checks that follow still
 * run on them. `complete` is false when a parameter or an adapter was dropped:
 * the names templates may use are then not all known.
 */
function salvage(raw: Record<string, unknown>): { definition: Definition; complete: boolean } {
  const out: Record<string, unknown> = {};
  let complete = true;
  for (const [key, schema] of Object.entries(DefinitionSchema.entries) as [string, v.GenericSchema][]) {
    if (!Object.hasOwn(raw, key)) continue;
    const parsed = v.safeParse(schema, raw[key]);
    if (parsed.success) {
      out[key] = parsed.output;
      continue;
    }
    if (key === "parameters" || key.startsWith("input_adapter") || key.startsWith("output_adapter")) complete = false;
    if (key === "parameters" && isObject(raw.parameters)) {
      out.parameters = Object.fromEntries(Object.entries(raw.parameters).filter(([, spec]) => v.is(ParameterSchema, spec)));
    }
  }
  return { definition: { ...out, exec: typeof out.exec === "string" ? out.exec : "" } as Definition, complete };
}

/**
 * Validates a raw definition, its adapters' parameters through `bind`.
 * Returns the canonical definition and its resolved form, or every problem
 * found (`errors` non-empty).
 */
export function validateDefinition(
  raw: unknown,
  bind: AdapterBinder,
  at = "definition",
): { definition?: Definition; resolved?: ResolvedDefinition; errors: FieldError[] } {
  if (!isObject(raw)) return { errors: [{ path: at, message: "definition must be an object" }] };
  const canon = canonicalize(raw, at);
  const errors = [...canon.errors, ...forbiddenKeys(raw, at)];
  const parsed = v.safeParse(DefinitionSchema, canon.value, { abortEarly: false });
  if (!parsed.success) errors.push(...issuesToFields(parsed.issues, at));
  // Checks go on over what is valid, so one answer lists every problem.
  const salvaged = parsed.success ? undefined : salvage(canon.value as Record<string, unknown>);
  const d = parsed.success ? parsed.output : salvaged!.definition;
  if (d.exec.includes("${")) errors.push({ path: join(at, "exec"), message: "exec must be a fixed path; templates are not allowed in it" });

  const inputs = bindAll(d, "input", at, bind, errors);
  const outputs = bindAll(d, "output", at, bind, errors);
  // An unknown variable is only reported when every name is known; else it would echo another error.
  const namesKnown = (salvaged?.complete ?? true) && inputs.complete && outputs.complete;

  const known = new Map<string, string>();
  for (const b of BUILTIN_VARIABLES) known.set(b, "a built-in variable");
  for (const [dir, what] of [[inputs, "an input"], [outputs, "an output"]] as const) {
    for (const { binding: b, at: entryAt } of dir.bound) {
      if (known.has(b.name)) errors.push({ path: entryAt, message: `${what.slice(what.indexOf(" ") + 1)} "${b.name}" has the same name as ${known.get(b.name)}` });
      known.set(b.name, what);
    }
  }
  for (const [name, spec] of Object.entries(d.parameters ?? {})) {
    const p = join(at, `parameters.${name}`);
    if (!IDENT.test(name)) errors.push({ path: p, message: "a parameter name uses letters, digits and '_' and does not start with a digit" });
    else if (known.has(name)) errors.push({ path: p, message: `parameter "${name}" has the same name as ${known.get(name)}` });
    errors.push(...checkParameterSpec(spec, p));
    known.set(name, "a parameter");
  }

  const checkTemplate = (source: string, path: string, allowed: Map<string, string>) => {
    let names: string[];
    try {
      names = templateVariables(source);
    } catch (e) {
      errors.push({ path, message: (e as Error).message });
      return;
    }
    for (const n of names) {
      if (namesKnown && !allowed.has(n)) errors.push({ path, message: `unknown variable "\${${n}}"; known: ${[...allowed.keys()].join(", ")}` });
    }
  };
  d.argv?.forEach((arg, i) => checkTemplate(arg, join(at, `argv.${i}`), known));
  if (d.cwd !== undefined) checkTemplate(d.cwd, join(at, "cwd"), known);
  for (const [k, val] of Object.entries(d.environment ?? {})) checkTemplate(val, join(at, `environment.${k}`), known);
  // An adapter's path may use parameters and built-ins, never another input's or output's.
  const pathVars = new Map([...known].filter(([, what]) => what !== "an input" && what !== "an output"));
  for (const t of [...inputs.templates, ...outputs.templates]) checkTemplate(t.template, t.path, pathVars);

  if (errors.length) return { errors };
  return {
    errors,
    definition: d,
    resolved: {
      exec: d.exec,
      argv: d.argv ?? [],
      cwd: d.cwd,
      environment: d.environment ?? {},
      application: d.application,
      processType: d.process_type ?? "single",
      timeout: d.timeout ?? null,
      inputs: inputs.bound.map((b) => b.binding),
      outputs: outputs.bound.map((b) => b.binding),
      parameters: d.parameters ?? {},
      retries: { count: d.retries?.count ?? 0, backoff: d.retries?.backoff ?? 1, factor: d.retries?.factor ?? 2 },
      limits: resolveLimits(d.limits),
    },
  };
}

/**
 * Resolves a stored definition; throws if it is not valid any more (its
 * adapter's plugin is no longer loaded, say), with every problem.
 */
export function resolveDefinition(definition: Definition, bind: AdapterBinder): ResolvedDefinition {
  const r = validateDefinition(definition, bind);
  if (!r.resolved) throw new Error(`the definition is no longer valid: ${r.errors.map((e) => `${e.path}: ${e.message}`).join("; ")}`);
  return r.resolved;
}
