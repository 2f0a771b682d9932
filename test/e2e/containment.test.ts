/**
 * What a job may touch: every process of a job goes when it ends (by exit,
 * by timeout, by cancel), with cgroups where the host offers them and with
 * process groups where it does not; which executables a definition may
 * run; parameters that must not read as options. Real processes, found
 * through /proc by the FLUE_JOB_ID every one of them inherits.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, rmdirSync } from "node:fs";
import { openContainment } from "../../src/executor/containment.ts";
import { eventually, inProcess, type InProcess } from "../helpers/index.ts";

/** Pids whose environment carries FLUE_JOB_ID=<id>. */
function pidsOf(jobId: string): number[] {
  const marker = `FLUE_JOB_ID=${jobId}\0`;
  const pids: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const env = readFileSync(`/proc/${d}/environ`, "latin1");
      if (env.startsWith(marker) || env.includes(`\0${marker}`)) pids.push(Number(d));
    } catch {}
  }
  return pids;
}

const seen: string[] = [];
afterAll(() => {
  // Whatever a failed test left behind.
  for (const id of seen) for (const pid of pidsOf(id)) try { process.kill(pid, "SIGKILL"); } catch {}
});

const TREES = {
  "100 children": { script: "for i in $(seq 100); do sleep 60 & done", count: 101 },
  "a SIGTERM-ignoring tree": { script: "trap '' TERM; sleep 60 &", count: 2 },
  "a setsid daemon": { script: "setsid sh -c 'sleep 60 &'", count: 2 },
} as const;

const ENDS = {
  exit: { tail: "", timeout: null, cancel: false, state: "FINISHED" },
  timeout: { tail: "\nsleep 60", timeout: 1, cancel: false, state: "FAILED" },
  cancel: { tail: "\nsleep 60", timeout: null, cancel: true, state: "CANCELLED" },
} as const;

const probe = openContainment(`probe-${process.pid}`);
probe.close();
const cgroupsHere = probe.kind === "cgroup";

for (const mode of ["auto", "process-group"] as const) {
  describe(`containment ${mode}`, () => {
    let f: InProcess;
    afterAll(() => f?.close());

    test("the instance says which containment is in use", async () => {
      f = await inProcess({ containment: mode, slots: 8 });
      const { body } = await f.json("GET", "/api/instance/");
      expect(body.objects[0].containment).toBe(mode === "auto" && cgroupsHere ? "cgroup" : "process-group");
    });

    for (const [tree, { script, count }] of Object.entries(TREES)) {
      // A daemon that calls setsid leaves the process group: only a cgroup holds it.
      const escapes = tree === "a setsid daemon" && (mode === "process-group" || !cgroupsHere);
      for (const [end, e] of Object.entries(ENDS)) {
        test.skipIf(escapes)(`${tree}, ended by ${end}: no process of the job remains`, async () => {
          const def = await f.json("POST", "/api/process_definition/", {
            definition: { exec: "/bin/sh", argv: ["-c", script + e.tail], timeout: e.timeout },
          });
          expect(def.status).toBe(201);
          const { body: job } = await f.json("POST", "/api/job/", { process_definition: def.body.id });
          seen.push(job.id);
          if (e.cancel) {
            await eventually(() => pidsOf(job.id).length >= count);
            expect((await f.json("POST", `/api/job/${job.id}/cancel`)).status).toBe(200);
          }
          const done = await eventually(async () => {
            const j = (await f.json("GET", `/api/job/${job.id}/?wait=5`)).body;
            return ["FINISHED", "FAILED", "CANCELLED"].includes(j.state) && j;
          }, 15_000);
          expect(done.state).toBe(e.state);
          await eventually(() => pidsOf(job.id).length === 0, 3_000);
        }, 20_000);
      }
    }
  });
}

describe.skipIf(!cgroupsHere)("cgroups", () => {
  test("a cell holds a setsid daemon; recovery of the same instance kills it and removes the cell; close removes flue's directory", async () => {
    const id = `test-${process.pid}-${Date.now()}`;
    const first = openContainment(id);
    const { value: proc } = first.spawnIn((cgroup) =>
      Bun.spawn({ cgroup, cmd: ["/bin/sh", "-c", "setsid sh -c 'sleep 60 &'"], env: { FLUE_JOB_ID: id }, detached: true }),
    );
    await proc.exited;
    // setsid forks (its shell leads a group) and returns at once: the daemon comes a moment later.
    await eventually(() => pidsOf(id).length === 1, 3_000); // the daemon, outside the process group
    // flue "crashed" without destroying the cell; the next start finds it.
    const again = openContainment(id);
    expect(again.recover()).toEqual(["cell-1"]);
    expect(pidsOf(id)).toEqual([]);
    again.close();
    const home = (readFileSync("/proc/self/cgroup", "utf8").match(/^0::(.*)$/m) ?? [])[1];
    const mount = readFileSync("/proc/self/mountinfo", "utf8").split("\n").find((l) => l.includes(" - cgroup2 "))!.split(" ")[4];
    expect(existsSync(`${mount}${home === "/" ? "" : home}/flue-${id}`)).toBe(false);
  });
});

