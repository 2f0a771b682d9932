import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { ConfigError, flagHelp, loadConfig, parseDuration, parseSize } from "../../src/config.ts";
import { resolveRunAs, type Accounts } from "../../src/executor/index.ts";

/** The message of the ConfigError that `fn` throws; fails if it throws nothing or something else. */
function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  test("defaults", () => {
    expect(loadConfig([], {})).toEqual({
      host: "127.0.0.1",
      port: 8000,
      dataDir: resolve("./flue-data"),
      slots: availableParallelism(),
      killGraceMs: 5_000,
      shutdownGraceMs: 30_000,
      maxOutputBytes: 1024 ** 3,
      maxBodyBytes: 256 * 1024 ** 2,
      allowDirs: [],
      allowExec: [],
      denyExec: [],
      containment: "auto",
      tlsClientUser: "none",
      runAs: process.geteuid!() === 0 ? { uid: 65534, gid: 65534, count: 1, label: "nobody (65534:65534)" } : expect.any(Object),
      adminUser: undefined,
      adminPassword: undefined,
      labels: [],
      nats: [],
      heartbeatMs: 2000,
      lostAfterMs: 7000,
      eventsMaxAgeMs: 168 * 3600 * 1000,
      failoverAfterMs: 10_000,
    });
  });

  test("the environment overrides defaults; flags override the environment", () => {
    const env = { FLUE_PORT: "9000", FLUE_HOST: "0.0.0.0", FLUE_DATA_DIR: "/tmp/env-data", FLUE_KILL_GRACE: "2s", FLUE_MAX_BODY: "1MB" };
    const fromEnv = loadConfig([], env);
    expect([fromEnv.port, fromEnv.host, fromEnv.dataDir, fromEnv.killGraceMs, fromEnv.maxBodyBytes]).toEqual([9000, "0.0.0.0", "/tmp/env-data", 2000, 1e6]);
    const both = loadConfig(["--port", "9100", "--kill-grace=500ms"], env);
    expect([both.port, both.host, both.killGraceMs]).toEqual([9100, "0.0.0.0", 500]);
  });

  test("--flag=value and --flag value mean the same", () => {
    const spaced = loadConfig(["--port", "1234", "--slots", "3", "--data-dir", "d", "--max-output", "2KiB", "--shutdown-grace", "2m"], {});
    const joined = loadConfig(["--port=1234", "--slots=3", "--data-dir=d", "--max-output=2KiB", "--shutdown-grace=2m"], {});
    expect(joined).toEqual(spaced);
    expect([spaced.port, spaced.slots, spaced.dataDir, spaced.maxOutputBytes, spaced.shutdownGraceMs]).toEqual([1234, 3, resolve("d"), 2048, 120_000]);
  });

  test("a value may itself contain '=' and may start with a dash after '='", () => {
    expect(loadConfig(["--host=a=b"], {}).host).toBe("a=b");
    expect(loadConfig(["--data-dir=-odd"], {}).dataDir).toBe(resolve("-odd"));
  });

  test("the last of a repeated flag wins", () => {
    expect(loadConfig(["--port", "1", "--port=2"], {}).port).toBe(2);
  });

  test("an empty environment variable is as if unset", () => {
    expect(loadConfig([], { FLUE_PORT: "" }).port).toBe(8000);
  });

  test("allow-dir is a comma-separated list of absolute paths", () => {
    expect(loadConfig(["--allow-dir", "/srv/a, rel ,,/srv/b"], {}).allowDirs).toEqual(["/srv/a", resolve("rel"), "/srv/b"]);
  });

  test("the first admin comes from the environment only", () => {
    const c = loadConfig([], { FLUE_ADMIN_USER: "root", FLUE_ADMIN_PASSWORD: "pw" });
    expect([c.adminUser, c.adminPassword]).toEqual(["root", "pw"]);
    expect(loadConfig([], { FLUE_ADMIN_USER: "" }).adminUser).toBeUndefined();
  });

  const errors: [string[], Record<string, string>, string][] = [
    [["--nope"], {}, "unknown flag --nope; see flue --help"],
    [["--nope=1"], {}, "unknown flag --nope"],
    [["serve"], {}, 'unexpected argument "serve"'],
    [["--port"], {}, "--port needs a value"],
    [["--port=abc"], {}, '--port must be a whole number from 0 to 65535, not "abc"'],
    [["--port", "70000"], {}, '--port must be a whole number from 0 to 65535, not "70000"'],
    [["--port="], {}, '--port must be a whole number from 0 to 65535, not ""'],
    [["--port=0x1F40"], {}, "--port must be a whole number"],
    [["--port=1e3"], {}, "--port must be a whole number"],
    [[], { FLUE_PORT: "abc" }, 'FLUE_PORT must be a whole number from 0 to 65535, not "abc"'],
    [[], { FLUE_PORT: " " }, "FLUE_PORT must be a whole number"],
    [["--slots=0"], {}, "--slots must be a whole number from 1 to 4096"],
    [["--slots=2.5"], {}, "--slots must be a whole number"],
    [[], { FLUE_SLOTS: "-1" }, "FLUE_SLOTS must be a whole number"],
    [["--kill-grace=soon"], {}, '--kill-grace must be a duration such as 30s, 2m or 500ms, not "soon"'],
    [[], { FLUE_SHUTDOWN_GRACE: "1d" }, "FLUE_SHUTDOWN_GRACE must be a duration"],
    [["--max-output=lots"], {}, '--max-output must be a size such as 512MiB or 1GB, not "lots"'],
    [[], { FLUE_MAX_BODY: "1TB" }, "FLUE_MAX_BODY must be a size"],
    [["--nats", "http://x:4222"], {}, '--nats: "http://x:4222" is not a NATS server URL'],
    [["--nats-user", "u", "--nats-password", "p"], {}, "--nats-user needs --nats"],
    [["--nats", "nats://x", "--nats-user", "u"], {}, "--nats-user and --nats-password go together"],
    [["--nats", "nats://x", "--nats-token", "t", "--nats-user", "u", "--nats-password", "p"], {}, "--nats-user and --nats-token: give one way"],
    [["--nats", "nats://x", "--nats-creds", "/nonexistent/x.creds"], {}, "--nats-creds: cannot read /nonexistent/x.creds"],
    [["--nats", "nats://x"], { FLUE_NATS_NKEY: "/nonexistent/seed" }, "FLUE_NATS_NKEY: cannot read"],
    [["--nats", "nats://x", "--nats-tls-ca", "/nonexistent/ca.pem"], {}, "--nats-tls-ca: cannot read"],
    [["--nats", "nats://x", "--nats-replicas", "9"], {}, '--nats-replicas must be a whole number from 1 to 5, not "9"'],
    [["--labels", "ffmpeg,a.b"], {}, '--labels: "a.b" is not a label'],
    [["--nats", "nats://x", "--heartbeat", "2s", "--lost-after", "1s"], {}, "--lost-after must be longer than --heartbeat"],
  ];
  test.each(errors)("%j with %j: %s", (args, env, message) => {
    expect(configError(() => loadConfig(args, env))).toStartWith(message);
  });

  test("the fleet: URLs and labels as lists, the lost bound three heartbeats and a second unless given", () => {
    const c = loadConfig(["--nats", "nats://a:4222, b:4223", "--labels", "ffmpeg,R,ffmpeg", "--heartbeat", "500ms"], { FLUE_NATS_TOKEN: "t" });
    expect([c.nats, c.labels, c.natsToken, c.heartbeatMs, c.lostAfterMs]).toEqual([["nats://a:4222", "b:4223"], ["ffmpeg", "R"], "t", 500, 2500]);
    expect(loadConfig(["--nats", "nats://a", "--lost-after", "10s"], {}).lostAfterMs).toBe(10_000);
  });

  test("a bad value in the environment is blamed on the flag when a flag overrides it", () => {
    expect(loadConfig(["--port=1"], { FLUE_PORT: "abc" }).port).toBe(1);
    expect(configError(() => loadConfig(["--port=x"], { FLUE_PORT: "1" }))).toStartWith("--port ");
  });

  test("help names every flag with its variable and default", () => {
    const help = flagHelp();
    for (const line of ["--port", "FLUE_PORT", "default 8000", "--data-dir", "FLUE_DATA_DIR", "FLUE_MAX_OUTPUT", "default 1GiB", "FLUE_ALLOW_DIR, default none"]) {
      expect(help).toContain(line);
    }
  });
});

