/**
 * The jobs API: submit (one, many, multipart), NEW → PATCH → queue, cancel in
 * every state, delete, ?wait, and the filtered list. One slot, so a running
 * `sleep` holds the next job in QUEUED.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { eventually, inProcess, TR_DEFINITION, type InProcess } from "../helpers/index.ts";

let f: InProcess;
const defs: Record<string, number> = {};
const STDIO = { input_adapter: TR_DEFINITION.input_adapter, output_adapter: TR_DEFINITION.output_adapter };

beforeAll(async () => {
  f = await inProcess({ slots: 1 });
  const all: Record<string, Record<string, unknown>> = {
    tr: TR_DEFINITION,
    prefix: { exec: "/bin/sh", argv: ["-c", 'printf "%s:" "$1"; cat', "sh", "${prefix}"], parameters: { prefix: { required: true } }, ...STDIO },
    sleep: { exec: "sleep", argv: ["${seconds}"], parameters: { seconds: { default: "30", pattern: "[0-9.]+" } } },
    listed: { exec: "/bin/true" },
    quick: { exec: "/bin/true" },
    litter: { exec: "/bin/sh", argv: ["-c", "echo x > left-behind; echo done"] },
    inode: { exec: "/bin/sh", argv: ["-c", "stat -c %i ."], output_adapter: TR_DEFINITION.output_adapter },
  };
  for (const [name, definition] of Object.entries(all)) {
    const res = await f.json("POST", "/api/process_definition/", { definition: { ...definition, name } });
    expect(res.status).toBe(201);
    defs[name] = res.body.id;
  }
});
afterAll(() => f.close());

const submit = (body: unknown) => f.json("POST", "/api/job/", body);
const finished = async (id: string) => (await f.json("GET", `/api/job/${id}/?wait=20`)).body;
const output = async (id: string, name = "output_file") => (await f.call("GET", `/api/job/${id}/outputs/${name}`)).text();
const total = async () => (await f.json("GET", "/api/job/")).body.meta.total_count as number;
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
/** Starts a `sleep 30` job and resolves once its process runs, with the job id and pid. */
async function runningSleep() {
  const { body } = await submit({ process_definition: "sleep" });
  const pid = await eventually(async () => {
    const events = (await f.json("GET", `/api/job/${body.id}/events/`)).body.objects;
    return (events.find((e: any) => e.type === "execution.started")?.pid ?? 0) as number;
  });
  expect(alive(pid)).toBe(true);
  return { id: body.id as string, pid };
}

