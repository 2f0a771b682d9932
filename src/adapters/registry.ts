/**
 * The plugins this flue knows: adapters by type, storages by URI scheme,
 * each with where it came from ("built-in" or its file). Filled once at
 * start-up (built-ins, then --plugins), read by every registration and job.
 *
 * A plugin is checked as it is registered: a malformed one, or one whose
 * type or scheme is taken, is refused with a PluginLoadError naming the
 * problem, so flue never half-starts with a plugin it cannot use.
 */
import * as v from "valibot";
import { fieldPath as join, IDENT, issuesToFields, type AdapterBinder, type BoundAdapter, type Direction } from "../domain/index.ts";
import type { AdapterDefinition, PluginDefinition, StorageDefinition } from "./api.ts";

/** A plugin that cannot be registered; its message is one line for the operator. */
export class PluginLoadError extends Error {}

/** A registered plugin and where it came from. */
export interface Registered<T extends PluginDefinition> {
  definition: T;
  source: string;
}

/** A storage with its settings, parsed once from the environment. */
export interface RegisteredStorage extends Registered<StorageDefinition> {
  settings: Record<string, unknown>;
}

const isSchema = v.custom<v.GenericSchema>((x) => typeof x === "object" && x !== null && (x as { kind?: unknown }).kind === "schema", "must be a valibot schema");
const hook = v.optional(v.function("must be a function"));
const version = v.pipe(v.string("version must be a string"), v.minLength(1, "version must not be empty"));

const AdapterShape = v.object({
  type: v.pipe(v.string("type must be a string"), v.regex(/^[a-z][a-z0-9_-]{0,63}$/, "type must be lower-case letters, digits, '_' or '-'")),
  version,
  description: v.optional(v.string("description must be a string")),
  parameters: isSchema,
  bind: hook,
  input: v.optional(v.object({ stageIn: v.function("input.stageIn must be a function"), attach: hook })),
  output: v.optional(v.object({ prepare: hook, attach: hook, stageOut: v.function("output.stageOut must be a function") })),
  cleanup: hook,
});

const StorageShape = v.object({
  schemes: v.pipe(
    v.array(v.pipe(v.string(), v.regex(/^[a-z][a-z0-9+.-]*$/, "a scheme is lower-case, without the colon")), "schemes must be a list"),
    v.minLength(1, "schemes must name at least one scheme"),
  ),
  version,
  description: v.optional(v.string("description must be a string")),
  settings: v.optional(isSchema),
  check: hook,
  fetch: hook,
  put: hook,
});

/** The first problem of a parse, as "field: message". */
function firstProblem(issues: readonly v.BaseIssue<unknown>[]): string {
  const [f] = issuesToFields(issues, "");
  return f.path ? `${f.path}: ${f.message}` : f.message;
}

export class PluginRegistry {
  private readonly adapters = new Map<string, Registered<AdapterDefinition>>();
  private readonly storages = new Map<string, RegisteredStorage>();

  /** `env` holds storages' settings (FLUE_<SCHEME>_<KEY>). */
  constructor(private readonly env: Record<string, string | undefined> = {}) {}

  /** Checks one plugin definition and adds it; throws PluginLoadError on any problem. */
  register(definition: unknown, source: string): void {
    const kind = (definition as { kind?: unknown } | null)?.kind;
    if (kind === "adapter") return this.addAdapter(definition, source);
    if (kind === "storage") return this.addStorage(definition, source);
    throw new PluginLoadError(`unknown kind ${JSON.stringify(kind)}; a plugin is made with defineAdapter or defineStorage`);
  }

  private addAdapter(definition: unknown, source: string): void {
    const parsed = v.safeParse(AdapterShape, definition);
    if (!parsed.success) throw new PluginLoadError(`malformed adapter: ${firstProblem(parsed.issues)}`);
    const a = definition as AdapterDefinition;
    if (!a.input && !a.output) throw new PluginLoadError(`adapter "${a.type}" has neither input nor output hooks`);
    const taken = this.adapters.get(a.type);
    if (taken) throw new PluginLoadError(`adapter type "${a.type}" is registered already (by ${taken.source})`);
    this.adapters.set(a.type, { definition: a, source });
  }

