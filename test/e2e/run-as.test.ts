/**
 * --run-as with real processes: under root, jobs run as nobody unless told
 * otherwise, still read their inputs and write their outputs, and cannot
 * read flue's database, logs, job files, or another job's workdir.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { App } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import { resolveRunAs, hostAccounts } from "../../src/executor/index.ts";
import { BINARY, eventually, inProcess, startBinary, tempDir, TR_DEFINITION, type InProcess } from "../helpers/index.ts";
import { curlJson, USERPASS } from "./support.ts";

const asRoot = process.geteuid!() === 0;
const runAs = (text: string) => resolveRunAs(text, "--run-as", hostAccounts());
const STDOUT = { output_type: "file", output_parameters: { file_type: "stream", stream_name: "STDOUT" } };
const FILES = {
  input_adapter: { input_type: "file", input_parameters: { file_path: "${input_file}" } },
  output_adapter: { output_type: "file", output_parameters: { file_path: "${output_file}" } },
};
const sh = (script: string, extra: object = {}) => ({ exec: "/bin/sh", argv: ["-c", script, "sh"], output_adapter: STDOUT, ...extra });

/** Registers `definition` on `f` and runs one job of it to its end. */
async function runJob(f: InProcess, definition: object, job: object = {}) {
  const def = await f.json("POST", "/api/process_definition/", { definition });
  expect(def.status).toBe(201);
  const res = await f.json("POST", "/api/job/", { process_definition: def.body.id, ...job });
  expect(res.status).toBe(201);
  return (await f.json("GET", `/api/job/${res.body.id}/?wait=20`)).body;
}

const read = async (f: InProcess, path: string) => (await f.call("GET", path)).text();
const mode = (path: string) => statSync(path).mode & 0o7777;

