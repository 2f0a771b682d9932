/**
 * Definition validation as flue does it, with only the built-in `file`
 * adapter registered: the domain's unit tests check its messages exactly
 * ("known: file"), whatever other plugins flue later ships.
 */
import fileAdapter from "../../plugins/file.ts";
import { PluginRegistry } from "../../src/adapters/registry.ts";
import { resolveDefinition as resolveWith, validateDefinition as validateWith, type Definition } from "../../src/domain/definition.ts";

const registry = new PluginRegistry();
registry.register(fileAdapter, "built-in");

/** The file adapter's binder. */
export const fileBinder = registry.bind;

/** validateDefinition with the file adapter alone. */
export const validateDefinition = (raw: unknown, at?: string) => validateWith(raw, fileBinder, at);

/** resolveDefinition with the file adapter alone. */
export const resolveDefinition = (d: Definition) => resolveWith(d, fileBinder);
