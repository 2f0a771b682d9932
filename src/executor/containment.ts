/**
 * What holds a job's processes, so that stopping a job stops all of them.
 *
 * With cgroup v2 each running attempt has a cgroup of its own (a cell),
 * under `<cgroup2 mount><flue's cgroup>/flue-<instance id>/`. A child is
 * born inside it (Bun.spawn's `cgroup`: clone3 with CLONE_INTO_CGROUP), so
 * no process of the job ever runs outside it, and flue itself never moves:
 * moving a process of a dozen threads between cgroups costs a cross-CPU
 * call per thread, which on a virtual machine was ~300 µs a job.
 * `cgroup.kill` stops every process in a cell, daemons that called setsid
 * included. A cell that is empty again goes back to a pool for the next
 * attempt: making and removing a cgroup costs ~80 µs of flue's CPU a job,
 * and cgroup2 cannot rename one, so cells are named by number, not by job.
 *
 * Where the host gives no writable cgroup2, the process group is all there
 * is (a setsid'd daemon escapes it); recovery's /proc scan covers the rest.
 */
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export type ContainmentKind = "cgroup" | "process-group";

/** What holds one attempt's processes. */
export interface Cell {
  /**
   * Whether the cell holds every process of the attempt, so that `destroy`
   * leaves none (a cgroup): the process group needs no SIGKILL of its own then.
   */
  readonly holdsAll: boolean;
  /** Kills every process in the cell at once; the group's SIGKILL is the caller's. */
  kill(): void;
  /**
   * Kills what is left and waits (bounded) until the cell is empty; then it
   * may hold the next attempt. True when no process of the attempt is left
   * anywhere, so nothing still holds its files open (a process group alone
   * cannot say that: a daemon may have left it).
   */
  destroy(): Promise<boolean>;
}

export interface Containment {
  readonly kind: ContainmentKind;
  /** Why cgroups are not used, when they are not. */
  readonly reason?: string;
  /** Runs `spawn` so that the process it starts, and all its descendants, are in a cell of their own: `spawn` passes the cgroup it is given to Bun.spawn. */
  spawnIn<T>(spawn: (cgroup: string | undefined) => T): { value: T; cell: Cell };
  /** Kills and removes cells an earlier run of this instance left; returns their names. */
  recover(): string[];
  /** Removes flue's own cgroup directory (its cells must be gone). */
  close(): void;
}

const noCell: Cell = { holdsAll: false, kill() {}, destroy: async () => false };

export const processGroupOnly = (reason?: string): Containment => ({
  kind: "process-group",
  reason,
  spawnIn: (spawn) => ({ value: spawn(undefined), cell: noCell }),
  recover: () => [],
  close() {},
});

/** The cgroup2 mount point and the mount's root, from /proc/self/mountinfo. */
export function cgroup2Mount(mountinfo: string): { mount: string; root: string } | undefined {
  for (const line of mountinfo.split("\n")) {
    const [pre, post] = line.split(" - ");
    if (!post?.startsWith("cgroup2 ")) continue;
    const f = pre.split(" ");
    return { root: unescape(f[3]), mount: unescape(f[4]) };
  }
  return undefined;
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));

/** flue's own cgroup v2 path ("0::/path" in /proc/self/cgroup). */
export function homeCgroup(procCgroup: string): string | undefined {
  return /^0::(\/.*)$/m.exec(procCgroup)?.[1];
}

/** How long a killed cell may take to empty before flue gives up waiting for it. */
const EMPTY_WAIT_MS = 2000;

class CgroupCell implements Cell {
  readonly holdsAll = true;
  /** Whether cgroup.kill was written: such a cell is never born into again (see `emptied`). */
  private killed = false;

  constructor(
    private readonly dir: string,
    private readonly isEmpty: (dir: string) => boolean,
    private readonly emptied: (dir: string, killed: boolean) => void,
  ) {}

  kill(): void {
    this.killed = true;
    try {
      writeFileSync(join(this.dir, "cgroup.kill"), "1");
    } catch {}
  }

  async destroy(): Promise<boolean> {
    // Mostly the job left nothing behind and the cell is empty at once.
    if (this.isEmpty(this.dir)) {
      this.emptied(this.dir, this.killed);
      return true;
    }
    const deadline = performance.now() + EMPTY_WAIT_MS;
    this.kill();
    for (let wait = 1; !this.isEmpty(this.dir); wait = Math.min(wait * 2, 50)) {
      if (performance.now() > deadline) return false; // not reused: left for shutdown or recovery
      await Bun.sleep(wait);
    }
    this.emptied(this.dir, true);
    return true;
  }
}

const eventsBuffer = Buffer.alloc(256);

class Cgroups implements Containment {
  /** Why cgroups stopped working after start-up; from then on, process groups. */
  reason: string | undefined;
  /** Empty cells, ready for the next attempt. */
  private readonly pool: string[] = [];
  private made = 0;
  /** Each cell's cgroup.events, open as long as the cell is: a look is one pread, not four calls. */
  private readonly events = new Map<string, number>();

  constructor(private readonly dir: string) {}

