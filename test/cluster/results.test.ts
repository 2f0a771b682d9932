/**
 * Results anywhere, against a real nats-server and two instances of the
 * compiled binary: jobs run on B (only B offers label `b`) and are read on
 * A. A job's stdout, stderr and kept output download from A byte for byte
 * as from B, API and UI alike; `stdout?follow=1` on A streams a log while
 * the job runs on B and ends when it does; deleting a job removes its
 * objects from bucket `flue_results`; an attempt that cannot share its
 * files still finishes, and A reads them from B; once B is killed, A
 * still serves what B ran.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Objm } from "@nats-io/obj";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { eventually, startBinary, tempDir, type Binary } from "../helpers/index.ts";
import { startNatsServer, type NatsServer } from "./nats-server.ts";
import { type Job, type Member, getJob, post, signIn, withId } from "./fleet.ts";


let nats: NatsServer;
let nc: NatsConnection;
const binaries: Binary[] = [];
const dirs: { remove: () => void }[] = [];
let a: Member, b: Member;

async function member(label: string): Promise<Member> {
  const dir = tempDir();
  dirs.push(dir);
  const bin = await startBinary({ dataDir: dir.path, args: ["--nats", nats.url, "--heartbeat", "0.5s", "--slots", "2", "--labels", label] });
  binaries.push(bin);
  return withId(bin);
}

async function define(definition: object): Promise<number> {
  const made = await post(a, "/api/process_definition/", { definition });
  expect(made.status).toBe(201);
  await eventually(async () => (await b.fetch(`/api/process_definition/${made.body.id}/`)).status === 200, 5000);
  return made.body.id;
}
/** Submits on A and waits until A shows the job ended. */
async function runOnB(definition: number): Promise<Job> {
  const made = await post(a, "/api/job/", { process_definition: definition });
  expect(made.status).toBe(201);
  const job = (await (await a.fetch(`/api/job/${made.body.id}/?wait=60`)).json()) as Job;
  expect(job.state).toBe("FINISHED");
  expect(job.instance).toBe(b.id);
  return job;
}

const sha256 = (bytes: ArrayBuffer) => new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
/**
 * A download: its status, the headers a client saves it by, and its bytes'
 * digest and length. Content-Length is checked apart: Bun sends a body
 * streamed from elsewhere chunked, without it (oven-sh/bun#10507).
 */
async function download(x: Binary, path: string, init: RequestInit = {}) {
  const res = await x.fetch(path, init);
  const bytes = await res.arrayBuffer();
  const declared = res.headers.get("content-length");
  if (declared !== null) expect(Number(declared)).toBe(bytes.byteLength);
  return {
    status: res.status,
    headers: ["content-type", "content-disposition"].map((h) => res.headers.get(h)),
    length: bytes.byteLength,
    sha256: sha256(bytes),
  };
}
/** Names of the objects in the results bucket. */
async function objects(): Promise<string[]> {
  const os = await new Objm(nc).open("flue_results");
  return (await os.list()).filter((o) => !o.deleted).map((o) => o.name);
}
beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  [a, b] = await Promise.all([member("a"), member("b")]);
  await eventually(async () => ((await (await a.fetch("/api/instance/")).json()) as any).objects?.filter((m: any) => m.state === "ACTIVE").length === 2, 5000);
});
afterAll(async () => {
  await nc?.close();
  for (const x of binaries) if (x.proc.exitCode === null) await x.kill9();
  await nats.remove();
  for (const d of dirs) d.remove();
});

/** The job of the first test, and its files as B serves them. */
let binary: Job;
const onB: Record<string, Awaited<ReturnType<typeof download>>> = {};
const files = (job: Job) => [`/api/job/${job.id}/stdout`, `/api/job/${job.id}/stderr`, `/api/job/${job.id}/outputs/output_file`];

test("stdout, stderr and an output of a job run on B download from A byte for byte, API and UI alike", async () => {
  const def = await define({
    name: "random",
    exec: "/bin/sh",
    argv: ["-c", 'head -c 3000000 /dev/urandom | tee "$1"; head -c 200000 /dev/urandom >&2', "sh", "${output_file}"],
    output_adapter: { output_type: "file", output_parameters: { file_path: "${output_file}" } },
    application: "b",
  });
  binary = await runOnB(def);
  expect(binary.outputs.output_file.size).toBe(3_000_000);
  for (const path of files(binary)) {
    onB[path] = await download(b, path);
    expect(onB[path].status).toBe(200);
    expect(await download(a, path)).toEqual(onB[path]);
  }
  expect(onB[files(binary)[0]].length).toBe(3_000_000);
  expect(onB[files(binary)[1]].length).toBe(200_000);
  expect(onB[files(binary)[0]].sha256).toBe(onB[files(binary)[2]].sha256);
  // The job page's downloads, with the same names and lengths as on B.
  const [sessionA, sessionB] = await Promise.all([signIn(a), signIn(b)]);
  for (const part of ["stdout", "stderr", "outputs/output_file"]) {
    const path = `/jobs/${binary.id}/${part}`;
    const there = await download(b, path, { headers: { cookie: `flue_session=${sessionB}` } });
    expect(there.status).toBe(200);
    expect(await download(a, path, { headers: { cookie: `flue_session=${sessionA}` } })).toEqual(there);
  }
  // Logs longer than 64 KiB also as their tails, for pages that show only that.
  expect((await objects()).sort()).toEqual([`jobs/${binary.id}/outputs/output_file`, `logs/${binary.id}-1.stderr`, `logs/${binary.id}-1.stderr.tail`, `logs/${binary.id}-1.stdout`, `logs/${binary.id}-1.stdout.tail`]);
});

