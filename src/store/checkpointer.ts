/**
 * The WAL checkpointer, a worker thread with its own connection. SQLite's
 * automatic checkpoint runs inside the commit that crosses its threshold,
 * on flue's main thread, and with `synchronous = NORMAL` it syncs the
 * database file: a stall of several milliseconds that every request waiting
 * on that commit shares (it was most of submit p99 at 50 clients). Here a
 * PASSIVE checkpoint copies pages back beside the writers instead, never
 * waiting for them. The main connection turns the automatic one off.
 *
 * Messages in: `{ path }` to start, `"stop"` to close the connection and end.
 */
import { Database } from "bun:sqlite";

declare const self: Worker;

/** How often the WAL is copied back; it stays a few MB at the busiest. */
const EVERY_MS = 200;

let db: Database | undefined;
let timer: Timer | undefined;

self.onmessage = (m: MessageEvent<{ path: string } | "stop">) => {
  if (m.data === "stop") {
    clearInterval(timer);
    db?.close();
    db = undefined;
    self.postMessage("stopped");
    return;
  }
  db = new Database(m.data.path);
  db.run("PRAGMA busy_timeout = 1000");
  timer = setInterval(() => {
    try {
      db?.run("PRAGMA wal_checkpoint(PASSIVE)");
    } catch {
      // Busy or gone: the next tick tries again; closing the store checkpoints what is left.
    }
  }, EVERY_MS);
};