  /** Whether a cell holds no process, from its `populated` flag (a cell that is gone is not reused). */
  private readonly isEmpty = (cell: string): boolean => {
    try {
      let fd = this.events.get(cell);
      if (fd === undefined) this.events.set(cell, (fd = openSync(join(cell, "cgroup.events"), "r")));
      const n = readSync(fd, eventsBuffer, 0, eventsBuffer.length, 0);
      return eventsBuffer.toString("latin1", 0, n).includes("populated 0");
    } catch {
      return false;
    }
  };

  private forget(cell: string): void {
    const fd = this.events.get(cell);
    if (fd === undefined) return;
    this.events.delete(cell);
    try {
      closeSync(fd);
    } catch {}
  }

  /** Removes a cell (see tryRmdir), its cgroup.events closed first. */
  private remove(cell: string): boolean {
    this.forget(cell);
    return tryRmdir(cell);
  }

  get kind(): ContainmentKind {
    return this.reason === undefined ? "cgroup" : "process-group";
  }

  private giveUp(why: unknown): void {
    const err = why as NodeJS.ErrnoException;
    this.reason = `cgroups stopped working: ${err.code ?? err.message}`;
    console.error(`flue: ${this.reason}; jobs run in process groups from now on`);
  }

  spawnIn<T>(spawn: (cgroup: string | undefined) => T): { value: T; cell: Cell } {
    if (this.reason !== undefined) return { value: spawn(undefined), cell: noCell };
    const pooled = this.pool.pop();
    const cell = pooled ?? join(this.dir, `cell-${++this.made}`);
    try {
      if (!pooled) mkdirOnce(cell);
    } catch (e) {
      // Never a reason to fail a job: it runs in its process group instead.
      this.giveUp(e);
      return { value: spawn(undefined), cell: noCell };
    }
    try {
      return { value: spawn(cell), cell: new CgroupCell(cell, this.isEmpty, this.emptied) };
    } catch (e) {
      // For the job's own reasons (its executable), a moment's shortage, or because the cell
      // cannot be joined. Not this cell again; a new one, and if that fails, none: a spawn that
      // fails then fails the job, one that works means cgroups no longer do.
      this.remove(cell);
      const fresh = join(this.dir, `cell-${++this.made}`);
      try {
        mkdirOnce(fresh);
        return { value: spawn(fresh), cell: new CgroupCell(fresh, this.isEmpty, this.emptied) };
      } catch {
        this.remove(fresh);
      }
      const value = spawn(undefined);
      this.giveUp(e);
      return { value, cell: noCell };
    }
  }

  /**
   * An empty cell goes back to the pool, unless it was killed: then it is
   * removed. On this kernel (6.18) a process born into a cgroup that once
   * had cgroup.kill written is killed at birth (the fork compares the kill
   * count of flue's own cgroup with the cell's), while one moved in lives.
   */
  private readonly emptied = (cell: string, killed = false) => {
    if (killed || this.reason !== undefined) this.remove(cell);
    else this.pool.push(cell);
  };

  recover(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch {
      return []; // closed already
    }
    for (const cell of [...this.events.keys()]) this.forget(cell);
    for (const name of names) removeSync(join(this.dir, name));
    this.pool.length = 0;
    return names;
  }

  close(): void {
    this.recover();
    try {
      rmdirSync(this.dir);
    } catch {}
  }
}

function mkdirOnce(dir: string): void {
  try {
    mkdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
}

/** Removes an empty cell; false while it still holds a process. */
function tryRmdir(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENOENT";
  }
}

/** Kills a cell and removes it, waiting for it synchronously (start-up and shutdown only). */
function removeSync(dir: string): void {
  const deadline = performance.now() + EMPTY_WAIT_MS;
  try {
    writeFileSync(join(dir, "cgroup.kill"), "1");
  } catch {}
  while (!tryRmdir(dir) && performance.now() < deadline) Bun.sleepSync(2);
}

/**
 * Cgroups when the host lets flue make and use them, else process groups.
 * Every step is tried once here, so a host that refuses is found out at
 * start-up rather than at a job's spawn.
 */
export function openContainment(instanceId: string, want: "auto" | "process-group" = "auto"): Containment {
  if (want === "process-group") return processGroupOnly("disabled by --containment");
  try {
    const m = cgroup2Mount(readFileSync("/proc/self/mountinfo", "utf8"));
    if (!m) return processGroupOnly("no cgroup2 mount");
    const own = homeCgroup(readFileSync("/proc/self/cgroup", "utf8"));
    if (own === undefined) return processGroupOnly("flue is in no cgroup v2");
    const rel = m.root === "/" ? own : own.startsWith(m.root) ? own.slice(m.root.length) : undefined;
    if (rel === undefined) return processGroupOnly("flue's cgroup is outside the cgroup2 mount");
    const home = join(m.mount, rel);
    const dir = join(home, `flue-${instanceId}`);
    mkdirOnce(dir);
    // A trial cell: making it, cgroup.kill and removing it must work. Being born in one is
    // tried at the first spawn; a host that refuses it then gets process groups.
    const trial = join(dir, `trial-${process.pid}`);
    mkdirOnce(trial);
    writeFileSync(join(trial, "cgroup.kill"), "1");
    rmdirSync(trial);
    return new Cgroups(dir);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return processGroupOnly(`cgroups unavailable: ${err.code ?? err.message}`);
  }
}