describe("submitting", () => {
  test("one JSON body answers 201 with Location and runs", async () => {
    const res = await f.call("POST", "/api/job/", { process_definition: defs.tr, inputs: { input_file: { content: "axbxcx" } } });
    expect(res.status).toBe(201);
    const job = (await res.json()) as any;
    expect(job.id).toMatch(/^[0-9a-z]{26}$/);
    expect(res.headers.get("location")).toBe(`http://flue.test/api/job/${job.id}/`);
    expect(job).toMatchObject({ resource_uri: `/api/job/${job.id}/`, process_definition: `/api/process_definition/${defs.tr}/`, definition_version: 1, owner: "admin" });
    expect(["QUEUED", "RUNNING"]).toContain(job.state);
    const done = await finished(job.id);
    expect(done).toMatchObject({ state: "FINISHED", exit_status: 0, attempts: 1 });
    expect(await output(job.id)).toBe("abc");
  });

  test.each([
    ["an id", () => defs.tr],
    ["an id as text", () => String(defs.tr)],
    ["a name", () => "tr"],
    ["a resource_uri", () => `/api/process_definition/${defs.tr}/`],
  ])("process_definition may be %s", async (_, ref) => {
    const { status, body } = await submit({ process_definition: ref(), inputs: { input_file: { content: "xyx" } } });
    expect(status).toBe(201);
    expect(body.process_definition).toBe(`/api/process_definition/${defs.tr}/`);
    expect(body.process_definition_name).toBe("tr");
    expect((await finished(body.id)).state).toBe("FINISHED");
    expect(await output(body.id)).toBe("y");
  });

  test("a JSON array submits every job", async () => {
    const before = await total();
    const texts = ["xax", "bxx", "xxc"];
    const { status, body } = await submit(texts.map((t) => ({ process_definition: "tr", inputs: { input_file: { content: t } } })));
    expect(status).toBe(201);
    expect(body.meta.total_count).toBe(3);
    expect(body.objects).toHaveLength(3);
    expect(await total()).toBe(before + 3);
    const outs = [];
    for (const job of body.objects) {
      expect((await finished(job.id)).state).toBe("FINISHED");
      outs.push(await output(job.id));
    }
    expect(outs).toEqual(["a", "b", "c"]);
  });

  test.each([
    ["a bad parameter", { process_definition: "prefix", parameters: { prefix: "p", nope: 1 }, inputs: { input_file: { content: "" } } }, 400, "1.parameters.nope"],
    ["a missing input", { process_definition: "tr" }, 400, "1.inputs.input_file"],
    ["an unknown definition", { process_definition: "no-such-definition" }, 404, "1.process_definition"],
  ])("an array with %s submits nothing", async (_, bad, status, path) => {
    const before = await total();
    const good = { process_definition: "tr", inputs: { input_file: { content: "x" } } };
    const res = await submit([good, bad, good]);
    expect(res.status).toBe(status);
    expect(res.body.error.fields.map((x: any) => x.path)).toContain(path);
    expect(await total()).toBe(before);
  });

  test("multipart: a file named after the input, parameters as plain fields", async () => {
    const form = new FormData();
    form.set("process_definition", "prefix");
    form.set("prefix", "hello");
    form.set("input_file", new Blob(["axbxcx"]), "in.txt");
    const res = await f.call("POST", "/api/job/", form);
    expect(res.status).toBe(201);
    const job = (await res.json()) as any;
    expect(res.headers.get("location")).toBe(`http://flue.test/api/job/${job.id}/`);
    expect(job.parameters).toEqual({ prefix: "hello" });
    expect(job.inputs.input_file).toMatchObject({ source: "upload", size: 6, file_name: "in.txt" });
    expect((await finished(job.id)).state).toBe("FINISHED");
    expect(await output(job.id)).toBe("hello:axbxcx");
  });
});

describe("NEW jobs", () => {
  test("NEW, PATCH parameters and inputs, then queue", async () => {
    const { status, body } = await submit({ process_definition: "prefix", parameters: { prefix: "a" }, state: "NEW" });
    expect(status).toBe(201);
    expect(body.state).toBe("NEW");

    const early = await f.json("POST", `/api/job/${body.id}/queue`);
    expect(early.status).toBe(400);
    expect(early.body.error.fields).toEqual([{ path: "inputs.input_file", message: expect.any(String) }]);

    const patched = await f.json("PATCH", `/api/job/${body.id}/`, { parameters: { prefix: "b" }, inputs: { input_file: { content: "xyz" } } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ state: "NEW", parameters: { prefix: "b" }, inputs: { input_file: { source: "inline", size: 3 } } });

    const queued = await f.json("POST", `/api/job/${body.id}/queue`);
    expect(queued.status).toBe(200);
    expect(["QUEUED", "RUNNING", "FINISHED"]).toContain(queued.body.state);
    expect((await finished(body.id)).state).toBe("FINISHED");
    expect(await output(body.id)).toBe("b:xyz");

    for (const [method, path] of [["PATCH", `/api/job/${body.id}/`], ["POST", `/api/job/${body.id}/queue`]]) {
      const again = await f.json(method, path, method === "PATCH" ? { parameters: { prefix: "c" } } : undefined);
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe("conflict");
    }
  });

  test("PATCH with state QUEUED queues the job", async () => {
    const { body } = await submit({ process_definition: "tr", state: "NEW" });
    const res = await f.json("PATCH", `/api/job/${body.id}`, { inputs: { input_file: { content: "qxq" } }, state: "QUEUED" });
    expect(res.status).toBe(200);
    expect((await finished(body.id)).state).toBe("FINISHED");
    expect(await output(body.id)).toBe("qq");
  });
});

