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

  create(username: string, passwordHash: string, role: Role): UserRow {
    return this.db.insert(users).values({ username, passwordHash, role, createdAt: Date.now() / 1000 }).returning().get();
  }

  createToken(userId: number, name: string, tokenHash: string, expiresAt: number | null): TokenRow {
    return this.db
      .insert(tokens)
      .values({ userId, name, tokenHash, expiresAt, createdAt: Date.now() / 1000 })
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

  deleteToken(id: number, userId: number): boolean {
    return this.db.delete(tokens).where(sql`${tokens.id} = ${id} AND ${tokens.userId} = ${userId}`).returning({ id: tokens.id }).all().length > 0;
  }
}
