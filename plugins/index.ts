/**
 * The built-in plugins, registered before any of --plugins: each one file
 * written only against flue/plugin, exactly as a user's plugin is. A module
 * may export `conformance` (see ConformanceFixture) for the shared suite.
 */
import type { ConformanceFixture, PluginDefinition } from "flue/plugin";
import * as append from "./append.ts";
import * as file from "./file.ts";
import * as fileStorage from "./file-storage.ts";
import * as http from "./http.ts";
import * as nats from "./nats.ts";
import * as pipe from "./pipe.ts";
import * as s3 from "./s3.ts";
import * as tcp from "./tcp.ts";

/** A built-in plugin module: its definition, and how the conformance suite exercises it. */
export interface BuiltinModule {
  default: PluginDefinition;
  conformance?: ConformanceFixture;
}

export const BUILTINS: Record<string, BuiltinModule> = {
  file,
  tcp,
  pipe,
  append,
  nats,
  http,
  "file-storage": fileStorage,
  s3,
};
