/** Users and API tokens. Passwords and tokens are stored hashed only. */
import { eq, sql } from "drizzle-orm";
import type { Db } from "./db.ts";
import { lazy } from "./lazy.ts";
import { tokens, users, type TokenRow, type UserRow } from "./schema.ts";

export type Role = UserRow["role"];

export class UsersRepo {
  private readonly byName;
  private readonly byTokenHash;

  constructor(private readonly db: Db) {
    this.byName = lazy(() =>
      db.select().from(users).where(eq(users.username, sql.placeholder("username"))).prepare(),
    );
    this.byTokenHash = lazy(() =>
      db
        .select({ token: tokens, user: users })
        .from(tokens)
        .innerJoin(users, eq(users.id, tokens.userId))
        .where(eq(tokens.tokenHash, sql.placeholder("hash")))
        .prepare(),
    );
  }

  count(): number {
    return this.db.select({ n: sql<number>`count(*)` }).from(users).get()?.n ?? 0;
  }

  find(username: string): UserRow | undefined {
    return this.byName().get({ username });
  }

  create(username: string, passwordHash: string, role: Role, seesAllJobs = false): UserRow {
    return this.db.insert(users).values({ username, passwordHash, role, seesAllJobs, createdAt: Date.now() / 1000 }).returning().get();
  }

  get(id: number): UserRow | undefined {
    return this.db.select().from(users).where(eq(users.id, id)).get();
  }

  list(limit: number, offset: number): { rows: UserRow[]; total: number } {
    return { rows: this.db.select().from(users).orderBy(users.id).limit(limit).offset(offset).all(), total: this.count() };
  }

  countAdmins(): number {
    return this.db.select({ n: sql<number>`count(*)` }).from(users).where(eq(users.role, "admin")).get()?.n ?? 0;
  }

  update(id: number, set: Partial<Pick<UserRow, "role" | "passwordHash" | "seesAllJobs">>): UserRow | undefined {
    return this.db.update(users).set(set).where(eq(users.id, id)).returning().get();
  }

  /** Removes a user; its tokens go with it (foreign key cascade). */
  delete(id: number): boolean {
    return this.db.delete(users).where(eq(users.id, id)).returning({ id: users.id }).all().length > 0;
  }

  createToken(userId: number, name: string, tokenHash: string, expiresAt: number | null, role: Role | null = null): TokenRow {
    return this.db
      .insert(tokens)
      .values({ userId, name, tokenHash, expiresAt, role, createdAt: Date.now() / 1000 })
      .returning()
      .get();
  }

  findToken(hash: string): { token: TokenRow; user: UserRow } | undefined {
    return this.byTokenHash().get({ hash });
  }

  touchToken(id: number): void {
    this.db.update(tokens).set({ lastUsedAt: Date.now() / 1000 }).where(eq(tokens.id, id)).run();
  }

  tokensOf(userId: number): TokenRow[] {
    return this.db.select().from(tokens).where(eq(tokens.userId, userId)).all();
  }

  /** Every user's tokens, with the username, for an admin. */
  allTokens(): (TokenRow & { username: string })[] {
    return this.db
      .select({ token: tokens, username: users.username })
      .from(tokens)
      .innerJoin(users, eq(users.id, tokens.userId))
      .orderBy(tokens.id)
      .all()
      .map((r) => ({ ...r.token, username: r.username }));
  }

  /** Deletes a token of `userId`, or of anyone when `userId` is undefined (an admin). */
  deleteToken(id: number, userId: number | undefined): boolean {
    if (userId === undefined) return this.db.delete(tokens).where(eq(tokens.id, id)).returning({ id: tokens.id }).all().length > 0;
    return this.db.delete(tokens).where(sql`${tokens.id} = ${id} AND ${tokens.userId} = ${userId}`).returning({ id: tokens.id }).all().length > 0;
  }
}
