/**
 * Inputs anywhere, against a real nats-server and the compiled binary:
 * A offers no label, B (and later C) offer `b`. A job with an inline text
 * input and an uploaded one, submitted on A, runs on B and sees the bytes
 * sent, byte for byte; deleting it removes its inputs from bucket
 * `flue_results` and from both data dirs; killed mid-run with kill -9, it runs again on C, which
 * fetches the inputs too; a submission with a stored input while NATS is
 * down is a 503 and makes nothing.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Objm } from "@nats-io/obj";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { eventually, startBinary, tempDir, type Binary } from "../helpers/index.ts";
import { startNatsServer, type NatsServer } from "./nats-server.ts";
import { type Job, type Member, getJob, signIn, withId } from "./fleet.ts";


let nats: NatsServer;
let nc: NatsConnection;
const binaries: Binary[] = [];
const dirs: { remove: () => void }[] = [];
let a: Member, b: Member;
let definition: number;

async function member(labels: string[]): Promise<Member> {
  const dir = tempDir();
  dirs.push(dir);
  const args = ["--nats", nats.url, "--heartbeat", "0.5s", "--failover-after", "3s", "--slots", "2"];
  if (labels.length) args.push("--labels", labels.join(","));
  const bin = await startBinary({ dataDir: dir.path, args });
  binaries.push(bin);
  return withId(bin);
}
const active = async (x: Binary) => ((await (await x.fetch("/api/instance/")).json()) as any).objects.filter((m: any) => m.state === "ACTIVE").length;

const jobIds = async (x: Binary) => ((await (await x.fetch("/api/job/?limit=1000")).json()) as { objects: Job[] }).objects.map((j) => j.id).sort();

/** The bytes a job is given: some UTF-8 text inline, and a few hundred KB of random bytes uploaded. */
function inputs() {
  const text = `grüße ${crypto.randomUUID()}`; // no newline: a form field's would become CRLF
  const blob = crypto.getRandomValues(new Uint8Array(300_000));
  return { text, blob, expected: Buffer.concat([Buffer.from(text), blob]) };
}
/** A multipart submission: `text` as a plain field (stored inline), `blob` as a file (stored as an upload), the parameter `pause` as text. */
async function submit(x: Binary, given: ReturnType<typeof inputs>, pause: number) {
  const form = new FormData();
  form.set("process_definition", String(definition));
  form.set("pause", String(pause));
  form.set("text", given.text);
  form.set("blob", new Blob([given.blob]), "random.bin");
  const res = await x.fetch("/api/job/", { method: "POST", body: form });
  return { status: res.status, body: (await res.json()) as any };
}
const stdout = async (x: Binary, id: string) => Buffer.from(await (await x.fetch(`/api/job/${id}/stdout`)).arrayBuffer());

/** Names of the objects in the results bucket. */
async function objects(): Promise<string[]> {
  const os = await new Objm(nc).open("flue_results");
  return (await os.list()).filter((o) => !o.deleted).map((o) => o.name);
}

/** The pid of a job's `sleep 5.3`, if one lives. */
function sleeper(): number | undefined {
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, "utf8") === "/bin/sleep\u00005.3\u0000") return Number(pid);
    } catch {}
  }
  return undefined;
}

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  [a, b] = await Promise.all([member([]), member(["b"])]);
  await eventually(async () => (await active(a)) === 2, 5000);
  const made = await a.fetch("/api/process_definition/", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      definition: {
        name: "cat-inputs",
        exec: "/bin/sh",
        // The inputs to stdout, then a pause (`exec` keeps the sleeper's command line plain, for the kill test to find).
        argv: ["-c", 'cat "$1" "$2"; [ "$3" = 0 ] || exec /bin/sleep "$3"', "sh", "${text}", "${blob}", "${pause}"],
        parameters: { pause: { type: "string", default: "0" } },
        input_adapters: [
          { input_type: "file", input_parameters: { file_path: "${text}" } },
          { input_type: "file", input_parameters: { file_path: "${blob}" } },
        ],
        output_adapter: { output_type: "file", output_parameters: { file_type: "stream", stream_name: "STDOUT" } },
        application: "b",
      },
    }),
  });
  expect(made.status).toBe(201);
  definition = ((await made.json()) as { id: number }).id;
  await eventually(async () => (await b.fetch(`/api/process_definition/${definition}/`)).status === 200, 5000);
});
afterAll(async () => {
  await nc?.close();
  for (const x of binaries) if (x.proc.exitCode === null) await x.kill9();
  await nats.remove();
  for (const d of dirs) d.remove();
});

