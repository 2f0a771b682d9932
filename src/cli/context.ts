/**
 * What the user and token commands work on: the data dir's database, opened
 * directly. No pid lock: a running `flue serve` may hold the dir, and SQLite
 * in WAL mode takes a second writer; the server reads users and tokens from
 * the database on every request, so a change here applies at once.
 */
import { closeSync, existsSync, mkdirSync, openSync, statSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { Auth } from "../auth/index.ts";
import { FLAGS } from "../config.ts";
import { UserService, type Actor } from "../service/index.ts";
import { SchemaTooNewError, Store, type UserRow } from "../store/index.ts";
import { CliError, type Parsed } from "./args.ts";

/** Who the audit log names for changes made from the command line. */
export const CLI_ACTOR: Actor = { userId: 0, username: "cli", role: "admin", seesAllJobs: true, remote: null };

export interface CliContext {
  dataDir: string;
  store: Store;
  auth: Auth;
  users: UserService;
  close: () => void;
}

/** The help line every user and token command shares. */
export const DATA_DIR = `  --data-dir DIR   the data dir flue serve uses (FLUE_DATA_DIR, default ${FLAGS["data-dir"].default})`;

/** --data-dir, else FLUE_DATA_DIR, else serve's default: the same dir `flue serve` would use. */
export function dataDirOf(p: Parsed, env: Record<string, string | undefined> = process.env): string {
  const spec = FLAGS["data-dir"];
  const text = p.values.get("data-dir") ?? (env.FLUE_DATA_DIR || spec.default);
  return spec.parse(text, "--data-dir") as string;
}

/** The OS account running the command, for the audit log. */
function osUser(): { os_user: string; uid: number } {
  let name = process.env.USER;
  try {
    name ||= userInfo().username;
  } catch {} // no passwd entry for this uid
  return { os_user: name || `uid ${process.getuid?.() ?? "?"}`, uid: process.getuid?.() ?? -1 };
}

/**
 * Opens the data dir's database. `create`: make the dir and database when
 * they do not exist yet (so the first admin can be made before the first
 * start); without it a missing database is an error rather than an empty list.
 */
export function openDataDir(dataDir: string, create: boolean): CliContext {
  const path = join(dataDir, "flue.db");
  if (!existsSync(path) && !create) throw new CliError(`no flue database in ${dataDir}; \`flue user add\` or \`flue serve\` makes one`);
  // SQLite makes its -wal and -shm files as whoever opens the database first:
  // root editing a service account's data dir would leave files the server cannot write.
  const owned = existsSync(path) ? path : existsSync(dataDir) ? dataDir : undefined;
  const uid = process.getuid?.();
  if (owned && uid !== undefined && statSync(owned).uid !== uid) {
    throw new CliError(`${owned} belongs to uid ${statSync(owned).uid}, not to you (uid ${uid}); run this as the user flue runs as (e.g. with sudo -u)`);
  }
  let store: Store;
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    // As flue serve makes it: readable by flue alone (SQLite gives -wal and -shm the same mode).
    if (!existsSync(path)) closeSync(openSync(path, "a", 0o600));
    store = Store.open(path);
  } catch (e) {
    if (e instanceof SchemaTooNewError) throw new CliError(e.message);
    throw new CliError(`cannot open the data dir ${dataDir}: ${(e as Error).message}`);
  }
  // The services write their own audit rows; every one made from here also says who ran the command.
  const record = store.audit.record.bind(store.audit);
  const runBy = osUser();
  store.audit.record = (actor, action, target, details) => record(actor, action, target, { ...(details as object | undefined), ...runBy });
  const auth = new Auth(store);
  return {
    dataDir,
    store,
    auth,
    users: new UserService(store, (password) => auth.hashPassword(password)),
    close: () => store.close(),
  };
}

/** Runs `fn` on the opened data dir and closes it, however `fn` ends. */
export async function withDataDir<T>(p: Parsed, create: boolean, fn: (ctx: CliContext) => T | Promise<T>): Promise<T> {
  const ctx = openDataDir(dataDirOf(p), create);
  try {
    return await fn(ctx);
  } finally {
    ctx.close();
  }
}

/** A user by name, or a failure naming the data dir looked in. */
export function findUser(ctx: CliContext, name: string): UserRow {
  const user = ctx.store.users.find(name);
  if (!user) throw new CliError(`no user named "${name}" in ${ctx.dataDir}`);
  return user;
}
