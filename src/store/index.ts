import { NO_ADAPTERS, type AdapterBinder } from "../domain/index.ts";
import { openDatabase, type Db } from "./db.ts";
import { AuditRepo } from "./audit-repo.ts";
import { DefinitionsRepo } from "./definitions-repo.ts";
import { EventLog } from "./event-log.ts";
import { JobsRepo } from "./jobs-repo.ts";
import { UsersRepo } from "./users-repo.ts";
import { SessionsRepo } from "./sessions-repo.ts";

export { SchemaTooNewError } from "./db.ts";
export type { OutboxMessage } from "./event-log.ts";
export { DataDirLockedError, lockDataDir } from "./lock.ts";
export type { EventListener, EventLog } from "./event-log.ts";
export type { JobMessage } from "./projection.ts";
export type { JobFilter, JobsRepo, QueuedJob } from "./jobs-repo.ts";
export type { Role, SharedToken, SharedUser, UserChange } from "./users-repo.ts";
export type { DefinitionRow, JobRow, TokenRow, UserRow, AuditRow, SessionRow } from "./schema.ts";
export type { AuditActor, AuditFilter, AuditRepo } from "./audit-repo.ts";
export type { Db };

/** How long after start-up the checkpointer starts (it checkpoints every 200 ms). */
const CHECKPOINTER_AFTER_MS = 200;
/**
 * The checkpointer's code: beside this file when run from source; in the
 * compiled binary, its own entrypoint (scripts/build.ts), named relative to src/.
 */
const CHECKPOINTER = import.meta.url.includes("/$bunfs/") ? "./store/checkpointer.ts" : new URL("./checkpointer.ts", import.meta.url).href;

/** The store: one SQLite database and the repositories over it. */
export class Store {
  readonly definitions: DefinitionsRepo;
  readonly jobs: JobsRepo;
  readonly users: UsersRepo;
  readonly events: EventLog;
  readonly audit: AuditRepo;
  readonly sessions: SessionsRepo;

  /** `bind` checks adapters' parameters (the plugin registry's); without it no adapter is known. */
  constructor(
    readonly db: Db,
    bind: AdapterBinder = NO_ADAPTERS,
  ) {
    this.definitions = new DefinitionsRepo(db, bind);
    this.jobs = new JobsRepo(db);
    this.users = new UsersRepo(db);
    this.events = new EventLog(db.$client);
    this.audit = new AuditRepo(db);
    this.sessions = new SessionsRepo(db);
  }

  static open(path: string, bind?: AdapterBinder): Store {
    return new Store(openDatabase(path), bind);
  }

  // Prepared statements, not the query builder: setMeta runs for every event a fleet
  // member applies, and the builder's first use alone costs ~5 ms of start-up.
  getMeta(key: string): string | undefined {
    return this.db.$client.query<{ value: string }, [string]>("SELECT value FROM meta WHERE key = ?").get(key)?.value;
  }

  setMeta(key: string, value: string): void {
    this.db.$client.query("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(key, value);
  }

  private closed = false;
  private checkpointer: Worker | undefined;
  private checkpointerDue: Timer | undefined;
  private stopped: Promise<void> | undefined;

  /** From now on the WAL is copied back on a worker thread (the server's store; see checkpointer.ts). */
  checkpointInBackground(): void {
    // A moment after start-up: making a worker holds this thread 4-8 ms, which the first
    // request need not wait for. Until then the WAL grows, for one checkpoint period.
    this.checkpointerDue = setTimeout(() => {
      this.checkpointerDue = undefined;
      if (this.closed || this.stopped) return;
      this.checkpointer = new Worker(CHECKPOINTER);
      this.checkpointer.postMessage({ path: this.db.$client.filename });
      this.checkpointer.unref();
    }, CHECKPOINTER_AFTER_MS);
    this.checkpointerDue.unref();
  }

  /**
   * Ends the checkpointer, waiting up to a second for it to close its
   * connection: the store's own close is then the last, and leaves no WAL.
   * Every caller waits for the same end.
   */
  stopCheckpointer(): Promise<void> {
    clearTimeout(this.checkpointerDue);
    const worker = this.checkpointer;
    if (!worker) return (this.stopped ??= Promise.resolve());
    this.stopped ??= new Promise<void>((resolve) => {
      const done = setTimeout(resolve, 1000);
      worker.onmessage = () => (clearTimeout(done), resolve());
      worker.postMessage("stop");
    }).then(() => worker.terminate());
    return this.stopped;
  }

  /** Writes what is pending and closes the database; a second call does nothing. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.checkpointerDue);
    this.checkpointer?.terminate();
    this.events.flush();
    this.db.$client.close();
  }
}