describe("cancel and delete", () => {
  test("cancels NEW, QUEUED and RUNNING jobs; a finished job is a 409", async () => {
    const running = await runningSleep();
    const queued = (await submit({ process_definition: "tr", inputs: { input_file: { content: "x" } } })).body;
    const fresh = (await submit({ process_definition: "tr", state: "NEW" })).body;
    expect((await f.json("GET", `/api/job/${queued.id}/`)).body.state).toBe("QUEUED");

    for (const job of [fresh, queued]) {
      const res = await f.json("POST", `/api/job/${job.id}/cancel`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ state: "CANCELLED", attempts: 0 });
      expect(res.body.messages.map((m: any) => m.text)).toContain("cancelled by admin");
    }

    const began = performance.now();
    const res = await f.json("POST", `/api/job/${running.id}/cancel`);
    expect(res.status).toBe(200);
    expect(res.body.state).toBe("CANCELLED");
    expect(performance.now() - began).toBeLessThan(2000);
    await eventually(() => !alive(running.pid), 2000);

    const again = await f.json("POST", `/api/job/${running.id}/cancel`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("conflict");
    expect((await f.json("GET", `/api/job/${queued.id}/`)).body.state).toBe("CANCELLED");
  });

  test("DELETE removes a finished job, its workdir and its logs", async () => {
    const { body } = await submit({ process_definition: "litter" });
    await finished(body.id);
    const dir = join(f.dataDir, "logs", `${body.id}-1.stdout`);
    const work = join(f.dataDir, "work", `${body.id}-1`);
    expect(existsSync(dir)).toBe(true);
    expect(existsSync(work)).toBe(true);
    expect((await f.call("DELETE", `/api/job/${body.id}/`)).status).toBe(204);
    const gone = await f.json("GET", `/api/job/${body.id}/`);
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe("not_found");
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(work)).toBe(false);
    expect((await f.call("DELETE", `/api/job/${body.id}`)).status).toBe(404);
  });

  test("a workdir left empty is reused by the next attempt; one left with files is kept", async () => {
    const spareRoot = join(f.dataDir, "work", ".spare");
    const first = (await submit({ process_definition: "tr", inputs: { input_file: { content: "x" } } })).body;
    expect((await finished(first.id)).state).toBe("FINISHED");
    expect(existsSync(join(f.dataDir, "work", `${first.id}-1`))).toBe(false);
    const spares = readdirSync(spareRoot);
    expect(spares.length).toBeGreaterThan(0);
    const inodes = new Set(spares.map((s) => String(statSync(join(spareRoot, s)).ino)));
    const second = (await submit({ process_definition: "inode" })).body;
    expect((await finished(second.id)).state).toBe("FINISHED");
    expect(inodes.has((await output(second.id)).trim())).toBe(true);

    const kept = (await submit({ process_definition: "litter" })).body;
    expect((await finished(kept.id)).state).toBe("FINISHED");
    expect(readdirSync(join(f.dataDir, "work", `${kept.id}-1`))).toEqual(["left-behind"]);
  });

  test("DELETE stops a running job first", async () => {
    const { id, pid } = await runningSleep();
    const work = join(f.dataDir, "work", `${id}-1`);
    expect(existsSync(work)).toBe(true);
    expect((await f.call("DELETE", `/api/job/${id}`)).status).toBe(204);
    await eventually(() => !alive(pid), 2000);
    expect(existsSync(work)).toBe(false);
    expect((await f.json("GET", `/api/job/${id}/`)).status).toBe(404);
  });
});

describe("queue order", () => {
  test("a job queued later from NEW still starts before newer queued jobs", async () => {
    // C is older than B and D. B takes the slot; D is queued behind it; then C
    // is queued from NEW. The queue must go back for C rather than go on after B.
    const c = (await submit({ process_definition: "quick", state: "NEW" })).body;
    const b = (await submit({ process_definition: "sleep", parameters: { seconds: "0.4" } })).body;
    await eventually(async () => (await f.json("GET", `/api/job/${b.id}/`)).body.state === "RUNNING");
    const d = (await submit({ process_definition: "quick" })).body;
    expect((await f.json("POST", `/api/job/${c.id}/queue`)).status).toBe(200);
    const [cDone, dDone] = [await finished(c.id), await finished(d.id)];
    expect([cDone.state, dDone.state]).toEqual(["FINISHED", "FINISHED"]);
    expect(Date.parse(cDone.started_at)).toBeLessThanOrEqual(Date.parse(dDone.started_at));
  });

  test("jobs start in the order they were queued", async () => {
    const blocker = (await submit({ process_definition: "sleep", parameters: { seconds: "0.2" } })).body;
    const ids: string[] = [];
    for (let i = 0; i < 70; i++) ids.push((await submit({ process_definition: "quick" })).body.id);
    await finished(blocker.id);
    const started: number[] = [];
    for (const id of ids) started.push(Date.parse((await finished(id)).started_at));
    expect(started).toEqual([...started].sort((x, y) => x - y));
  });
});

