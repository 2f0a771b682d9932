/**
 * The composition root: one store, one executor, the services over them.
 * `serve` (main.ts) and the tests build flue through here.
 */
import { mkdirSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { Auth, type AuthOptions } from "./auth/index.ts";
import type { Config } from "./config.ts";
import { newId } from "./domain/index.ts";
import { Executor } from "./executor/index.ts";
import { LocalQueue } from "./queue/index.ts";
import { DefinitionService, JobService, UserService } from "./service/index.ts";
import { lockDataDir, Store } from "./store/index.ts";
import { VERSION } from "./version.ts";

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
}

export class App {
  readonly store: Store;
  readonly auth: Auth;
  readonly executor: Executor;
  readonly definitions: DefinitionService;
  readonly jobs: JobService;
  readonly users: UserService;
  readonly instance: InstanceInfo;
  private readonly unlock: () => void;

  constructor(
    readonly config: Config,
    options: AppOptions = {},
  ) {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    this.unlock = lockDataDir(config.dataDir);
    try {
      this.store = Store.open(join(config.dataDir, "flue.db"));
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
    this.instance = { id, host: hostname(), version: VERSION, labels: [], startedAt: Date.now() / 1000 };
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
    });
    this.definitions = new DefinitionService(this.store, this.executor.execPolicy);
    this.jobs = new JobService(this.store, this.executor, id);
    this.users = new UserService(this.store, (password) => this.auth.hashPassword(password));
  }

  start(): void {
    this.executor.start();
  }

  async stop(graceMs: number): Promise<void> {
    await this.executor.shutdown(graceMs);
    this.close();
  }

  /** Writes what is pending, closes the store and gives up the data dir. Safe to call twice. */
  close(): void {
    this.store.close();
    this.unlock();
  }
}
