/** Browser sessions: looked up on every page, so by a prepared statement. */
import { and, eq, lt, sql } from "drizzle-orm";
import type { Db } from "./db.ts";
import { lazy } from "./lazy.ts";
import { sessions, users, type SessionRow, type UserRow } from "./schema.ts";

export class SessionsRepo {
  private readonly byHash;

  constructor(private readonly db: Db) {
    this.byHash = lazy(() =>
      db
        .select({ session: sessions, user: users })
        .from(sessions)
        .innerJoin(users, eq(users.id, sessions.userId))
        .where(eq(sessions.idHash, sql.placeholder("hash")))
        .prepare(),
    );
  }

  create(row: SessionRow): void {
    this.db.insert(sessions).values(row).run();
  }

  /** The session and its user as they are now: a role change or a deleted user applies at once. */
  find(idHash: string): { session: SessionRow; user: UserRow } | undefined {
    return this.byHash().get({ hash: idHash });
  }

  touch(idHash: string, lastSeenAt: number, expiresAt: number): void {
    this.db.update(sessions).set({ lastSeenAt, expiresAt }).where(eq(sessions.idHash, idHash)).run();
  }

  remove(idHash: string): void {
    this.db.delete(sessions).where(eq(sessions.idHash, idHash)).run();
  }

  /** Signs a user out everywhere: on a password change, say. */
  removeForUser(userId: number, except?: string): void {
    const mine = eq(sessions.userId, userId);
    this.db.delete(sessions).where(except ? and(mine, sql`${sessions.idHash} <> ${except}`) : mine).run();
  }

  removeExpired(now: number): void {
    this.db.delete(sessions).where(lt(sessions.expiresAt, now)).run();
  }
}
