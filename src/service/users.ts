/**
 * Users, for admins: create, read, change role, password or sight of all
 * jobs, delete. Password hashes never leave this module's callers' store.
 */
import { AppError, conflict, NewUserSchema, notFound, parseBody, UserPatchSchema } from "../domain/index.ts";
import type { Store, UserRow } from "../store/index.ts";
import { requireAdmin, type Actor } from "./actor.ts";

export class UserService {
  constructor(
    private readonly store: Store,
    private readonly hashPassword: (password: string) => Promise<string>,
  ) {}

  list(limit: number, offset: number, actor: Actor) {
    requireAdmin(actor, "list users");
    return this.store.users.list(limit, offset);
  }

  get(id: string, actor: Actor): UserRow {
    requireAdmin(actor, "read other users");
    return this.find(id);
  }

  private find(id: string): UserRow {
    const n = Number(id);
    const user = Number.isInteger(n) ? this.store.users.get(n) : this.store.users.find(id);
    if (!user) throw notFound(`user ${JSON.stringify(id)}`);
    return user;
  }

  async create(body: unknown, actor: Actor): Promise<UserRow> {
    requireAdmin(actor, "create users");
    const u = parseBody(NewUserSchema, body, "user");
    if (this.store.users.find(u.username)) {
      throw new AppError(409, "conflict", `a user named "${u.username}" exists already`, [{ path: "username", message: `"${u.username}" is taken` }]);
    }
    const row = this.store.users.create(u.username, await this.hashPassword(u.password), u.role, u.sees_all_jobs ?? false);
    this.store.audit.record(actor, "user.create", row.username, { role: row.role, sees_all_jobs: row.seesAllJobs });
    return row;
  }

  async update(id: string, body: unknown, actor: Actor): Promise<UserRow> {
    requireAdmin(actor, "change users");
    const user = this.find(id);
    const p = parseBody(UserPatchSchema, body, "change");
    if (p.role && p.role !== "admin" && user.role === "admin" && this.store.users.countAdmins() <= 1) {
      throw new AppError(409, "conflict", `${user.username} is the last admin; make another admin first`, [{ path: "role", message: "the last admin must stay an admin" }]);
    }
    const set: Parameters<Store["users"]["update"]>[1] = {};
    if (p.role !== undefined) set.role = p.role;
    if (p.sees_all_jobs !== undefined) set.seesAllJobs = p.sees_all_jobs;
    if (p.password !== undefined) set.passwordHash = await this.hashPassword(p.password);
    const row = Object.keys(set).length ? this.store.users.update(user.id, set)! : user;
    // A new password signs the user out of every browser: whoever knew the old one may hold a session.
    if (p.password !== undefined) this.store.sessions.removeForUser(user.id);
    // Never the password itself; only that it changed.
    this.store.audit.record(actor, "user.update", row.username, { role: p.role, sees_all_jobs: p.sees_all_jobs, password_changed: p.password !== undefined || undefined });
    return row;
  }

  delete(id: string, actor: Actor): void {
    requireAdmin(actor, "delete users");
    const user = this.find(id);
    if (user.id === actor.userId) throw conflict("you cannot delete yourself; another admin can");
    if (user.role === "admin" && this.store.users.countAdmins() <= 1) throw conflict(`${user.username} is the last admin`);
    this.store.users.delete(user.id);
    this.store.audit.record(actor, "user.delete", user.username);
  }
}
