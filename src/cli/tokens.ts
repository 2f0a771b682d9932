/**
 * `flue token create|list|revoke`: API tokens, made and capped exactly as
 * /api/token/ makes them (Auth.createToken), for any user.
 */
import { ROLES, type UserRole } from "../domain/index.ts";
import type { Actor } from "../service/index.ts";
import { CliError, parseArgs, positionals, usage } from "./args.ts";
import { CLI_ACTOR, DATA_DIR, findUser, withDataDir } from "./context.ts";
import { parseExpiry, table, when } from "./format.ts";

/** The API's rule for a token's name (http/api/tokens.ts). */
const TOKEN_NAME = /^[\w.-]{1,100}$/;

export const TOKEN_HELP = `Usage:
  flue token create --user NAME --name NAME [--role ROLE] [--expires 30d]
  flue token list [--user NAME]
  flue token revoke ID

Manage API tokens directly in the data dir, whether or not flue serve is
running on it; a running flue sees the change on its next request. A token
is sent as "Authorization: Bearer <token>"; flue keeps only its hash.

${DATA_DIR}
Run flue token COMMAND --help for each command's flags.`;

const HELP: Record<string, string> = {
  create: `Usage: flue token create --user NAME --name NAME [--role ROLE] [--expires 30d]

Makes an API token for a user and prints it on stdout, only this once (the
details go to stderr, so TOKEN=$(flue token create ...) keeps just the token).

  --user NAME      whose token it is
  --name NAME      what it is for, e.g. ci (letters, digits, '_', '.', '-')
  --role ROLE      admin, submitter or viewer, at most the user's role
                   (default: the user's role)
  --expires TIME   lifetime such as 30d, 12h, 90m or 2w, or never (default never)
${DATA_DIR}`,
  list: `Usage: flue token list [--user NAME]

Prints every token (or one user's): id, user, name, role, when it was made,
when it expires, when it was last used. Never the secret: flue does not keep it.

  --user NAME      only this user's tokens
${DATA_DIR}`,
  revoke: `Usage: flue token revoke ID

Deletes the token with this id (see flue token list); the next request with
it is refused.

${DATA_DIR}`,
};

async function create(args: string[]): Promise<void> {
  const p = parseArgs(args, { user: "value", name: "value", role: "value", expires: "value" });
  if (p.help) return void console.log(HELP.create);
  positionals(p);
  const username = p.values.get("user");
  if (username === undefined) throw usage("--user is required: the user the token acts as");
  const name = p.values.get("name");
  if (name === undefined) throw usage("--name is required: what the token is for, such as ci");
  if (!TOKEN_NAME.test(name)) throw usage(`--name must be 1 to 100 letters, digits, '_', '.', '-', not "${name}"`);
  const role = p.values.get("role");
  if (role !== undefined && !(ROLES as readonly string[]).includes(role)) throw usage(`--role must be one of ${ROLES.join(", ")}, not "${role}"`);
  const lifetime = parseExpiry(p.values.get("expires") ?? "never", "--expires");
  const { row, secret, user } = await withDataDir(p, false, (ctx) => {
    const user = findUser(ctx, username);
    // The user itself makes the token, as through the API: its role caps the token's.
    const owner: Actor = { userId: user.id, username: user.username, role: user.role, seesAllJobs: user.seesAllJobs };
    const expiresAt = lifetime === null ? null : Date.now() / 1000 + lifetime;
    const made = ctx.auth.createToken(owner, name, expiresAt, (role as UserRole | undefined) ?? null);
    ctx.store.audit.record(CLI_ACTOR, "token.create", `/api/token/${made.row.id}/`, { name, role: made.row.role, user: user.username, expires_at: expiresAt });
    return { ...made, user };
  });
  console.error(`flue: made token ${row.id} "${row.name}" for ${user.username} (role ${row.role}, expires ${when(row.expiresAt)}); shown only this once:`);
  console.log(secret);
}

async function list(args: string[]): Promise<void> {
  const p = parseArgs(args, { user: "value" });
  if (p.help) return void console.log(HELP.list);
  positionals(p);
  const username = p.values.get("user");
  const rows = await withDataDir(p, false, (ctx) => {
    if (username === undefined) return ctx.store.users.allTokens();
    const user = findUser(ctx, username);
    return ctx.store.users.tokensOf(user.id).map((t) => ({ ...t, username: user.username }));
  });
  const now = Date.now() / 1000;
  const expires = (at: number | null) => when(at) + (at !== null && at < now ? " (expired)" : "");
  console.log(
    table(
      ["ID", "USER", "NAME", "ROLE", "CREATED", "EXPIRES", "LAST USED"],
      rows.map((t) => [String(t.id), t.username, t.name, t.role ?? "(user's)", when(t.createdAt), expires(t.expiresAt), when(t.lastUsedAt)]),
    ),
  );
}

async function revoke(args: string[]): Promise<void> {
  const p = parseArgs(args, {});
  if (p.help) return void console.log(HELP.revoke);
  const [text] = positionals(p, "ID");
  const id = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(id)) throw usage(`ID must be a token's number (see flue token list), not "${text}"`);
  const token = await withDataDir(p, false, (ctx) => {
    const token = ctx.store.users.allTokens().find((t) => t.id === id);
    if (!token || !ctx.store.users.deleteToken(id, undefined)) throw new CliError(`no token with id ${id} in ${ctx.dataDir}`);
    // The API's action name, so ?action=token.delete finds revocations from both.
    ctx.store.audit.record(CLI_ACTOR, "token.delete", `/api/token/${id}/`, { name: token.name, user: token.username });
    return token;
  });
  console.error(`flue: revoked token ${id} "${token.name}" of ${token.username}`);
}

export const TOKEN_COMMANDS: Record<string, (args: string[]) => Promise<void>> = { create, list, revoke };
