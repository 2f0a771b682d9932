/**
 * The loaded plugins as people and clients see them (GET /api/plugins/, the
 * Plugins page): kind, type or schemes, version, where each came from, and
 * its parameters or settings as JSON Schema. Converted once: plugins load
 * only at start.
 */
import { toJsonSchema } from "@valibot/to-json-schema";
import type * as v from "valibot";
import type { PluginDefinition } from "./api.ts";
import type { PluginRegistry } from "./registry.ts";

export interface PluginInfo {
  kind: "adapter" | "storage";
  type?: string;
  schemes?: string[];
  version: string;
  description: string;
  source: string;
  /** An adapter's: "input", "output" or both. */
  directions?: string[];
  parameters?: object;
  settings?: object;
}

/** A schema as JSON Schema; checks it cannot say (v.check) are left out rather than refused. */
const jsonSchema = (schema: v.GenericSchema | undefined): object =>
  schema ? toJsonSchema(schema, { errorMode: "ignore" }) : { type: "object", properties: {} };

function describe(d: PluginDefinition, source: string): PluginInfo {
  const common = { version: d.version, description: d.description ?? "", source };
  if (d.kind === "storage") return { kind: "storage", schemes: d.schemes, ...common, settings: jsonSchema(d.settings) };
  const directions = (["input", "output"] as const).filter((dir) => d[dir]);
  return { kind: "adapter", type: d.type, ...common, directions, parameters: jsonSchema(d.parameters) };
}

const described = new WeakMap<PluginRegistry, PluginInfo[]>();

/** Every loaded plugin, adapters then storages, each as PluginInfo. */
export function describePlugins(registry: PluginRegistry): PluginInfo[] {
  let infos = described.get(registry);
  if (!infos) {
    infos = registry.all().map((r) => describe(r.definition, r.source));
    described.set(registry, infos);
  }
  return infos;
}