test("a job with an inline and an uploaded input submitted on A runs on B, the only one with its label, and reads the bytes sent", async () => {
  const given = inputs();
  const made = await submit(a, given, 0);
  expect(made.status).toBe(201);
  const id = made.body.id as string;
  expect(made.body.inputs).toMatchObject({ text: { source: "inline" }, blob: { source: "upload", size: 300_000 } });
  const job = (await (await a.fetch(`/api/job/${id}/?wait=30`)).json()) as Job;
  expect(job.state).toBe("FINISHED");
  expect(job.instance).toBe(b.id);
  const out = await stdout(a, id);
  expect(out.length).toBe(given.expected.length);
  expect(out.equals(given.expected)).toBe(true);
  // B fetched them into its own data dir; A keeps what it stored.
  expect(readFileSync(join(b.dataDir, "jobs", id, "inputs", "blob")).equals(Buffer.from(given.blob))).toBe(true);
  const names = [`jobs/${id}/inputs/text`, `jobs/${id}/inputs/blob`];
  expect(await objects()).toEqual(expect.arrayContaining(names));

  // Re-queued from the job page of an instance that never had the inputs: they come from the bucket.
  const c = await member([]);
  const session = await signIn(c);
  const page = await c.fetch(`/jobs/${id}`, { headers: { cookie: `flue_session=${session}`, "sec-fetch-mode": "navigate" } });
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1];
  const requeued = await c.fetch(`/jobs/${id}/requeue`, { method: "POST", headers: { cookie: `flue_session=${session}`, "x-csrf-token": csrf, origin: c.url, "sec-fetch-site": "same-origin" } });
  expect(requeued.status).toBe(204);
  const again = /\/jobs\/(\w+)/.exec(requeued.headers.get("hx-redirect") ?? "")![1];
  expect(((await (await c.fetch(`/api/job/${again}/?wait=30`)).json()) as Job).state).toBe("FINISHED");
  expect((await stdout(c, again)).equals(given.expected)).toBe(true);
  await c.stop();

  // Deleting the job removes its inputs from the bucket, and from both data dirs.
  expect((await a.fetch(`/api/job/${id}/`, { method: "DELETE" })).status).toBe(204);
  await eventually(async () => !(await objects()).some((n) => names.includes(n)), 5000);
  await eventually(() => [a, b].every((x) => !existsSync(join(x.dataDir, "jobs", id))), 5000);
}, 60_000);

test("kill -9 the instance running such a job: it runs again on another, which fetches the inputs too, and finishes with the right output", async () => {
  const c = await member(["b"]);
  await eventually(async () => (await active(a)) === 3, 5000);
  const given = inputs();
  const made = await submit(a, given, 5.3);
  expect(made.status).toBe(201);
  const id = made.body.id as string;
  const running = (await eventually(async () => {
    const j = await getJob(a, id);
    return j?.state === "RUNNING" && sleeper() ? j : undefined;
  }, 15_000))!;
  const [x, other] = running.instance === b.id ? [b, c] : [c, b];
  expect(running.instance).toBe(x.id);
  const orphan = sleeper()!;
  await x.kill9();
  try {
    const job = (await eventually(async () => {
      const j = await getJob(a, id);
      return j?.state === "FINISHED" ? j : undefined;
    }, 30_000, 100))!;
    expect(job.attempts).toBe(2);
    expect(job.instance).toBe(other.id);
    expect(job.messages.some((m) => m.text === `instance ${x.id} was lost while attempt 1 ran; running again on ${other.id}`)).toBe(true);
    expect((await stdout(a, id)).equals(given.expected)).toBe(true);
  } finally {
    try {
      process.kill(orphan, "SIGKILL"); // the killed instance's sleeper, left behind
    } catch {}
  }
}, 60_000);

test("submitting a job with a stored input while NATS is down is a 503 and makes no job, not even a NEW one", async () => {
  const before = await jobIds(a);
  const stored = readdirSync(join(a.dataDir, "jobs")).sort();
  await nats.stop();
  try {
    await eventually(async () => a.output().includes("lost NATS"), 5000);
    const multipart = await submit(a, inputs(), 0);
    expect(multipart.status).toBe(503);
    expect(multipart.body.error.message).toBe("the fleet's NATS is unreachable; nothing was queued, try again");
    const draft = await a.fetch("/api/job/", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ process_definition: definition, state: "NEW", inputs: { text: { content: "x" }, blob: { content_base64: "eHk=" } } }),
    });
    expect(draft.status).toBe(503);
    expect(await jobIds(a)).toEqual(before);
    expect(readdirSync(join(a.dataDir, "jobs")).sort()).toEqual(stored);
  } finally {
    await nats.start();
  }
}, 60_000);