describe("parseSize", () => {
  test.each([
    ["512MiB", 512 * 1024 ** 2],
    ["1GB", 1e9],
    ["1gb", 1e9],
    ["1GiB", 1024 ** 3],
    ["10KB", 10_000],
    ["4kib", 4096],
    ["1048576", 1048576],
    ["100b", 100],
    ["1.5k", 1500],
    [" 2 MB ", 2e6],
  ])("%p is %d bytes", (text, bytes) => {
    expect(parseSize(text, "--max-body")).toBe(bytes);
  });

  test.each(["", "MB", "-1MB", "1TB", "1e3", "ten", "1.MB", "1 2MB"])("%p is an error naming the flag", (text) => {
    expect(configError(() => parseSize(text, "--max-body"))).toBe(`--max-body must be a size such as 512MiB or 1GB, not "${text}"`);
  });

  test("a plain number is bytes", () => {
    fc.assert(fc.property(fc.nat(), (n) => expect(parseSize(String(n), "--x")).toBe(n)));
  });
});

describe("resolveRunAs", () => {
  const passwd = "root:x:0:0:root:/root:/bin/bash\n# a comment\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\nbuild:x:1500:1600::/home/build:/bin/sh\n";
  const group = "root:x:0:\nnogroup:x:65534:\nbuilders:x:1600:\nstaff:x:50:\n";
  const asRoot: Accounts = { euid: 0, egid: 0, passwd, group };
  const asUser: Accounts = { euid: 1500, egid: 1600, passwd, group };
  const run = (text: string, accounts = asRoot) => resolveRunAs(text, "--run-as", accounts);

  test.each([
    ["", { uid: 65534, gid: 65534, count: 1, label: "nobody (65534:65534)" }],
    ["root", { uid: 0, gid: 0, count: 1, label: "root (0:0)" }],
    ["build", { uid: 1500, gid: 1600, count: 1, label: "build (1500:1600)" }],
    ["build:staff", { uid: 1500, gid: 50, count: 1, label: "build (1500:50)" }],
    ["1500", { uid: 1500, gid: 1600, count: 1, label: "build (1500:1600)" }],
    ["4242", { uid: 4242, gid: 4242, count: 1, label: "4242 (4242:4242)" }],
    ["4242:50", { uid: 4242, gid: 50, count: 1, label: "4242 (4242:50)" }],
    ["61184-61439", { uid: 61184, gid: 61184, count: 256, label: "uids 61184-61439 (one per slot)" }],
  ])("as root, %p is %j", (text, want) => {
    expect(run(text)).toEqual(want);
  });

  test("not as root, jobs run as flue's own user, and naming it is allowed", () => {
    expect(run("", asUser)).toEqual({ uid: 1500, gid: 1600, count: 1, label: "flue's own user (1500:1600)" });
    expect(run("build", asUser).uid).toBe(1500);
  });

  test.each([
    ["nosuch", asRoot, '--run-as: no user "nosuch" in /etc/passwd'],
    ["build:nosuch", asRoot, '--run-as: no group "nosuch" in /etc/group'],
    ["build:staff:x", asRoot, "--run-as: no group"],
    [":staff", asRoot, "--run-as: no user"],
    ["0-10", asRoot, "--run-as must be a range of uids"],
    ["20-10", asRoot, "--run-as must be a range of uids"],
    ["root", asUser, "--run-as needs flue to run as root"],
    ["nobody", asUser, "--run-as needs flue to run as root"],
    ["1500-1510", asUser, "--run-as needs flue to run as root"],
  ])("%p is refused", (text, accounts, message) => {
    expect(() => run(text, accounts)).toThrow(message);
  });

  test("a range needs a uid for every slot", () => {
    if (process.geteuid!() !== 0) return;
    expect(loadConfig(["--run-as", "61184-61187", "--slots", "4"], {}).runAs.count).toBe(4);
    expect(configError(() => loadConfig(["--run-as", "61184-61186", "--slots", "4"], {}))).toContain("fewer than the 4 slots");
    expect(configError(() => loadConfig([], { FLUE_RUN_AS: "nosuchuser" }))).toBe('FLUE_RUN_AS: no user "nosuchuser" in /etc/passwd');
  });
});

describe("parseDuration", () => {
  test.each([
    ["30s", 30_000],
    ["2m", 120_000],
    ["500ms", 500],
    ["5", 5_000],
    ["1h", 3_600_000],
    ["1.5s", 1_500],
    ["0", 0],
    ["2M", 120_000],
  ])("%p is %d ms", (text, ms) => {
    expect(parseDuration(text, "--kill-grace")).toBe(ms);
  });

  test.each(["", "s", "-5s", "5d", "five", "5 minutes"])("%p is an error naming the flag", (text) => {
    expect(configError(() => parseDuration(text, "FLUE_KILL_GRACE"))).toBe(`FLUE_KILL_GRACE must be a duration such as 30s, 2m or 500ms, not "${text}"`);
  });

  test("units scale as they say", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000 }), (n) => {
        expect(parseDuration(`${n}ms`, "--x")).toBe(n);
        expect(parseDuration(`${n}s`, "--x")).toBe(n * 1000);
        expect(parseDuration(`${n}`, "--x")).toBe(n * 1000);
        expect(parseDuration(`${n}m`, "--x")).toBe(n * 60_000);
      }),
    );
  });
});
