/** Users and API tokens. Passwords and tokens are stored hashed only. */
import { eq, sql } from "drizzle-orm";
import type { Db } from "./db.ts";
import { lazy } from "./lazy.ts";
import { tokens, users, type TokenRow, type UserRow } from "./schema.ts";

export type Role = UserRow["role"];

/** What changed, for the fleet to share: users by name, tokens by their hash (local ids differ between instances). */
export type UserChange =
  | { kind: "user"; user: UserRow }
  | { kind: "user.deleted"; username: string }
  | { kind: "token"; token: TokenRow; username: string }
  | { kind: "token.deleted"; tokenHash: string };

/** A user as the fleet shares it. */
export type SharedUser = Pick<UserRow, "username" | "passwordHash" | "role" | "seesAllJobs" | "createdAt">;
/** A token as the fleet shares it: its owner by name. */
export type SharedToken = Pick<TokenRow, "name" | "tokenHash" | "role" | "createdAt" | "expiresAt"> & { username: string };

export class UsersRepo {
  private readonly byName;
  private readonly byTokenHash;

  /** In a fleet: told of every change made here (not of those applied from the fleet). */
  onChange: ((change: UserChange) => void) | undefined;

  /** Writes to users through this repo, made here or applied from the fleet. */
  private changes = 0;
  private readonly dataVersion;

  constructor(private readonly db: Db) {
    this.dataVersion = lazy(() => db.$client.query<{ data_version: number }, []>("PRAGMA data_version"));
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

  /**
   * Differs from an earlier answer once any user may have changed: through
   * this repo, or by another process on the data dir (`flue user set` while
   * flue serves; SQLite's data_version counts other connections' commits).
   */
  version(): string {
    return `${this.changes}.${this.dataVersion().get()!.data_version}`;
  }

  count(): number {
    return this.db.select({ n: sql<number>`count(*)` }).from(users).get()?.n ?? 0;
  }

  find(username: string): UserRow | undefined {
    return this.byName().get({ username });
  }

  create(username: string, passwordHash: string, role: Role, seesAllJobs = false): UserRow {
    this.changes++;
    const user = this.db.insert(users).values({ username, passwordHash, role, seesAllJobs, createdAt: Date.now() / 1000 }).returning().get();
    this.onChange?.({ kind: "user", user });
    return user;
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
    this.changes++;
    const user = this.db.update(users).set(set).where(eq(users.id, id)).returning().get();
    if (user) this.onChange?.({ kind: "user", user });
    return user;
  }

  /** Removes a user; its tokens go with it (foreign key cascade). */
  delete(id: number): boolean {
    this.changes++;
    // Its tokens must go from the fleet too: a user made later under the same name must not inherit them.
    if (this.onChange) for (const t of this.tokensOf(id)) this.onChange({ kind: "token.deleted", tokenHash: t.tokenHash });
    const gone = this.db.delete(users).where(eq(users.id, id)).returning({ username: users.username }).all();
    for (const u of gone) this.onChange?.({ kind: "user.deleted", username: u.username });
    return gone.length > 0;
  }

  /** A user as another instance of the fleet wrote it. */
  applyUser(u: SharedUser): void {
    this.changes++;
    this.db
      .insert(users)
      .values(u)
      .onConflictDoUpdate({ target: users.username, set: { passwordHash: u.passwordHash, role: u.role, seesAllJobs: u.seesAllJobs } })
      .run();
  }

  applyUserDeleted(username: string): void {
    this.changes++;
    this.db.delete(users).where(eq(users.username, username)).run();
  }

  /** A token as another instance wrote it; none when its user is not (or no longer) here. */
  applyToken(t: SharedToken): void {
    const user = this.find(t.username);
    if (!user) return;
    const { username: _, ...row } = t;
    this.db
      .insert(tokens)
      .values({ ...row, userId: user.id })
      .onConflictDoUpdate({ target: tokens.tokenHash, set: { role: t.role, expiresAt: t.expiresAt, name: t.name } })
      .run();
  }

  applyTokenDeleted(tokenHash: string): void {
    this.db.delete(tokens).where(eq(tokens.tokenHash, tokenHash)).run();
  }

  /** Every user and token, for sharing what this instance had before it joined. */
  everything(): { users: UserRow[]; tokens: (TokenRow & { username: string })[] } {
    return { users: this.db.select().from(users).all(), tokens: this.allTokens() };
  }

  createToken(userId: number, name: string, tokenHash: string, expiresAt: number | null, role: Role | null = null): TokenRow {
    const token = this.db.insert(tokens).values({ userId, name, tokenHash, expiresAt, role, createdAt: Date.now() / 1000 }).returning().get();
    if (this.onChange) this.onChange({ kind: "token", token, username: this.get(userId)?.username ?? "" });
    return token;
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
    const where = userId === undefined ? eq(tokens.id, id) : sql`${tokens.id} = ${id} AND ${tokens.userId} = ${userId}`;
    const gone = this.db.delete(tokens).where(where).returning({ tokenHash: tokens.tokenHash }).all();
    for (const t of gone) this.onChange?.({ kind: "token.deleted", tokenHash: t.tokenHash });
    return gone.length > 0;
  }
}