describe("waiting and listing", () => {
  test("?wait=N answers when the job is final, ?wait=0 at once", async () => {
    const { body } = await submit({ process_definition: "sleep", parameters: { seconds: "0.3" } });
    const now = await f.json("GET", `/api/job/${body.id}/?wait=0`);
    expect(["QUEUED", "RUNNING"]).toContain(now.body.state);
    const began = performance.now();
    const done = await f.json("GET", `/api/job/${body.id}/?wait=10`);
    expect(done.body.state).toBe("FINISHED");
    expect(performance.now() - began).toBeLessThan(5000);
  });

  test("?wait=N gives up after N seconds with the job as it is", async () => {
    const { id } = await runningSleep();
    const began = performance.now();
    const res = await f.json("GET", `/api/job/${id}/?wait=0.3`);
    expect(res.body.state).toBe("RUNNING");
    expect(performance.now() - began).toBeGreaterThanOrEqual(250);
    expect((await f.json("POST", `/api/job/${id}/cancel`)).body.state).toBe("CANCELLED");
  });

  test("filters by state and definition, newest first", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await submit({ process_definition: "listed", state: "NEW" })).body.id);
    await f.json("POST", `/api/job/${ids[1]}/cancel`);
    const newestFirst = [...ids].reverse();
    const cases: [string, string[]][] = [
      ["process_definition=listed", newestFirst],
      [`process_definition=${defs.listed}`, newestFirst],
      [`process_definition=/api/process_definition/${defs.listed}/`, newestFirst],
      ["process_definition=listed&state=NEW", newestFirst.filter((id) => id !== ids[1])],
      ["process_definition=listed&state=CANCELLED", [ids[1]]],
      ["process_definition=listed&state=NEW,CANCELLED", newestFirst],
      ["process_definition=listed&state=new&state=cancelled", newestFirst],
      ["process_definition=listed&state=FINISHED", []],
    ];
    for (const [query, expected] of cases) {
      const { status, body } = await f.json("GET", `/api/job/?${query}`);
      expect(status).toBe(200);
      expect(body.meta.total_count).toBe(expected.length);
      expect(body.objects.map((j: any) => j.id)).toEqual(expected);
    }
    const page = await f.json("GET", "/api/job/?process_definition=listed&limit=2&offset=1");
    expect(page.body.objects.map((j: any) => j.id)).toEqual(newestFirst.slice(1, 3));
    expect(page.body.meta).toEqual({
      limit: 2,
      // The next link carries the last row as a cursor, so deep pages cost what the first does.
      next: `/api/job/?process_definition=listed&limit=2&offset=3&before=${newestFirst[2]}`,
      offset: 1,
      previous: "/api/job/?process_definition=listed&limit=2&offset=0",
      total_count: 4,
    });
    const next = await f.json("GET", page.body.meta.next);
    expect(next.body.objects.map((j: any) => j.id)).toEqual(newestFirst.slice(3));
    expect(next.body.meta.offset).toBe(3);
    expect(next.body.meta.next).toBeNull();
    const bad = await f.json("GET", "/api/job/?before=nosuchjob");
    expect(bad.status).toBe(400);
    expect(bad.body.error.fields).toEqual([{ path: "before", message: expect.stringContaining("id of a job") }]);
    const finishedTr = await f.json("GET", "/api/job/?state=FINISHED&process_definition=tr&limit=1000");
    expect(finishedTr.body.objects.length).toBe(finishedTr.body.meta.total_count);
    expect(finishedTr.body.objects.every((j: any) => j.state === "FINISHED" && j.process_definition_name === "tr")).toBe(true);
  });
});
