/**
 * The composition root: one store, one executor, the services over them.
 * `serve` (main.ts) and the tests build flue through here.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { Auth, type AuthOptions } from "./auth/index.ts";
import { FLEET_PROTOCOL, type Fleet, type InstanceRecord } from "./cluster/record.ts";
import { storageEnv, type Config } from "./config.ts";
import { newId } from "./domain/index.ts";
import { blockedAncestor, Executor, jobUser } from "./executor/index.ts";
import { LocalQueue } from "./queue/index.ts";
import { DefinitionService, JobService, UserService } from "./service/index.ts";
import { lockDataDir, Store } from "./store/index.ts";
import { VERSION } from "./version.ts";
import { builtinRegistry } from "./adapters/loader.ts";
import type { PluginRegistry } from "./adapters/registry.ts";

export interface InstanceInfo {
  id: string;
  host: string;
  version: string;
  labels: string[];
  startedAt: number;
}

/** What tests tune beyond the config: the sign-in throttle's window, for one. */
export interface AppOptions {
  auth?: AuthOptions;
  /** The loaded plugins (main.ts loads --plugins before building the app); the built-ins when not given. */
  plugins?: PluginRegistry;
}

/**
 * Jobs that run as another user reach their workdir by its absolute path,
 * so that user must be able to pass through every directory above the data
 * dir (the data dir itself flue opens to it). Said at start, not as a
 * failed job.
 */
function checkReachable(config: Config): void {
  const user = jobUser(config.runAs, 1);
  const blocked = user && blockedAncestor(config.dataDir, user);
  if (blocked) {
    throw new Error(`jobs run as ${config.runAs.label}, who cannot pass through ${blocked}; choose a --data-dir they can reach, or another --run-as`);
  }
}

/**
 * The store, its database readable by flue alone: the data dir is open to
 * jobs' users for traversal, and SQLite makes its -wal and -shm files with
 * the database's mode.
 */
function openPrivateStore(path: string, plugins: PluginRegistry): Store {
  closeSync(openSync(path, "a", 0o600));
  chmodSync(path, 0o600);
  const store = Store.open(path, plugins.bind);
  store.checkpointInBackground();
  for (const f of [`${path}-wal`, `${path}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
  return store;
}

export class App {
  readonly store: Store;
  readonly auth: Auth;
  readonly executor: Executor;
  readonly definitions: DefinitionService;
  readonly jobs: JobService;
  readonly users: UserService;
  readonly instance: InstanceInfo;
  readonly plugins: PluginRegistry;
  /** The fleet this instance joined (main.ts, with --nats); none: flue is alone. */
  fleet?: Fleet;
  private readonly unlock: () => void;

  constructor(
    readonly config: Config,
    options: AppOptions = {},
  ) {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    checkReachable(config);
    this.plugins = options.plugins ?? builtinRegistry(storageEnv(config, process.env));
    this.unlock = lockDataDir(config.dataDir);
    try {
      this.store = openPrivateStore(join(config.dataDir, "flue.db"), this.plugins);
    } catch (e) {
      this.unlock();
      throw e;
    }
    // The instance id survives restarts: recovery finds this instance's jobs by it.
    let id = this.store.getMeta("instance_id");
    if (!id) {
      id = newId();
      this.store.setMeta("instance_id", id);
    }
    this.store.jobs.self = id;
    this.instance = { id, host: hostname(), version: VERSION, labels: config.labels, startedAt: Date.now() / 1000 };
    this.auth = new Auth(this.store, options.auth);
    this.executor = new Executor(this.store, new LocalQueue(this.store.jobs, this.store.events), {
      instanceId: id,
      dataDir: config.dataDir,
      slots: config.slots,
      killGraceMs: config.killGraceMs,
      maxOutputBytes: config.maxOutputBytes,
      allowDirs: config.allowDirs,
      allowExec: config.allowExec,
      denyExec: config.denyExec,
      containment: config.containment,
      runAs: config.runAs,
      plugins: this.plugins,
    });
    this.definitions = new DefinitionService(this.store, this.plugins.bind, this.executor.execPolicy, () => this.fleet);
    this.jobs = new JobService(this.store, this.executor, id, this.plugins, () => this.fleet);
    this.users = new UserService(this.store, (password) => this.auth.hashPassword(password));
  }

  /** This instance as the fleet sees it, right now: what presence puts every heartbeat. */
  selfRecord(): Omit<InstanceRecord, "heartbeat_at" | "state"> {
    const i = this.instance;
    return {
      id: i.id,
      host: i.host,
      version: i.version,
      labels: i.labels,
      slots: this.executor.slots,
      slots_in_use: this.executor.busy,
      started_at: i.startedAt,
      protocol: FLEET_PROTOCOL,
      containment: this.executor.containmentKind,
      run_as: this.executor.runAs,
    };
  }

  /** Every instance of the fleet, this one first; alone, just this one. */
  members(): InstanceRecord[] {
    return this.fleet?.members() ?? [{ ...this.selfRecord(), heartbeat_at: Date.now() / 1000, state: "ACTIVE" }];
  }

  start(): void {
    this.executor.start();
  }

  /** Lets running jobs settle, then tells the fleet this instance STOPPED, then closes. */
  async stop(graceMs: number): Promise<void> {
    await this.executor.shutdown(graceMs);
    await this.fleet?.leave();
    await this.store.stopCheckpointer();
    this.close();
  }

  /** Writes what is pending, closes the store and gives up the data dir. Safe to call twice. */
  close(): void {
    this.store.close();
    this.unlock();
  }
}