describe.skipIf(!cgroupsHere)("cells, reused", () => {
  test("a cell that was killed is never born into again: the jobs after a killed tree run as usual", async () => {
    // One slot: every job would take the same cell from the pool.
    const f = await inProcess({ containment: "auto", slots: 1 });
    try {
      const define = async (definition: object) => (await f.json("POST", "/api/process_definition/", { definition })).body.id;
      const run = async (def: number) => (await f.json("GET", `/api/job/${(await f.json("POST", "/api/job/", { process_definition: def })).body.id}/?wait=15`)).body;
      const killed = await run(await define({ exec: "/bin/sh", argv: ["-c", "trap '' TERM; sleep 60"], timeout: 1 }));
      expect(killed.state).toBe("FAILED");
      const plain = await define({ exec: "/bin/sh", argv: ["-c", "exit 3"] });
      for (let i = 0; i < 3; i++) expect((await run(plain)).exit_status).toBe(3);
    } finally {
      f.close();
    }
  }, 20_000);
});

describe.skipIf(!cgroupsHere)("cgroups that stop working", () => {
  test("a job still runs, in its process group, and the instance says so", async () => {
    const f = await inProcess({ containment: "auto" });
    try {
      const def = (await f.json("POST", "/api/process_definition/", { definition: { exec: "/bin/true" } })).body;
      const run = async () => (await f.json("GET", `/api/job/${(await f.json("POST", "/api/job/", { process_definition: def.id })).body.id}/?wait=10`)).body;
      expect((await run()).state).toBe("FINISHED");
      // Take flue's cgroup directory away between two jobs (its one cell is empty then).
      const home = (readFileSync("/proc/self/cgroup", "utf8").match(/^0::(.*)$/m) ?? [])[1];
      const mount = readFileSync("/proc/self/mountinfo", "utf8").split("\n").find((l) => l.includes(" - cgroup2 "))!.split(" ")[4];
      const dir = `${mount}${home === "/" ? "" : home}/flue-${f.app.instance.id}`;
      rmdirSync(`${dir}/cell-1`);
      rmdirSync(dir);
      expect((await run()).state).toBe("FINISHED");
      expect((await f.json("GET", "/api/instance/")).body.objects[0].containment).toBe("process-group");
    } finally {
      await f.close();
    }
  });
});

describe("executables allowed", () => {
  let f: InProcess;
  afterAll(() => f?.close());

  test("registration refuses an exec outside --allow-exec or on --deny-exec, with the field exec", async () => {
    f = await inProcess({ allowExec: ["/usr/bin/tr", "/bin/true", "/usr/bin/"], denyExec: ["/bin/sh"] });
    const post = (definition: object) => f.json("POST", "/api/process_definition/", { definition });
    for (const [exec, why] of [
      ["/usr/sbin/nologin", "not allowed by --allow-exec"],
      ["sh", "refused by --deny-exec"],
      ["/bin/dash", "refused by --deny-exec"], // /bin/sh's real path here (or itself)
      ["no-such-program", "not found"],
    ]) {
      const res = await post({ exec });
      if (exec === "/bin/dash" && !existsSync("/bin/dash")) continue;
      expect(res.status).toBe(400);
      expect(res.body.error.fields).toEqual([{ path: "definition.exec", message: expect.stringContaining(why) }]);
    }
    expect((await post({ exec: "tr", argv: ["-d", "x"] })).status).toBe(201);
    expect((await post({ exec: "/bin/true" })).status).toBe(201);
  });

  test("a definition registered before the flags changed fails at run time with the reason, not retried", async () => {
    // As if stored by an earlier flue without the flags.
    const row = f.app.store.definitions.create({ exec: "/usr/sbin/nologin", retries: { count: 3 } } as any, "admin");
    const { body: job } = await f.json("POST", "/api/job/", { process_definition: row.id });
    const done = await eventually(async () => {
      const j = (await f.json("GET", `/api/job/${job.id}/?wait=5`)).body;
      return j.state === "FAILED" && j;
    });
    expect(done.attempts).toBe(1);
    expect(done.messages.map((m: any) => m.text).join("\n")).toContain("is not allowed by --allow-exec");
  });
});

describe("parameters with options: false", () => {
  let f: InProcess;
  afterAll(() => f?.close());

  test("a value starting with '-' is a 400 naming parameters.<name>; others run", async () => {
    f = await inProcess();
    const def = await f.json("POST", "/api/process_definition/", {
      definition: { exec: "/bin/echo", argv: ["${word}", "${n}"], parameters: { word: { options: false }, n: { type: "integer", default: 1, options: false } } },
    });
    expect(def.status).toBe(201);
    expect(def.body.definition?.parameters?.word ?? def.body.parameters?.word).toEqual({ options: false });
    const bad = await f.json("POST", "/api/job/", { process_definition: def.body.id, parameters: { word: "--help", n: -1 } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.fields.map((e: any) => e.path).sort()).toEqual(["parameters.n", "parameters.word"]);
    const ok = await f.json("POST", "/api/job/", { process_definition: def.body.id, parameters: { word: "a-b" } });
    expect(ok.status).toBe(201);
  });

  test("a default or enum value that starts with '-' is refused at registration", async () => {
    const res = await f.json("POST", "/api/process_definition/", {
      definition: { exec: "/bin/echo", parameters: { w: { options: false, default: "-x" } } },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.fields[0].path).toBe("definition.parameters.w.default");
  });
});
