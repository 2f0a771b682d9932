/**
 * `flue user ...` and `flue token ...`: users and API tokens from the
 * command line, on the data dir's database. Every failure is one line on
 * stderr, `flue: ...`; exit 2 when the command line was wrong, 1 when the
 * command failed.
 */
import { AppError } from "../domain/index.ts";
import { CliError, usage } from "./args.ts";
import { TOKEN_COMMANDS, TOKEN_HELP } from "./tokens.ts";
import { USER_COMMANDS, USER_HELP } from "./users.ts";

export { TOKEN_HELP, USER_HELP };

const GROUPS: Record<string, { help: string; commands: Record<string, (args: string[]) => Promise<void>> }> = {
  user: { help: USER_HELP, commands: USER_COMMANDS },
  token: { help: TOKEN_HELP, commands: TOKEN_COMMANDS },
};

/** What the services call a field, as the command line spells it. */
const FIELD: Record<string, string> = {
  username: "NAME",
  password: "the password",
  role: "--role",
  sees_all_jobs: "--sees-all-jobs",
  name: "--name",
};

function render(e: unknown): { message: string; code: number } {
  if (e instanceof CliError) return { message: e.message, code: e.code };
  if (e instanceof AppError) {
    const fields = e.fields.map((f) => `${FIELD[f.path] ?? f.path}: ${f.message}`).join("; ");
    // A 400 is input the command line gave; anything else (taken, last admin, above the user's role) a failure.
    return { message: fields ? `${e.message} (${fields})` : e.message, code: e.status === 400 ? 2 : 1 };
  }
  return { message: e instanceof Error ? e.message : String(e), code: 1 };
}

/** Runs `flue GROUP COMMAND args...`; returns the exit code. */
export async function runCli(group: "user" | "token", args: string[]): Promise<number> {
  const { help, commands } = GROUPS[group];
  const [command, ...rest] = args;
  try {
    if (command === undefined || command === "--help" || command === "-h" || command === "help") {
      console.log(help);
      return 0;
    }
    const run = commands[command];
    if (!run) throw usage(`unknown command "flue ${group} ${command}"; see flue ${group} --help`);
    await run(rest);
    return 0;
  } catch (e) {
    const { message, code } = render(e);
    console.error(`flue: ${message.replace(/\s*\n\s*/g, " ")}`);
    return code;
  }
}
