/**
 * The fleet's foundation against real nats-servers and the compiled binary:
 * presence (ACTIVE, LOST after kill -9, STOPPED after SIGTERM, back after
 * NATS restarts), the version rule, authentication, and a flue without
 * --nats staying exactly the single instance it was.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { BINARY, ROOT, eventually, startBinary, tempDir, type Binary } from "../helpers/index.ts";
import { instancesBody } from "../../views/instances.tsx";
import { freePort, startNatsServer, type NatsServer } from "./nats-server.ts";
import { refused, withId } from "./fleet.ts";

interface Member {
  id: string;
  labels: string[];
  version: string;
  state: string;
  last_heartbeat?: string;
  protocol?: number;
}

const servers: NatsServer[] = [];
const binaries: Binary[] = [];
let nats: NatsServer;

beforeAll(async () => {
  nats = await startNatsServer();
  servers.push(nats);
});
afterAll(async () => {
  for (const b of binaries) if (b.proc.exitCode === null) await b.kill9();
  for (const s of servers) await s.remove();
});

async function member(url: string, ...args: string[]): Promise<Binary & { id: string }> {
  const b = await startBinary({ args: ["--nats", url, "--heartbeat", "0.5s", ...args] });
  binaries.push(b);
  return withId(b);
}

async function fleetOf(b: Binary): Promise<Member[]> {
  return ((await (await b.fetch("/api/instance/")).json()) as { objects: Member[] }).objects;
}

const stateIn = async (b: Binary, id: string) => (await fleetOf(b)).find((m) => m.id === id)?.state;


/** Writes the fleet's protocol record as some other flue version would have. */
async function writeProtocol(url: string, record: object): Promise<void> {
  const nc = await connect({ servers: url });
  const kv = await new Kvm(nc).create("flue_fleet", { history: 1 });
  await kv.put("protocol", JSON.stringify(record));
  await nc.close();
}

let a: Binary & { id: string };
let b: Binary & { id: string };
let c: Binary & { id: string };

test("three instances started at once each list all three, with labels and versions", async () => {
  [a, b, c] = await Promise.all([member(nats.url, "--labels", "ffmpeg"), member(nats.url, "--labels", "R"), member(nats.url, "--labels", "ffmpeg,R")]);
  const labels = { [a.id]: ["ffmpeg"], [b.id]: ["R"], [c.id]: ["ffmpeg", "R"] };
  for (const x of [a, b, c]) {
    expect(x.output()).toContain(`fleet: joined on ${nats.url}, fleet protocol 1`);
    const fleet = (await eventually(async () => {
      const f = await fleetOf(x);
      return f.length === 3 && f.every((m) => m.state === "ACTIVE") ? f : undefined;
    }, 2000))!;
    expect(fleet[0].id).toBe(x.id); // this instance first
    for (const m of fleet) expect([m.labels, m.version, m.protocol, typeof m.last_heartbeat]).toEqual([labels[m.id], fleet[0].version, 1, "string"]);
  }
  const one = (await (await a.fetch(`/api/instance/${b.id}/`)).json()) as Member;
  expect([one.id, one.labels, one.state]).toEqual([b.id, ["R"], "ACTIVE"]);
});

test("joining a fleet that has users takes no wait: the shared buckets' current values are known at once", async () => {
  // The mirrors once waited out their 5 s limit whenever a bucket held values (the watch marked them updates).
  const began = performance.now();
  const late = await member(nats.url);
  expect(performance.now() - began).toBeLessThan(3000);
  expect((await fleetOf(late)).length).toBe(4);
  await late.stop();
});

test("kill -9 one: the others show it LOST within the bound and say so once", async () => {
  await c.kill9();
  const began = Date.now();
  await eventually(async () => (await stateIn(a, c.id)) === "LOST" && (await stateIn(b, c.id)) === "LOST", 4000);
  expect(Date.now() - began).toBeLessThan(3500); // bound: 3 heartbeats + 1 s = 2.5 s
  for (const x of [a, b]) {
    const said = x.output().split("\n").filter((l) => l.includes(`instance ${c.id} on host`) && l.includes("lost: no heartbeat for"));
    expect(said).toHaveLength(1);
  }
});

test("the Instances page draws LOST in the failure colour, with the last heartbeat", () => {
  const row = { id: "x", host: "h", version: "0.1.0", labels: ["R"], slots: 2, busy: 1, containment: "cgroup", runAs: "nobody", startedAt: 1e9, self: false };
  const html = instancesBody([{ ...row, heartbeatAt: 1e9 + 5, state: "LOST" }], 1e9 + 60);
  expect(html).toContain('<span class="badge state-LOST">LOST</span>');
  expect(html).toContain("Last heartbeat");
  expect(html).toContain(`datetime="${new Date((1e9 + 5) * 1000).toISOString()}"`);
  expect(instancesBody([{ ...row, state: "ACTIVE" }], 1e9)).not.toContain("Last heartbeat"); // alone: as before
});