  private addStorage(definition: unknown, source: string): void {
    const parsed = v.safeParse(StorageShape, definition);
    if (!parsed.success) throw new PluginLoadError(`malformed storage: ${firstProblem(parsed.issues)}`);
    const s = definition as StorageDefinition;
    if (!s.fetch && !s.put) throw new PluginLoadError(`storage ${s.schemes.join(", ")} has neither fetch nor put`);
    for (const scheme of s.schemes) {
      const taken = this.storages.get(scheme);
      if (taken) throw new PluginLoadError(`storage scheme "${scheme}" is registered already (by ${taken.source})`);
    }
    // One entry for all of its schemes: listed once, and its settings read once.
    const entry = { definition: s, source, settings: this.settingsOf(s) };
    for (const scheme of s.schemes) this.storages.set(scheme, entry);
  }

  /** A storage's settings from FLUE_<SCHEME>_<KEY> variables of each of its schemes, parsed with its schema. */
  private settingsOf(s: StorageDefinition): Record<string, unknown> {
    const raw: Record<string, string> = {};
    for (const scheme of s.schemes) {
      const prefix = `FLUE_${scheme.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_`;
      for (const [k, value] of Object.entries(this.env)) {
        if (k.startsWith(prefix) && value !== undefined) raw[k.slice(prefix.length).toLowerCase()] = value;
      }
    }
    if (!s.settings) return raw;
    const parsed = v.safeParse(s.settings, raw);
    if (!parsed.success) throw new PluginLoadError(`storage ${s.schemes.join(", ")}: settings: ${firstProblem(parsed.issues)}`);
    return parsed.output as Record<string, unknown>;
  }

  adapter(type: string): AdapterDefinition | undefined {
    return this.adapters.get(type)?.definition;
  }

  storage(scheme: string): RegisteredStorage | undefined {
    return this.storages.get(scheme);
  }

  /** Adapter types usable in a direction, sorted: what an unknown type's message lists. */
  adapterTypes(direction?: Direction): string[] {
    return [...this.adapters.values()].filter((a) => !direction || a.definition[direction]).map((a) => a.definition.type).sort();
  }

  /** URI schemes with a storage that can fetch (inputs) or put (outputs), sorted. */
  schemes(direction?: Direction): string[] {
    const can = (s: StorageDefinition) => !direction || Boolean(direction === "input" ? s.fetch : s.put);
    return [...this.storages].filter(([, s]) => can(s.definition)).map(([scheme]) => scheme).sort();
  }

  /** Every plugin once, in registration order. */
  all(): Registered<PluginDefinition>[] {
    return [...this.adapters.values(), ...new Set(this.storages.values())];
  }

  /** Validates an adapter entry's parameters with the registered adapter's schema and `bind`. */
  readonly bind: AdapterBinder = (direction, type, params, at) => {
    const paramsAt = join(at, `${direction}_parameters`);
    const adapter = this.adapter(type);
    if (!adapter?.[direction]) {
      const known = this.adapterTypes(direction);
      return { errors: [{ path: join(at, `${direction}_type`), message: `unknown ${direction}_type "${type}"; known: ${known.join(", ") || "none"}` }] };
    }
    const parsed = v.safeParse(adapter.parameters, params ?? {}, { abortEarly: false });
    if (!parsed.success) return { errors: issuesToFields(parsed.issues, paramsAt) };
    return bindParsed(adapter, direction, parsed.output, paramsAt);
  };
}

/** The name and problems `bind` finds in parsed parameters; a throwing `bind` is the plugin's failure, said as such. */
function bindParsed(adapter: AdapterDefinition, direction: Direction, params: unknown, paramsAt: string): BoundAdapter {
  let bound;
  try {
    bound = adapter.bind?.(params, direction) ?? {};
  } catch (e) {
    return { errors: [{ path: paramsAt, message: `the ${adapter.type} adapter could not check these parameters: ${(e as Error).message}` }] };
  }
  const errors = (bound.problems ?? []).map((p) => ({ path: join(paramsAt, p.path), message: p.message }));
  const given = (params as { name?: unknown } | null)?.name;
  const name = bound.name ?? (typeof given === "string" ? given : `${direction}_file`);
  if (!IDENT.test(name)) errors.push({ path: join(paramsAt, "name"), message: `"${name}" is not a name: use letters, digits and '_'` });
  if (errors.length) return { errors };
  const templates = (bound.templates ?? []).map((t) => ({ path: join(paramsAt, t.path), template: t.template }));
  return { errors, templates, binding: { name, type: adapter.type, params } };
}
