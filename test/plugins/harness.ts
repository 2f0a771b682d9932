/**
 * Drives one plugin's hooks directly, as the executor will, against real
 * files and real processes: a context with a private workdir and scratch
 * dir, and a spawned process to attach to. For testing a plugin on its own;
 * the conformance suite also runs every plugin through flue itself.
 */
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join, relative, resolve } from "node:path";
import { PluginError, type AdapterContext, type RunningProcess, type StorageContext } from "../../src/adapters/api.ts";

export interface Harness {
  ctx: AdapterContext;
  /** Events the hooks emitted, and messages they added. */
  events: { type: string; fields: Record<string, unknown> }[];
  messages: { text: string; level: string }[];
  abort: AbortController;
  root: string;
  remove: () => void;
}

/** A context for input or output `name` of a pretend attempt, in a fresh temp dir. */
export function adapterContext(name: string, opts: { allowDirs?: string[] } = {}): Harness {
  const root = realpathSync(mkdtempSync(join(tmpdir(), "flue-plugin-")));
  const workdir = join(root, "work");
  const scratchDir = join(root, "scratch");
  mkdirSync(workdir, { mode: 0o700 });
  mkdirSync(scratchDir, { mode: 0o700 });
  const abort = new AbortController();
  const events: Harness["events"] = [];
  const messages: Harness["messages"] = [];
  const allowed = [workdir, ...(opts.allowDirs ?? [])];
  const ctx: AdapterContext = {
    jobId: "01harness000000000000000000",
    attempt: 1,
    workdir,
    name,
    vars: { job_id: "01harness000000000000000000", workdir, attempt: "1" },
    signal: abort.signal,
    resolve: (path) => {
      const full = resolve(workdir, path);
      if (!allowed.some((d) => !relative(d, full).startsWith("..") && !isAbsolute(relative(d, full)))) {
        throw new PluginError(`${path} is outside the job's workdir`, false);
      }
      return full;
    },
    render: (template) => template.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => ctx.vars[name] ?? ""),
    scratch: (fileName) => join(scratchDir, fileName),
    emit: (type, fields = {}) => void events.push({ type, fields }),
    message: (text, level = "info") => void messages.push({ text, level }),
  };
  return { ctx, events, messages, abort, root, remove: () => rmSync(root, { recursive: true, force: true }) };
}

/** A storage context with a fresh cache dir and the given settings. */
export function storageContext(settings: Record<string, unknown> = {}): { ctx: StorageContext; messages: string[]; remove: () => void } {
  const root = mkdtempSync(join(tmpdir(), "flue-storage-"));
  const messages: string[] = [];
  return {
    ctx: { jobId: "01harness000000000000000000", signal: new AbortController().signal, cacheDir: root, settings, message: (t) => void messages.push(t) },
    messages,
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** Spawns a real process (no shell unless the test asks for sh) in the workdir, as the executor would. */
export function spawnIn(cmd: string[], cwd: string, stdin?: string): { proc: Bun.Subprocess; running: RunningProcess } {
  const proc = Bun.spawn({ cmd, cwd, stdin: stdin ? Bun.file(stdin) : "ignore", stdout: "pipe", stderr: "pipe" });
  const ended = proc.exited.then(() => {});
  return { proc, running: { pid: proc.pid, ended } };
}
