/**
 * dist/flue copied alone into an empty directory does everything: no file
 * beside it, no node_modules, no source tree. Also the CLI's own surface:
 * --version, --help, bad flags, and the generated first admin password.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { BINARY, eventually, freePort, ROOT, startBinary, tempDir, TR_DEFINITION, type Binary } from "../helpers/index.ts";
import { curl, curlJson, USERPASS } from "./support.ts";

const dir = tempDir("flue-e2e-alone-");
const ENV = { PATH: "/usr/bin:/bin" };

/** Runs ./flue from the empty directory and collects what it printed. */
async function flue(...args: string[]) {
  const proc = Bun.spawn({ cmd: ["./flue", ...args], cwd: dir.path, env: ENV, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

beforeAll(() => {
  copyFileSync(BINARY, join(dir.path, "flue"));
  // Run as root, flue runs jobs as nobody, who must pass through here to reach ./d's workdirs.
  chmodSync(dir.path, 0o711);
});
afterAll(() => dir.remove());

test("the directory holds nothing but the binary", () => {
  expect(readdirSync(dir.path)).toEqual(["flue"]);
});

test("./flue --version prints package.json's version", async () => {
  const { version } = await Bun.file(join(ROOT, "package.json")).json();
  const r = await flue("--version");
  expect(r.code).toBe(0);
  expect(r.stdout.trim()).toBe(version);
});

test("./flue --help names serve and its flags", async () => {
  const r = await flue("--help");
  expect(r.code).toBe(0);
  for (const word of ["serve", "--host", "--port", "--data-dir", "--slots", "--shutdown-grace", "FLUE_PORT"]) expect(r.stdout).toContain(word);
});

test("an unknown flag exits 2 naming it; so does an unknown command", async () => {
  const flag = await flue("serve", "--no-such-flag", "1");
  expect(flag.code).toBe(2);
  expect(flag.stderr).toContain("--no-such-flag");
  const bad = await flue("serve", "--port", "eighty");
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain("--port");
  const cmd = await flue("frobnicate");
  expect(cmd.code).toBe(2);
  expect(cmd.stderr).toContain("frobnicate");
  expect(readdirSync(dir.path)).toEqual(["flue"]);
});

describe("./flue serve --port <free port> --data-dir ./d", () => {
  let proc: ReturnType<typeof Bun.spawn>;
  let url: string;
  let out = "";

  beforeAll(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    proc = Bun.spawn({
      cmd: ["./flue", "serve", "--port", String(port), "--data-dir", "./d", "--kill-grace", "1s"],
      cwd: dir.path,
      env: { ...ENV, FLUE_ADMIN_USER: "admin", FLUE_ADMIN_PASSWORD: "test-password" },
      stdout: "pipe",
      stderr: "pipe",
    });
    void (async () => {
      for await (const chunk of proc.stdout as ReadableStream<Uint8Array>) out += new TextDecoder().decode(chunk);
    })();
    await eventually(() => out.includes("listening on"));
  });
  afterAll(async () => {
    proc.kill("SIGTERM");
    await proc.exited;
  });

  test("prints its URL and its data dir under the current directory", () => {
    expect(out).toContain(`listening on ${url}`);
    expect(out).toContain(join(dir.path, "d"));
  });

  test("answers the registry and runs the seed's tr -d x", async () => {
    const list = await curlJson("-u", USERPASS, `${url}/api/process_definition/`);
    expect(list.meta.total_count).toBe(0);
    const def = await curlJson(
      "-u", USERPASS, "-H", "Content-Type: application/json", "-X", "POST",
      "--data", JSON.stringify({ definition: TR_DEFINITION }), `${url}/api/process_definition/`,
    );
    const job = await curlJson(
      "-u", USERPASS, "-H", "Content-Type: application/json", "-X", "POST",
      "--data", JSON.stringify({ process_definition: def.id, inputs: { input_file: { content: "axbxcx" } } }), `${url}/api/job/`,
    );
    expect((await curlJson("-u", USERPASS, `${url}/api/job/${job.id}/?wait=10`)).state).toBe("FINISHED");
    expect((await curl("-sS", "-u", USERPASS, `${url}/api/job/${job.id}/outputs/output_file`)).stdout).toBe("abc");
    // Nothing appeared beside the binary but the data dir.
    expect(readdirSync(dir.path).sort()).toEqual(["d", "flue"]);
  });
});

describe("the first admin on an empty data dir without FLUE_ADMIN_PASSWORD", () => {
  const data = tempDir("flue-e2e-admin-");
  const runs: Binary[] = [];
  const start = async () => {
    const b = await startBinary({ binary: join(dir.path, "flue"), cwd: dir.path, dataDir: data.path, env: { FLUE_ADMIN_PASSWORD: "" } });
    runs.push(b);
    return b;
  };
  afterAll(async () => {
    for (const b of runs) if (b.proc.exitCode === null) await b.stop();
    data.remove();
  });

  test("gets a generated password, printed once, that works for Basic auth", async () => {
    const first = await start();
    const password = /admin: admin \/ (\S+)\s+\(generated; shown only this once\)/.exec(first.output())?.[1];
    expect(password).toBeDefined();
    expect(password!.length).toBeGreaterThanOrEqual(12);
    const ok = await curl("-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", `admin:${password}`, `${first.url}/api/process_definition/`);
    expect(ok.stdout).toBe("200");
    const wrong = await curl("-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", "admin:test-password", `${first.url}/api/process_definition/`);
    expect(wrong.stdout).toBe("401");
    expect(await first.stop()).toBe(0);

    const second = await start();
    expect(second.output()).not.toContain(password!);
    expect(second.output()).not.toContain("generated");
    const still = await curl("-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", `admin:${password}`, `${second.url}/api/process_definition/`);
    expect(still.stdout).toBe("200");
  });
});
