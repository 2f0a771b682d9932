/**
 * What an attempt's adapter and storage hooks see of flue: an
 * AdapterContext per input or output, a StorageContext per transfer, and
 * the attempt's scratch dir. Made only for jobs that have inputs or outputs.
 */
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { PluginError, type AdapterContext, type StorageContext } from "../adapters/api.ts";
import type { RegisteredStorage } from "../adapters/registry.ts";
import { JOB_EVENT_TYPES, renderTemplate } from "../domain/index.ts";
import { resolveInside, type JobFiles } from "./workdir.ts";

/** An attempt as its hooks see it; built by the attempt, shared by every input and output. */
export interface StageContext {
  files: JobFiles;
  jobId: string;
  attempt: number;
  workdir: string;
  /** Directories besides the workdir that paths may point into (--allow-dir). */
  allowDirs: readonly string[];
  /** Template variables; hooks add each input's and output's under its name. */
  vars: Record<string, string>;
  /** Aborted when the job is stopped, or when attach hooks outlive the process by the kill grace. */
  signal: AbortSignal;
  emit: (type: string, fields?: Record<string, unknown>) => void;
  /** In a fleet: fetches a stored input this data dir lacks (see Executor.fetchInput). */
  fetchInput?: (jobId: string, name: string) => Promise<boolean>;
  scratch: Scratch;
}

const FLUE_EVENTS = new Set<string>(JOB_EVENT_TYPES);

/**
 * The attempt's scratch dir: outside the workdir (the process never sees
 * it), private to flue (0700), made at first use, removed after the attempt.
 */
export class Scratch {
  private made = false;
  private removed = false;
  constructor(readonly dir: string) {}

  path(fileName: string): string {
    if (fileName.includes("/") || fileName === "." || fileName === ".." || fileName === "") {
      throw new PluginError(`scratch file names are plain names, not ${JSON.stringify(fileName)}`, false);
    }
    // A hook that outlived its attempt does not get the dir made again, to be left behind.
    if (this.removed) throw new PluginError("the attempt is over; its scratch space is gone", false);
    if (!this.made) mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.made = true;
    return join(this.dir, fileName);
  }

  remove(): void {
    if (this.made) rmSync(this.dir, { recursive: true, force: true });
    this.made = false;
    this.removed = true;
  }
}

/** The context of input or output `name`'s hooks. */
export function adapterContext(sc: StageContext, name: string): AdapterContext {
  return {
    jobId: sc.jobId,
    attempt: sc.attempt,
    workdir: sc.workdir,
    name,
    vars: sc.vars,
    signal: sc.signal,
    resolve: (path) => {
      try {
        return resolveInside(sc.workdir, path, [sc.workdir, ...sc.allowDirs], `the path of ${name}`);
      } catch (e) {
        throw new PluginError((e as Error).message, false);
      }
    },
    render: (template) => {
      try {
        return renderTemplate(template, sc.vars);
      } catch (e) {
        throw new PluginError(`${name}: ${(e as Error).message}`, false);
      }
    },
    scratch: (fileName) => sc.scratch.path(fileName),
    emit: (type, fields = {}) => {
      if (FLUE_EVENTS.has(type)) throw new PluginError(`"${type}" is one of flue's own events; a plugin cannot emit it`, false);
      sc.emit(type, { ...fields, name });
    },
    message: (text, level = "info") => sc.emit("message", { text, level }),
  };
}

/** The context of one transfer through `storage`; its cache dir is made here, at first use. */
export function storageContext(sc: StageContext, storage: RegisteredStorage): StorageContext {
  const cacheDir = join(sc.files.root, "cache", storage.definition.schemes[0]);
  mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
  return {
    jobId: sc.jobId,
    signal: sc.signal,
    cacheDir,
    settings: storage.settings,
    message: (text, level = "info") => sc.emit("message", { text, level }),
  };
}
