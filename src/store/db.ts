/**
 * Opens the SQLite store: WAL, foreign keys, embedded migrations. A data dir
 * written by a newer flue (more migrations than this binary knows) is refused
 * rather than run against a schema it does not understand.
 */
import { Database } from "bun:sqlite";
import { drizzle, type BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { migrations } from "./migrations.gen.ts";
import * as schema from "./schema.ts";

export type Db = BunSQLiteDatabase<typeof schema> & { $client: Database };

export function openDatabase(path: string): Db {
  const sqlite = new Database(path, { create: true, strict: true });
  sqlite.run("PRAGMA journal_mode = WAL");
  sqlite.run("PRAGMA synchronous = NORMAL");
  sqlite.run("PRAGMA foreign_keys = ON");
  sqlite.run("PRAGMA busy_timeout = 5000");
  // Up to 32 MiB of pages in memory (SQLite's default is 2 MiB), used only as
  // pages are read: the seq index of a million jobs is ~13 MiB, and a page deep
  // in the list walks it; from the default cache each walk re-reads it from disk.
  sqlite.run("PRAGMA cache_size = -32768");
  // Checkpoints happen off the main thread (checkpointer.ts), or when the last connection closes.
  sqlite.run("PRAGMA wal_autocheckpoint = 0");
  migrate(sqlite);
  return drizzle({ client: sqlite, schema }) as Db;
}

export class SchemaTooNewError extends Error {}

export function migrate(sqlite: Database): void {
  sqlite.run(`CREATE TABLE IF NOT EXISTS flue_migrations (idx INTEGER PRIMARY KEY, tag TEXT NOT NULL, applied_at REAL NOT NULL)`);
  const applied = sqlite.query<{ idx: number; tag: string }, []>("SELECT idx, tag FROM flue_migrations ORDER BY idx").all();
  const newest = applied.at(-1);
  if (newest && newest.idx >= migrations.length) {
    throw new SchemaTooNewError(
      `the data dir was written by a newer flue (schema ${newest.tag}); this flue knows up to ${migrations.at(-1)?.tag}. Upgrade flue or use another --data-dir.`,
    );
  }
  const done = new Set(applied.map((m) => m.idx));
  for (const m of migrations) {
    if (done.has(m.idx)) continue;
    sqlite.transaction(() => {
      for (const statement of m.statements) sqlite.run(statement);
      sqlite.query("INSERT INTO flue_migrations (idx, tag, applied_at) VALUES (?, ?, ?)").run(m.idx, m.tag, Date.now() / 1000);
    })();
  }
}
