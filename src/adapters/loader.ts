/**
 * Filling the registry: the built-ins, then every .ts/.js file of
 * `--plugins DIR` (not recursive, sorted by name). Any problem with a file
 * is a PluginLoadError naming it: flue refuses to start rather than run
 * without a plugin its definitions may need.
 *
 * A plugin imports `flue/plugin` and `valibot`. Run from source, Bun finds
 * them from the plugin's own directory only by chance; in the compiled
 * binary not at all. So both are given as the host's own modules: the
 * plugin's schemas are then the same valibot flue parses with.
 */
import { readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import * as valibot from "valibot";
import { BUILTINS } from "../../plugins/index.ts";
import * as api from "./api.ts";
import { PluginLoadError, PluginRegistry } from "./registry.ts";

let hostModulesGiven = false;

/** Makes `flue/plugin` and `valibot` resolve to flue's own copies for every later import. */
function giveHostModules(): void {
  if (hostModulesGiven) return;
  hostModulesGiven = true;
  Bun.plugin({
    name: "flue host modules",
    setup(b) {
      b.module("flue/plugin", () => ({ exports: api, loader: "object" }));
      b.module("valibot", () => ({ exports: valibot, loader: "object" }));
    },
  });
}

/** A registry of the built-in plugins alone: what tests and a flue without --plugins use. */
export function builtinRegistry(env: Record<string, string | undefined> = {}): PluginRegistry {
  const registry = new PluginRegistry(env);
  for (const [name, module] of Object.entries(BUILTINS)) {
    try {
      registry.register(module.default, "built-in");
    } catch (e) {
      throw new PluginLoadError(`built-in plugin ${name}: ${(e as Error).message}`);
    }
  }
  return registry;
}

/** The first line of an import's error: a syntax error's position, a missing module's name. */
const firstLine = (e: unknown) => String((e as Error)?.message ?? e).split("\n")[0];

/** Imports one plugin file and registers every plugin definition it exports. */
async function loadFile(path: string, registry: PluginRegistry): Promise<void> {
  let module: Record<string, unknown>;
  try {
    module = await import(path);
  } catch (e) {
    throw new PluginLoadError(`${path}: cannot import: ${firstLine(e)}`);
  }
  const definitions = Object.values(module).filter((x) => typeof x === "object" && x !== null && "kind" in x);
  if (definitions.length === 0) throw new PluginLoadError(`${path}: exports no plugin (made with defineAdapter or defineStorage)`);
  for (const d of new Set(definitions)) {
    try {
      registry.register(d, path);
    } catch (e) {
      throw new PluginLoadError(`${path}: ${(e as Error).message}`);
    }
  }
}

/** The built-ins and, with `dir`, every plugin file in it; throws PluginLoadError naming the first bad file. */
export async function loadPlugins(dir: string | undefined, env: Record<string, string | undefined>): Promise<PluginRegistry> {
  const registry = builtinRegistry(env);
  if (!dir) return registry;
  let names: string[];
  try {
    names = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isFile() && /\.(ts|js)$/.test(e.name))
      .map((e) => e.name)
      .sort();
  } catch (e) {
    throw new PluginLoadError(`--plugins ${dir}: ${firstLine(e)}`);
  }
  giveHostModules();
  for (const name of names) await loadFile(resolve(join(dir, name)), registry);
  return registry;
}
