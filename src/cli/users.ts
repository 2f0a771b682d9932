/** `flue user add|list|set|remove`: users, through the same service and rules as /api/user/. */
import { generateSecret } from "../auth/index.ts";
import { NewUserSchema, parseBody, ROLES, UserPatchSchema, type UserRole } from "../domain/index.ts";
import { parseArgs, positionals, usage, type Parsed } from "./args.ts";
import { CLI_ACTOR, DATA_DIR, findUser, withDataDir } from "./context.ts";
import { table, when } from "./format.ts";
import { readPassword } from "./password.ts";

export const USER_HELP = `Usage:
  flue user add NAME [--role ROLE] [--sees-all-jobs] [--password-stdin]
  flue user list
  flue user set NAME [--role ROLE] [--sees-all-jobs true|false] [--password-stdin]
  flue user remove NAME

Manage users directly in the data dir, whether or not flue serve is running
on it; a running flue sees the change on its next request. Roles: admin,
submitter, viewer. Each change is in the audit log with the actor "cli".

${DATA_DIR}
Run flue user COMMAND --help for each command's flags.`;

const HELP: Record<string, string> = {
  add: `Usage: flue user add NAME [--role ROLE] [--sees-all-jobs] [--password-stdin]

Makes a user. Without --password-stdin flue generates a password and prints
it on stdout, only this once. On a data dir without a database this makes
one, so the first admin can exist before the first flue serve.

  --role ROLE        admin, submitter or viewer (default submitter)
  --sees-all-jobs    the user sees every user's jobs, not only its own
  --password-stdin   read the password from the first line of stdin
${DATA_DIR}`,
  list: `Usage: flue user list

Prints every user: name, role, whether it sees all jobs, when it was made.

${DATA_DIR}`,
  set: `Usage: flue user set NAME [--role ROLE] [--sees-all-jobs true|false] [--password-stdin]

Changes a user's role, sight of all jobs, or password. The user's tokens
never grant more than its new role.

  --role ROLE                 admin, submitter or viewer
  --sees-all-jobs true|false  whether the user sees every user's jobs
  --password-stdin            read a new password from the first line of stdin
${DATA_DIR}`,
  remove: `Usage: flue user remove NAME

Removes a user and its tokens. The last admin cannot be removed.

${DATA_DIR}`,
};

function roleOf(p: Parsed): UserRole | undefined {
  const role = p.values.get("role");
  if (role !== undefined && !(ROLES as readonly string[]).includes(role)) throw usage(`--role must be one of ${ROLES.join(", ")}, not "${role}"`);
  return role as UserRole | undefined;
}

async function add(args: string[]): Promise<void> {
  const p = parseArgs(args, { role: "value", "sees-all-jobs": "switch", "password-stdin": "switch" });
  if (p.help) return void console.log(HELP.add);
  const [username] = positionals(p, "NAME");
  const role = roleOf(p) ?? "submitter";
  const given = p.switches.has("password-stdin");
  const password = given ? await readPassword() : generateSecret(15);
  const body = { username, password, role, sees_all_jobs: p.switches.has("sees-all-jobs") };
  parseBody(NewUserSchema, body, "user"); // before a data dir is made for nothing
  const row = await withDataDir(p, true, (ctx) => ctx.users.create(body, CLI_ACTOR));
  const sees = row.seesAllJobs ? ", sees all jobs" : "";
  if (given) return void console.error(`flue: made user ${row.username} (${row.role}${sees})`);
  console.error(`flue: made user ${row.username} (${row.role}${sees}); its generated password, shown only this once:`);
  console.log(password);
}

async function list(args: string[]): Promise<void> {
  const p = parseArgs(args, {});
  if (p.help) return void console.log(HELP.list);
  positionals(p);
  const rows = await withDataDir(p, false, (ctx) => ctx.users.list(1_000_000, 0, CLI_ACTOR).rows);
  console.log(table(["NAME", "ROLE", "SEES ALL JOBS", "CREATED"], rows.map((u) => [u.username, u.role, u.seesAllJobs ? "yes" : "no", when(u.createdAt)])));
}

async function set(args: string[]): Promise<void> {
  const p = parseArgs(args, { role: "value", "sees-all-jobs": "value", "password-stdin": "switch" });
  if (p.help) return void console.log(HELP.set);
  const [username] = positionals(p, "NAME");
  const change: { role?: UserRole; sees_all_jobs?: boolean; password?: string } = {};
  const role = roleOf(p);
  if (role) change.role = role;
  const sees = p.values.get("sees-all-jobs");
  if (sees !== undefined) {
    if (sees !== "true" && sees !== "false") throw usage(`--sees-all-jobs must be true or false, not "${sees}"`);
    change.sees_all_jobs = sees === "true";
  }
  if (p.switches.has("password-stdin")) change.password = await readPassword();
  if (!Object.keys(change).length) throw usage("nothing to change: give --role, --sees-all-jobs or --password-stdin");
  parseBody(UserPatchSchema, change, "change");
  const row = await withDataDir(p, false, (ctx) => ctx.users.update(String(findUser(ctx, username).id), change, CLI_ACTOR));
  const what = [change.role && `role ${row.role}`, change.sees_all_jobs !== undefined && `sees all jobs: ${row.seesAllJobs ? "yes" : "no"}`, change.password && "new password"];
  console.error(`flue: changed user ${row.username}: ${what.filter(Boolean).join(", ")}`);
}

async function remove(args: string[]): Promise<void> {
  const p = parseArgs(args, {});
  if (p.help) return void console.log(HELP.remove);
  const [username] = positionals(p, "NAME");
  await withDataDir(p, false, (ctx) => ctx.users.delete(String(findUser(ctx, username).id), CLI_ACTOR));
  console.error(`flue: removed user ${username} and its tokens`);
}

export const USER_COMMANDS: Record<string, (args: string[]) => Promise<void>> = { add, list, set, remove };