describe.skipIf(!asRoot)("as root, by default", () => {
  let f: InProcess;
  beforeAll(async () => {
    f = await inProcess();
  });
  afterAll(() => f.close());

  test("a job may reopen its own stdout and stderr by name (/dev/stdout), as with a pipe; > starts the log over, >> appends", async () => {
    const job = await runJob(f, sh("echo one; echo two >> /dev/stdout; echo three > /dev/stderr; echo four >&2"));
    expect(job.state).toBe("FINISHED");
    expect(await read(f, `/api/job/${job.id}/stdout`)).toBe("one\ntwo\n");
    expect(await read(f, `/api/job/${job.id}/stderr`)).toBe("three\nfour\n");
  });

  test("a job cannot read or hard-link its own logs, so no later job's output can reach it", async () => {
    const job = await runJob(f, sh('cat /proc/self/fd/2 >/dev/null; ln -L /proc/self/fd/1 "$HOME/mine"; ln -L /proc/self/fd/2 "$HOME/mine2"; echo "made:$(ls "$HOME")" >&2'));
    const err = await read(f, `/api/job/${job.id}/stderr`);
    expect(err).toContain("Permission denied");
    expect(err).toContain("Operation not permitted");
    expect(err).toContain("made:\n");
  });

  test("with one user for every job, a silent job's empty logs are kept for the next (flue's, not readable by the job)", async () => {
    const job = await runJob(f, { exec: "/bin/true" });
    expect(job.state).toBe("FINISHED");
    const spares = readdirSync(join(f.dataDir, "logs", ".spare"));
    expect(spares.length).toBeGreaterThanOrEqual(2);
    for (const s of spares) {
      const st = statSync(join(f.dataDir, "logs", ".spare", s));
      expect([st.uid, st.nlink, st.mode & 0o777, st.size]).toEqual([0, 1, 0o622, 0]);
    }
  });

  test("jobs run as nobody", async () => {
    expect(f.app.executor.runAs).toBe("nobody (65534:65534)");
    const job = await runJob(f, { exec: "/usr/bin/id", argv: ["-u"], output_adapter: STDOUT });
    expect(job.state).toBe("FINISHED");
    expect(await read(f, `/api/job/${job.id}/stdout`)).toBe("65534\n");
    expect((await f.json("GET", "/api/instance/")).body.objects[0].run_as).toBe("nobody (65534:65534)");
  });

  test("the data dir is open for traversal only; the database, jobs/ and logs/ are flue's alone", async () => {
    await runJob(f, sh("true")); // the database and its -wal exist
    expect(mode(f.dataDir)).toBe(0o711);
    expect(mode(join(f.dataDir, "work"))).toBe(0o711);
    for (const dir of ["jobs", "logs", "work/.spare"]) expect([dir, mode(join(f.dataDir, dir))]).toEqual([dir, 0o700]);
    for (const file of ["flue.db", "flue.db-wal"]) expect([file, mode(join(f.dataDir, file))]).toEqual([file, 0o600]);
  });

  test.each([
    ["flue.db", 'cat "$1/flue.db"'],
    ["flue.db-wal", 'cat "$1/flue.db-wal"'],
    ["logs/", 'ls "$1/logs"'],
    ["jobs/", 'ls "$1/jobs"'],
    ["the list of workdirs", 'ls "$1/work"'],
  ])("a job cannot read %s", async (_what, script) => {
    const job = await runJob(f, { ...sh(script), argv: ["-c", script, "sh", f.dataDir] });
    expect(job.state).toBe("FAILED");
    expect(await read(f, `/api/job/${job.id}/stderr`)).toContain("Permission denied");
  });

  test("a finished job's workdir is flue's again, and closed to later jobs", async () => {
    const first = await runJob(f, sh("echo secret > kept.txt"));
    expect(first.state).toBe("FINISHED");
    const workdir = join(f.dataDir, "work", `${first.id}-1`);
    expect(readFileSync(join(workdir, "kept.txt"), "utf8")).toBe("secret\n");
    expect([statSync(workdir).uid, mode(workdir)]).toEqual([0, 0o700]);
    const snoop = await runJob(f, { ...sh('cat "$1"'), argv: ["-c", 'cat "$1"', "sh", join(workdir, "kept.txt")] });
    expect(snoop.state).toBe("FAILED");
    expect(await read(f, `/api/job/${snoop.id}/stderr`)).toContain("Permission denied");
  });

  test("an inline input as a file path, read and written as nobody, comes back as its output", async () => {
    const job = await runJob(f, { exec: "/usr/bin/sort", argv: ["-o", "${output_file}", "${input_file}"], ...FILES }, {
      inputs: { input_file: { content: "pear\napple\nfig\n" } },
    });
    expect(job.state).toBe("FINISHED");
    expect(await read(f, `/api/job/${job.id}/outputs/output_file`)).toBe("apple\nfig\npear\n");
  });

  test("an uploaded input as a file path, and the output in a subdirectory of the workdir", async () => {
    const definition = {
      exec: "/bin/sh",
      argv: ["-c", 'id -u > "$2"; cat "$1" >> "$2"', "sh", "${input_file}", "${output_file}"],
      input_adapter: FILES.input_adapter,
      output_adapter: { output_type: "file", output_parameters: { file_path: "out/${job_id}.txt" } },
    };
    const def = await f.json("POST", "/api/process_definition/", { definition });
    expect(def.status).toBe(201);
    const form = new FormData();
    form.set("process_definition", String(def.body.id));
    form.set("input_file", new Blob(["uploaded\n"]), "in.txt");
    const res = await f.call("POST", "/api/job/", form);
    expect(res.status).toBe(201);
    const job = (await f.json("GET", `/api/job/${((await res.json()) as any).id}/?wait=20`)).body;
    expect(job.state).toBe("FINISHED");
    expect(await read(f, `/api/job/${job.id}/outputs/output_file`)).toBe("65534\nuploaded\n");
  });

  test("stdin and stdout streams need nothing: flue opens them", async () => {
    const job = await runJob(f, TR_DEFINITION, { inputs: { input_file: { content: "axbxc" } } });
    expect(job.state).toBe("FINISHED");
    expect(await read(f, `/api/job/${job.id}/outputs/output_file`)).toBe("abc");
  });

  test("$HOME and the workdir are the job's to write while it runs", async () => {
    const job = await runJob(f, sh('echo x > "$HOME/a" && mkdir "$FLUE_JOB_WORKDIR/d" && echo ok'));
    expect(job.state).toBe("FINISHED");
    expect(await read(f, `/api/job/${job.id}/stdout`)).toBe("ok\n");
  });
});

