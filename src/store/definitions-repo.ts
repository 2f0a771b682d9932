/** Definitions and their versions. A PUT makes a new version; every version stays readable. */
import { and, count, desc, eq, sql } from "drizzle-orm";
import { resolveDefinition, type AdapterBinder, type Definition, type ResolvedDefinition } from "../domain/index.ts";
import type { Db } from "./db.ts";
import { lazy } from "./lazy.ts";
import { definitions, definitionVersions, type DefinitionRow } from "./schema.ts";

const now = () => Date.now() / 1000;
type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
/** Definitions whose rows stay in memory; past it the cache starts over. */
const ROWS_CACHED = 10_000;

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

export class DefinitionsRepo {
  private readonly byId;
  private readonly byName;
  private readonly version;
  private readonly resolvedCache = new Map<string, ResolvedDefinition | Error>();
  /**
   * Rows by id and by name: every submission looks its definition up, and a
   * read of its own costs a WAL lock round trip (~5 µs here). Only this repo
   * writes definitions (the fleet's copies arrive through `applyShared`), and
   * each write empties it. Rows are frozen: one caller cannot change another's.
   */
  private readonly rows = new Map<string, DefinitionRow>();

  /** `bind` checks adapters' parameters: a version whose adapter is gone no longer resolves. */
  constructor(
    private readonly db: Db,
    private readonly bind: AdapterBinder,
  ) {
    this.byId = lazy(() =>
      db.select().from(definitions).where(eq(definitions.id, sql.placeholder("id"))).prepare(),
    );
    this.byName = lazy(() =>
      db.select().from(definitions).where(eq(definitions.name, sql.placeholder("name"))).prepare(),
    );
    this.version = lazy(() =>
      db
        .select()
        .from(definitionVersions)
        .where(and(eq(definitionVersions.definitionId, sql.placeholder("id")), eq(definitionVersions.version, sql.placeholder("version"))))
        .prepare(),
    );
  }

  list(limit: number, offset: number, search?: string): { rows: DefinitionRow[]; total: number } {
    const where = search ? sql`(${definitions.name} LIKE ${`%${search}%`} OR ${definitions.definition} LIKE ${`%${search}%`})` : undefined;
    const rows = this.db.select().from(definitions).where(where).orderBy(definitions.id).limit(limit).offset(offset).all();
    const total = this.db.select({ n: count() }).from(definitions).where(where).get()?.n ?? 0;
    return { rows, total };
  }

  /** By numeric id, or by name. */
  find(ref: string | number): DefinitionRow | undefined {
    const id = typeof ref === "number" || /^\d+$/.test(ref) ? Number(ref) : undefined;
    // Apart by prefix: a name that looks like an id's key must not find that id's row.
    const key = id === undefined ? `name ${ref}` : `id ${id}`;
    let row = this.rows.get(key);
    if (row) return row;
    row = id === undefined ? this.byName().get({ name: String(ref) }) : this.byId().get({ id });
    if (!row) return undefined;
    if (this.rows.size >= ROWS_CACHED) this.rows.clear();
    this.rows.set(key, deepFreeze(row));
    return row;
  }

  /** A write in a transaction; whatever it changed, no cached row outlives it. */
  private write<T>(change: (tx: Tx) => T): T {
    try {
      return this.db.transaction(change);
    } finally {
      this.rows.clear();
    }
  }

  nameTaken(name: string, exceptId?: number): boolean {
    const row = this.byName().get({ name });
    return row !== undefined && row.id !== exceptId;
  }

  /** `id`: one the fleet allocated; none: the next of this database. */
  create(definition: Definition, owner: string | null, id?: number): DefinitionRow {
    return this.write((tx) => {
      const t = now();
      const row = tx
        .insert(definitions)
        .values({ id, name: definition.name ?? null, version: 1, definition, owner, createdAt: t, updatedAt: t })
        .returning()
        .get();
      tx.insert(definitionVersions).values({ definitionId: row.id, version: 1, definition, createdAt: t }).run();
      return row;
    });
  }

  update(id: number, definition: Definition): DefinitionRow {
    return this.write((tx) => {
      const t = now();
      const row = tx
        .update(definitions)
        .set({ name: definition.name ?? null, version: sql`${definitions.version} + 1`, definition, updatedAt: t })
        .where(eq(definitions.id, id))
        .returning()
        .get();
      tx.insert(definitionVersions).values({ definitionId: id, version: row.version, definition, createdAt: t }).run();
      return row;
    });
  }

  delete(id: number): boolean {
    return this.write((tx) => tx.delete(definitions).where(eq(definitions.id, id)).returning({ id: definitions.id }).all().length > 0);
  }

  /** The highest id this database holds (0: none). */
  maxId(): number {
    return this.db.select({ n: sql<number | null>`max(${definitions.id})` }).from(definitions).get()?.n ?? 0;
  }

  /**
   * A definition as another instance of the fleet wrote it: taken when it is
   * new here or a newer version than the one here; its version kept too.
   */
  applyShared(row: DefinitionRow): void {
    this.write((tx) => {
      this.applyVersionIn(tx, row.id, row.version, row.definition as Definition, row.updatedAt);
      tx.insert(definitions)
        .values(row)
        .onConflictDoUpdate({
          target: definitions.id,
          set: { name: row.name, version: row.version, definition: row.definition, updatedAt: row.updatedAt },
          setWhere: sql`${definitions.version} <= ${row.version}`,
        })
        .run();
    });
  }

  /** One version as another instance wrote it; versions never change, so one already here stays. */
  applyVersion(id: number, version: number, definition: Definition, createdAt: number): void {
    this.applyVersionIn(this.db, id, version, definition, createdAt);
  }

  private applyVersionIn(db: Pick<Db, "insert">, id: number, version: number, definition: Definition, createdAt: number): void {
    db.insert(definitionVersions).values({ definitionId: id, version, definition, createdAt }).onConflictDoNothing().run();
  }

  /** A version's resolved form, or undefined when it does not exist or no longer validates. */
  resolved(id: number, version: number): ResolvedDefinition | undefined {
    const r = this.resolveOnce(id, version);
    return r instanceof Error ? undefined : r;
  }

  /** A version's resolved form; throws an Error saying why there is none (gone, or no longer valid). */
  resolve(id: number, version: number): ResolvedDefinition {
    const r = this.resolveOnce(id, version) ?? new Error(`definition ${id} version ${version} no longer exists`);
    if (r instanceof Error) throw r;
    return r;
  }

  /** Versions never change and plugins load only at start, so each version is resolved once, failure too. */
  private resolveOnce(id: number, version: number): ResolvedDefinition | Error | undefined {
    const key = `${id}@${version}`;
    let hit = this.resolvedCache.get(key);
    if (!hit) {
      const raw = this.getVersion(id, version);
      if (!raw) return undefined;
      try {
        hit = resolveDefinition(raw, this.bind);
      } catch (e) {
        hit = new Error(`definition ${id} version ${version}: ${(e as Error).message}`);
      }
      this.resolvedCache.set(key, hit);
    }
    return hit;
  }

  getVersion(id: number, version: number): Definition | undefined {
    return this.version().get({ id, version })?.definition as Definition | undefined;
  }

  versions(id: number) {
    return this.db
      .select()
      .from(definitionVersions)
      .where(eq(definitionVersions.definitionId, id))
      .orderBy(desc(definitionVersions.version))
      .all();
  }
}
