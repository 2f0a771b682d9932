/**
 * `flue user` and `flue token` against the compiled binary and a real data
 * dir: the first admin made before the first start, and changes made while
 * `flue serve` runs on the same dir taking effect on the server's next request.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { openDatabase } from "../../src/store/db.ts";
import { basic, BINARY, startBinary, tempDir, type Binary } from "../helpers/index.ts";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the binary with these arguments; `stdin` is written and closed. */
async function flue(args: string[], opts: { stdin?: string; env?: Record<string, string> } = {}): Promise<Run> {
  const proc = Bun.spawn({
    cmd: [BINARY, ...args],
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", USER: "operator", ...opts.env },
    stdin: opts.stdin === undefined ? "ignore" : new Blob([opts.stdin]),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

const bearer = (token: string) => `Bearer ${token}`;

describe("users and tokens from the command line, with flue serving the same data dir", () => {
  // Empty, no database yet; the dir itself so that serve's jobs' user may pass through it.
  const dir = tempDir("flue-e2e-cli-");
  const dataDir = dir.path;
  const at = (...args: string[]) => [...args, "--data-dir", dataDir];
  let server: Binary;
  const get = (path: string, authorization: string) => server.fetch(path, { headers: { authorization } });
  const alice = basic("alice", "alice-password");
  const bob = basic("bob", "bob-password");
  let token = "";
  let tokenId = "";

  beforeAll(async () => {
    // Before any serve.
    const made = await flue(at("user", "add", "alice", "--role", "admin", "--password-stdin"), { stdin: "alice-password\n" });
    expect(made).toMatchObject({ code: 0, stdout: "" });
    expect(made.stderr).toBe("flue: made user alice (admin)\n");
    server = await startBinary({ dataDir });
  });

  afterAll(async () => {
    await server?.stop();
    dir.remove();
  });

  test("a user made before the first start signs in; flue makes no generated admin", async () => {
    expect(server.output()).not.toContain("admin:");
    expect((await get("/api/user/", alice)).status).toBe(200);
    expect((await get("/api/user/", basic())).status).toBe(401); // FLUE_ADMIN_* made nobody
    const users = (await (await get("/api/user/", alice)).json()) as { objects: { username: string }[] };
    expect(users.objects.map((u) => u.username)).toEqual(["alice"]);
  });

  test("a token made while serving works at once, with the role it was given", async () => {
    const made = await flue(at("token", "create", "--user", "alice", "--name", "ci", "--role", "submitter", "--expires", "30d"));
    expect(made.code).toBe(0);
    // Only the secret on stdout, so TOKEN=$(flue token create ...) works.
    expect(made.stdout).toMatch(/^flue_[\w-]+\n$/);
    token = made.stdout.trim();
    tokenId = /made token (\d+) "ci" for alice \(role submitter, expires \d{4}-\d\d-\d\d /.exec(made.stderr)?.[1] ?? "";
    expect(tokenId).not.toBe("");

    expect((await get("/api/job/", bearer(token))).status).toBe(200);
    expect((await get("/api/user/", bearer(token))).status).toBe(403);
    expect(((await (await get("/api/user/me", bearer(token))).json()) as { role: string }).role).toBe("submitter");
    const listed = ((await (await get("/api/token/", alice)).json()) as { objects: { id: number; expires_at: string }[] }).objects;
    const days = (Date.parse(listed.find((t) => String(t.id) === tokenId)!.expires_at) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThan(30.1);
  });

  test("flue token list shows when a token was last used", async () => {
    const list = await flue(at("token", "list", "--user", "alice"));
    expect(list.code).toBe(0);
    const [header, ...rows] = list.stdout.trim().split("\n");
    expect(header).toMatch(/^ID\s+USER\s+NAME\s+ROLE\s+CREATED\s+EXPIRES\s+LAST USED$/);
    const row = rows.find((r) => r.startsWith(`${tokenId} `))!;
    expect(row).toMatch(/\balice\s+ci\s+submitter\s/);
    // Used above; the server recorded it.
    expect(row).toMatch(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
    expect(row).not.toMatch(/never$/);
  });

  test("a revoked token is refused on the next request", async () => {
    expect((await get("/api/job/", bearer(token))).status).toBe(200);
    const revoked = await flue(at("token", "revoke", tokenId));
    expect(revoked).toMatchObject({ code: 0, stdout: "" });
    expect(revoked.stderr).toContain(`revoked token ${tokenId} "ci" of alice`);
    expect((await get("/api/job/", bearer(token))).status).toBe(401);
    expect((await flue(at("token", "list"))).stdout).not.toContain(`\n${tokenId} `);
  });

  test("a role or password changed while serving applies on the next request; the last admin stays", async () => {
    expect((await get("/api/user/", alice)).status).toBe(200); // alice's password is now cached by the server
    const last = await flue(at("user", "set", "alice", "--role", "viewer"));
    expect(last.code).toBe(1);
    expect(last.stderr).toMatch(/^flue: alice is the last admin; make another admin first \(--role: .*\)\n$/);

    expect((await flue(at("user", "add", "bob", "--role", "admin", "--password-stdin"), { stdin: "bob-password" })).code).toBe(0);
    expect((await flue(at("user", "set", "alice", "--role", "viewer"))).code).toBe(0);
    expect((await get("/api/user/", alice)).status).toBe(403);
    expect(((await (await get("/api/user/me", alice)).json()) as { role: string }).role).toBe("viewer");

    const changed = await flue(at("user", "set", "alice", "--password-stdin"), { stdin: "a-new-password\nignored\n" });
    expect(changed.code).toBe(0);
    expect((await get("/api/job/", alice)).status).toBe(401);
    expect((await get("/api/job/", basic("alice", "a-new-password"))).status).toBe(200);

    // A token a viewer makes is a viewer's, and a viewer cannot make more.
    const above = await flue(at("token", "create", "--user", "alice", "--name", "ci", "--role", "admin"));
    expect(above.code).toBe(1);
    expect(above.stderr).toMatch(/^flue: a viewer cannot make a token with the role admin \(--role: at most viewer\)\n$/);

    const list = await flue(at("user", "list"));
    expect(list.stdout).toMatch(/^NAME\s+ROLE\s+SEES ALL JOBS\s+CREATED\nalice\s+viewer\s+no\s+\d{4}-.*\nbob\s+admin\s+no\s+\d{4}-/);
  });

  test("a generated password is printed once, on stdout only, and works; a removed user's token goes with it", async () => {
    const made = await flue(at("user", "add", "carol", "--sees-all-jobs"));
    expect(made.code).toBe(0);
    expect(made.stderr).toContain("made user carol (submitter, sees all jobs); its generated password, shown only this once");
    const password = made.stdout.trim();
    expect(made.stdout).toBe(`${password}\n`);
    expect(password.length).toBeGreaterThanOrEqual(16);
    expect((await get("/api/job/", basic("carol", password))).status).toBe(200);

    const secret = (await flue(at("token", "create", "--user", "carol", "--name", "nightly"))).stdout.trim();
    expect((await get("/api/job/", bearer(secret))).status).toBe(200);
    expect((await flue(at("user", "remove", "carol"))).code).toBe(0);
    expect((await get("/api/job/", bearer(secret))).status).toBe(401);
    expect((await get("/api/job/", basic("carol", password))).status).toBe(401);
  });

  test("the audit log shows every change made from the command line, with actor cli and the OS user", async () => {
    const res = await get("/api/audit/?actor=cli&limit=100", bob);
    expect(res.status).toBe(200);
    const rows = ((await res.json()) as { objects: { actor: string; action: string; target: string; details: Record<string, unknown> }[] }).objects.reverse();
    expect(rows.map((r) => `${r.action} ${r.target}`)).toEqual([
      "user.create alice",
      `token.create /api/token/${tokenId}/`,
      `token.delete /api/token/${tokenId}/`,
      "user.create bob",
      "user.update alice",
      "user.update alice",
      "user.create carol",
      expect.stringMatching(/^token\.create \/api\/token\/\d+\/$/),
      "user.delete carol",
    ]);
    for (const r of rows) expect(r.details).toMatchObject({ os_user: "operator" });
    expect(rows[1].details).toMatchObject({ name: "ci", role: "submitter", user: "alice" });
    expect(rows[5].details).toMatchObject({ password_changed: true });
    expect(JSON.stringify(rows)).not.toContain("a-new-password");
  });

  test("bad input: one line naming what is wrong, exit 2 for the command line, 1 for a failure", async () => {
    const cases: [string[], number, RegExp, string?][] = [
      [["user", "add", "dave", "--role", "boss"], 2, /--role must be one of admin, submitter, viewer, not "boss"/],
      [["user", "add", "bad name!"], 2, /NAME: 1 to 64 letters/],
      [["user", "add", "dave", "--password-stdin"], 2, /the password: at least 8 characters/, "short\n"],
      [["user", "add", "dave", "--password-stdin"], 2, /--password-stdin: no password on stdin/, ""],
      [["user", "add", "bob"], 1, /a user named "bob" exists already/],
      [["user", "add"], 2, /missing NAME/],
      [["user", "add", "dave", "--colour"], 2, /unknown flag --colour/],
      [["user", "set", "bob"], 2, /nothing to change/],
      [["user", "set", "bob", "--sees-all-jobs", "maybe"], 2, /--sees-all-jobs must be true or false/],
      [["user", "set", "nobody", "--role", "viewer"], 1, /no user named "nobody"/],
      [["user", "remove", "nobody"], 1, /no user named "nobody"/],
      [["user", "frob"], 2, /unknown command "flue user frob"/],
      [["token", "create", "--user", "nobody", "--name", "ci"], 1, /no user named "nobody"/],
      [["token", "create", "--user", "bob", "--name", "ci", "--expires", "30x"], 2, /--expires must be a duration such as 30d/],
      [["token", "create", "--user", "bob", "--name", "ci", "--expires", "9999d"], 2, /--expires .*at most 3650d/],
      [["token", "create", "--user", "bob"], 2, /--name is required/],
      [["token", "create", "--user", "bob", "--name"], 2, /--name needs a value/],
      [["token", "create", "--user", "bob", "--name", "c i"], 2, /--name must be 1 to 100 letters/],
      [["token", "create", "--name", "ci"], 2, /--user is required/],
      [["token", "create", "--user", "bob", "--name", "ci", "--role", "root"], 2, /--role must be one of/],
      [["token", "revoke", "abc"], 2, /ID must be a token's number/],
      [["token", "revoke", "99999"], 1, /no token with id 99999/],
      [["token", "list", "--user", "nobody"], 1, /no user named "nobody"/],
    ];
    for (const [args, code, message, stdin] of cases) {
      const r = await flue(at(...args), { stdin });
      expect({ args, code: r.code, stdout: r.stdout }).toEqual({ args, code, stdout: "" });
      expect(r.stderr).toMatch(/^flue: [^\n]+\n$/); // one line, no stack trace
      expect(r.stderr).toMatch(message);
    }
    // None of that changed anything.
    expect((await flue(at("user", "list"))).stdout).not.toMatch(/dave|nobody/);
  });
});

describe("the data dir", () => {
  test("FLUE_DATA_DIR names it; a list on a missing one fails and makes nothing", async () => {
    const dir = tempDir("flue-e2e-cli-");
    try {
      const missing = join(dir.path, "nothing-here");
      const r = await flue(["user", "list"], { env: { FLUE_DATA_DIR: missing } });
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`flue: no flue database in ${missing}; \`flue user add\` or \`flue serve\` makes one\n`);
      expect(existsSync(missing)).toBe(false);

      const data = join(dir.path, "data");
      expect((await flue(["user", "add", "erin", "--password-stdin"], { stdin: "erin-password\n", env: { FLUE_DATA_DIR: data } })).code).toBe(0);
      expect((await flue(["user", "list", "--data-dir", data])).stdout).toMatch(/\nerin\s+submitter\s+no\s/);
      expect(statSync(join(data, "flue.db")).mode & 0o777).toBe(0o600); // password hashes: flue's alone
    } finally {
      dir.remove();
    }
  });

  test("a new data dir's database, placed whole from the binary, has exactly the schema the migrations make", async () => {
    const dir = tempDir("flue-e2e-cli-");
    const fromSource = tempDir("flue-e2e-cli-");
    try {
      expect((await flue(["user", "add", "erin", "--password-stdin", "--data-dir", dir.path], { stdin: "erin-password\n" })).code).toBe(0);
      openDatabase(join(fromSource.path, "flue.db")).$client.close();
      const schemaOf = (path: string) => {
        const db = new Database(path, { readonly: true });
        try {
          return {
            objects: db.query("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").all(),
            migrations: db.query("SELECT idx, tag FROM flue_migrations ORDER BY idx").all(),
            journal: db.query("PRAGMA journal_mode").get(),
          };
        } finally {
          db.close();
        }
      };
      const built = schemaOf(join(dir.path, "flue.db"));
      expect(built.migrations.length).toBeGreaterThan(0);
      expect(built).toEqual(schemaOf(join(fromSource.path, "flue.db")));
      expect(statSync(join(dir.path, "flue.db")).mode & 0o777).toBe(0o600);
      expect(readdirSync(dir.path).filter((f) => f.includes(".new-"))).toEqual([]);
    } finally {
      dir.remove();
      fromSource.remove();
    }
  });

  test("a database written by a newer flue is refused with a clear message", async () => {
    const dir = tempDir("flue-e2e-cli-");
    try {
      expect((await flue(["user", "add", "erin", "--data-dir", dir.path])).code).toBe(0);
      const db = new Database(join(dir.path, "flue.db"));
      db.run("INSERT INTO flue_migrations (idx, tag, applied_at) VALUES (9999, '9999_from_the_future', 0)");
      db.close();
      const r = await flue(["user", "list", "--data-dir", dir.path]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^flue: the data dir was written by a newer flue \(schema 9999_from_the_future\).*Upgrade flue/);
      expect(r.stderr.split("\n").length).toBe(2);
    } finally {
      dir.remove();
    }
  });

  test("help: flue --help lists the commands; each command has its own", async () => {
    const top = await flue(["--help"]);
    expect(top.stdout).toContain("flue user add|list|set|remove");
    expect(top.stdout).toContain("flue token create|list|revoke");
    for (const args of [["user"], ["token", "--help"], ["user", "add", "--help"], ["user", "set", "-h"], ["token", "create", "--help"], ["token", "revoke", "--help"]]) {
      const r = await flue(args);
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 0, stderr: "" });
      expect(r.stdout).toContain("Usage:");
    }
    expect((await flue(["token", "create", "--help"])).stdout).toContain("--expires TIME");
  });
});

test("the commands take no pid lock while flue serves; a token without --role has its user's role", async () => {
  const dir = tempDir("flue-e2e-cli-");
  try {
    expect((await flue(["user", "add", "frank", "--role", "admin", "--password-stdin", "--data-dir", dir.path], { stdin: "frank-password\n" })).code).toBe(0);
    const server = await startBinary({ dataDir: dir.path });
    try {
      const pid = await Bun.file(join(dir.path, "flue.pid")).text();
      const secret = (await flue(["token", "create", "--user", "frank", "--name", "x", "--data-dir", dir.path])).stdout.trim();
      expect(await Bun.file(join(dir.path, "flue.pid")).text()).toBe(pid);
      expect((await server.fetch("/api/audit/", { headers: { authorization: bearer(secret) } })).status).toBe(200);
    } finally {
      await server.stop();
    }
  } finally {
    dir.remove();
  }
});