test("SIGTERM one: the others show it STOPPED", async () => {
  expect(await b.stop()).toBe(0);
  expect(await stateIn(a, b.id)).toBe("STOPPED");
});

test("NATS restarts on the same port and store: every instance reconnects, sees the others ACTIVE, none exits", async () => {
  const d = await member(nats.url, "--labels", "R");
  await eventually(async () => (await stateIn(a, d.id)) === "ACTIVE" && (await stateIn(d, a.id)) === "ACTIVE", 2000);
  await nats.stop();
  await Bun.sleep(1000);
  const restarted = Date.now();
  await nats.start();
  const fresh = async (x: Binary, id: string) => {
    const m = (await fleetOf(x)).find((m) => m.id === id);
    return m?.state === "ACTIVE" && Date.parse(m.last_heartbeat!) > restarted;
  };
  await eventually(async () => (await fresh(a, d.id)) && (await fresh(d, a.id)), 6000);
  for (const x of [a, d]) {
    expect(x.proc.exitCode).toBeNull();
    expect(x.output()).toContain(`lost NATS at 127.0.0.1:${nats.port}`);
    expect(x.output()).toContain("reconnected to NATS");
  }
});

test("NATS unreachable at start: exit 1, naming the URL", async () => {
  const url = `nats://127.0.0.1:${await freePort()}`;
  const { code, stderr } = await refused("--nats", url);
  expect(code).toBe(1);
  expect(stderr).toContain(`cannot connect to NATS at ${url}`);
});

test("SIGTERM while joining (here: waiting for copies a one-node NATS cannot make) stops flue cleanly", async () => {
  const dir = tempDir();
  const proc = Bun.spawn({ cmd: [BINARY, "serve", "--port", "0", "--data-dir", dir.path, "--nats", nats.url, "--nats-replicas", "3"], stdout: "pipe", stderr: "pipe" });
  await Bun.sleep(1500);
  proc.kill("SIGTERM");
  const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  dir.remove();
  expect(stderr).not.toContain("Error");
  expect(code).toBe(0);
});

test("the version rule: a fleet that requires a newer protocol, or one this build no longer speaks, is refused", async () => {
  const other = await startNatsServer();
  servers.push(other);
  await writeProtocol(other.url, { protocol: 99, min_protocol: 99, written_by: "9.9.9" });
  const newer = await refused("--nats", other.url);
  expect(newer.code).toBe(1);
  expect(newer.stderr).toMatch(/speaks fleet protocol 1, but the fleet on .* requires protocol 99 or newer \(set by flue 9\.9\.9\); upgrade this instance/);
  await writeProtocol(other.url, { protocol: 0, min_protocol: 0, written_by: "0.0.1" });
  const older = await refused("--nats", other.url);
  expect(older.code).toBe(1);
  expect(older.stderr).toContain("no longer works beside protocol 0");
});

test("token and user/password authentication; a wrong password exits 1 naming the authorization error", async () => {
  const [tokenServer, userServer] = await Promise.all([startNatsServer(["--auth", "s3cret-token"]), startNatsServer(["--user", "flue", "--pass", "right-pw"])]);
  servers.push(tokenServer, userServer);
  const byToken = await member(tokenServer.url, "--nats-token", "s3cret-token");
  const byUser = await member(userServer.url, "--nats-user", "flue", "--nats-password", "right-pw");
  for (const x of [byToken, byUser]) expect((await fleetOf(x)).map((m) => m.state)).toEqual(["ACTIVE"]);
  const wrong = await refused("--nats", userServer.url, "--nats-user", "flue", "--nats-password", "wrong-pw");
  expect(wrong.code).toBe(1);
  expect(wrong.stderr).toContain(`cannot connect to NATS at ${userServer.url}`);
  expect(wrong.stderr.toLowerCase()).toContain("authorization");
});

test("without --nats: one instance as before, and the NATS client is never loaded", async () => {
  const alone = await startBinary();
  binaries.push(alone);
  const fleet = (await fleetOf(alone)) as (Member & Record<string, unknown>)[];
  expect(fleet).toHaveLength(1);
  expect(fleet[0].state).toBe("ACTIVE");
  expect("last_heartbeat" in fleet[0]).toBe(false);
  expect(alone.output()).not.toContain("fleet:");
  await alone.stop();
  // The same flue in a fresh process: after serving the list, no @nats-io module is in memory.
  const probe = `const { inProcess } = await import(${JSON.stringify(`${ROOT}/test/helpers/index.ts`)});
    const f = await inProcess(); await f.call("GET", "/api/instance/"); await f.close();
    console.log(JSON.stringify(Object.keys(require.cache).filter((k) => k.includes("@nats-io"))));`;
  const proc = Bun.spawn({ cmd: [process.execPath, "-e", probe], stdout: "pipe", stderr: "pipe" });
  expect(JSON.parse(await new Response(proc.stdout).text())).toEqual([]);
});