let lines: Job;
test("stdout?follow=1 on A streams the log of a job while it runs on B, and ends when the job does", async () => {
  const def = await define({ name: "lines", exec: "/bin/sh", argv: ["-c", "for i in 1 2 3 4 5 6 7 8 9 10; do echo line $i; sleep 0.3; done"], application: "b" });
  const made = await post(a, "/api/job/", { process_definition: def });
  expect(made.status).toBe(201);
  // The job page's live tail on A, meanwhile: log text as it grows, until the job ends.
  const session = await signIn(a);
  const live = a.fetch(`/jobs/${made.body.id}/live`, { headers: { cookie: `flue_session=${session}` } }).then((r) => r.text());
  const res = await a.fetch(`/api/job/${made.body.id}/stdout?follow=1`);
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let stateAtFirstLine: string | undefined;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    if (stateAtFirstLine === undefined && text.includes("line 1\n")) stateAtFirstLine = (await getJob(b, made.body.id))!.state;
  }
  expect(stateAtFirstLine).toBe("RUNNING");
  expect(text).toBe(Array.from({ length: 10 }, (_, i) => `line ${i + 1}\n`).join(""));
  lines = (await getJob(a, made.body.id))!;
  expect(lines.state).toBe("FINISHED");
  expect(lines.instance).toBe(b.id);
  const tail = await live;
  expect(tail).toContain("event: done");
  const parts = [...tail.matchAll(/<hx-partial hx-target="#log-stdout" hx-swap="(\w+)">([^<]*)/g)];
  expect(parts.length).toBeGreaterThan(1); // the tail, then what it grew by
  expect(parts.map((p) => p[2].replace(/\ndata: /g, "\n")).join("")).toBe(text); // SSE sends each line as `data: …`
  // Ended: follow reads it from the object store at once; the job page on A shows its tail.
  expect(await (await a.fetch(`/api/job/${lines.id}/stdout?follow=1`)).text()).toBe(text);
  const page = await a.fetch(`/jobs/${lines.id}`, { headers: { cookie: `flue_session=${session}` } });
  expect(await page.text()).toContain("line 10");
});

test("deleting a job on A removes its objects from the bucket", async () => {
  expect(await objects()).toContain(`logs/${lines.id}-1.stdout`);
  const res = await a.fetch(`/api/job/${lines.id}/`, { method: "DELETE" });
  expect(res.status).toBe(204);
  expect((await objects()).filter((n) => n.includes(lines.id))).toEqual([]);
  await eventually(async () => (await getJob(a, lines.id)) === undefined, 5000);
  expect((await objects()).length).toBe(5); // the first job's stay
});

test("an attempt that ends while NATS is away finishes all the same, says its files were not shared, and A reads them from B", async () => {
  const def = await define({ name: "nap", exec: "/bin/sh", argv: ["-c", "sleep 2; echo rested"], application: "b" });
  const made = await post(a, "/api/job/", { process_definition: def });
  expect(made.status).toBe(201);
  await eventually(async () => (await getJob(a, made.body.id))?.state === "RUNNING", 10_000);
  await nats.stop();
  try {
    await eventually(async () => (await getJob(b, made.body.id))?.state === "FINISHED", 15_000);
  } finally {
    await nats.start();
  }
  await eventually(async () => (await getJob(a, made.body.id))?.state === "FINISHED", 20_000);
  const job = (await getJob(a, made.body.id)) as Job & { messages: { level: string; text: string }[] };
  expect(job.messages.some((m) => m.level === "warning" && m.text.includes("were not shared with the fleet"))).toBe(true);
  expect((await objects()).filter((n) => n.includes(job.id))).toEqual([]);
  expect(await (await a.fetch(`/api/job/${job.id}/stdout`)).text()).toBe("rested\n");
});

test("once B is killed, A still serves the logs and outputs of what B ran; a job page shows a long log's tail", async () => {
  const counted = await runOnB(await define({ name: "count", exec: "/usr/bin/seq", argv: ["1", "40000"], application: "b" }));
  await b.kill9();
  for (const path of files(binary)) expect(await download(a, path)).toEqual(onB[path]);
  expect(await (await a.fetch(`/api/job/${binary.id}/stdout?follow=1`)).arrayBuffer().then(sha256)).toBe(onB[files(binary)[0]].sha256);
  // From the log's tail object: its last lines, not its first.
  const page = await (await a.fetch(`/jobs/${counted.id}`, { headers: { cookie: `flue_session=${await signIn(a)}` } })).text();
  expect(page).toContain("\n39999\n40000\n");
  expect(page).not.toContain("\n100\n");
});
