/**
 * Opens the SQLite store: WAL, foreign keys, embedded migrations. A data dir
 * written by a newer flue (more migrations than this binary knows) is refused
 * rather than run against a schema it does not understand.
 */
import { Database } from "bun:sqlite";
import { drizzle, type BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { existsSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { emptyDatabase } from "./empty-db.ts";
import { migrations } from "./migrations.gen.ts";
import * as schema from "./schema.ts";

export type Db = BunSQLiteDatabase<typeof schema> & { $client: Database };

export function openDatabase(path: string): Db {
  if (emptyDatabase && path !== ":memory:") placeEmpty(path, emptyDatabase);
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

/**
 * Puts the build's empty database at `path` when nothing is in it yet: no
 * file or an empty one, and no WAL, which SQLite would apply to whatever file
 * it finds. Written beside it and renamed into place, so a crash leaves no
 * half a database under the name. The data dir's lock keeps a second flue
 * from opening it meanwhile. What migrate() makes from nothing is the same.
 */
function placeEmpty(path: string, bytes: Uint8Array): void {
  if ((statSync(path, { throwIfNoEntry: false })?.size ?? 0) > 0 || existsSync(`${path}-wal`)) return;
  const temp = `${path}.new-${process.pid}`;
  try {
    writeFileSync(temp, bytes, { mode: 0o600 });
    renameSync(temp, path);
  } catch {
    // The directory refuses: SQLite's own open below says what is wrong.
    try {
      unlinkSync(temp);
    } catch {}
  }
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