describe.skipIf(!asRoot)("explicitly", () => {
  test("--run-as root runs jobs as root", async () => {
    const f = await inProcess({ runAs: runAs("root") });
    try {
      expect(f.app.executor.runAs).toBe("root (0:0)");
      const job = await runJob(f, { exec: "/usr/bin/id", argv: ["-u"], output_adapter: STDOUT });
      expect(await read(f, `/api/job/${job.id}/stdout`)).toBe("0\n");
    } finally {
      await f.close();
    }
  });

  test("a cwd in an --allow-dir runs there as the job's user; what it may do there is the directory's business", async () => {
    const shared = tempDir("flue-run-as-shared-");
    const f = await inProcess({ allowDirs: [shared.path] });
    try {
      const job = await runJob(f, { exec: "/bin/sh", argv: ["-c", "pwd; id -u; touch x"], cwd: join(shared.path, "${job_id}"), output_adapter: STDOUT });
      expect(job.state).toBe("FAILED"); // flue made the directory; nobody may not write in it
      expect(await read(f, `/api/job/${job.id}/stdout`)).toBe(`${join(shared.path, job.id)}\n65534\n`);
      expect(await read(f, `/api/job/${job.id}/stderr`)).toContain("Permission denied");
    } finally {
      await f.close();
      shared.remove();
    }
  });

  test("a data dir the job's user cannot reach is refused at start, saying why", () => {
    const dir = tempDir();
    try {
      chmodSync(dir.path, 0o700);
      const config = loadConfig(["--data-dir", join(dir.path, "data")], {});
      expect(() => new App(config)).toThrow(`jobs run as nobody (65534:65534), who cannot pass through ${dir.path}`);
      expect(existsSync(join(dir.path, "data", "flue.db"))).toBe(false);
    } finally {
      dir.remove();
    }
  });
});

describe.skipIf(!asRoot)("a uid per slot", () => {
  let f: InProcess;
  beforeAll(async () => {
    f = await inProcess({ slots: 2, runAs: runAs("61184-61185") });
  });
  afterAll(() => f.close());

  test("two jobs running at once cannot read each other's workdir", async () => {
    const def = async (definition: object) => (await f.json("POST", "/api/process_definition/", { definition })).body.id;
    const holder = await def(sh("id -u; echo secret > held.txt; sleep 30"));
    const res = await f.json("POST", "/api/job/", { process_definition: holder });
    const heldBy = res.body.id as string;
    const held = join(f.dataDir, "work", `${heldBy}-1`, "held.txt");
    await eventually(() => existsSync(held));
    const snoop = await runJob(f, { ...sh('id -u; cat "$1"'), argv: ["-c", 'id -u; cat "$1"', "sh", held] });
    expect(snoop.state).toBe("FAILED");
    expect(await read(f, `/api/job/${snoop.id}/stderr`)).toContain("Permission denied");
    const uids = [await read(f, `/api/job/${heldBy}/stdout`), await read(f, `/api/job/${snoop.id}/stdout`)].map(Number).sort();
    expect(uids).toEqual([61184, 61185]);
    expect((await f.json("POST", `/api/job/${heldBy}/cancel`)).status).toBeLessThan(300);
  });

  test("no job's empty log is ever another's: with a uid per slot, logs are not reused", async () => {
    for (let i = 0; i < 3; i++) expect((await runJob(f, { exec: "/bin/true" })).state).toBe("FINISHED");
    const spares = join(f.dataDir, "logs", ".spare");
    expect(existsSync(spares) ? readdirSync(spares) : []).toEqual([]);
  });
});

describe.skipIf(!asRoot)("the binary", () => {
  test("FLUE_RUN_AS=root is explicit; /api/instance/ says whom jobs run as", async () => {
    const b = await startBinary({ env: { FLUE_RUN_AS: "root" } });
    try {
      const instances = await curlJson("-u", USERPASS, `${b.url}/api/instance/`);
      expect(instances.objects[0].run_as).toBe("root (0:0)");
    } finally {
      await b.stop();
    }
  });

  test("an unknown --run-as user stops flue at start, naming the flag", async () => {
    const data = tempDir();
    try {
      const proc = Bun.spawn({ cmd: [BINARY, "serve", "--data-dir", data.path, "--run-as", "no-such-user-x"], stderr: "pipe", stdout: "pipe" });
      const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
      expect(code).not.toBe(0);
      expect(err).toContain('--run-as: no user "no-such-user-x" in /etc/passwd');
    } finally {
      data.remove();
    }
  });
});
