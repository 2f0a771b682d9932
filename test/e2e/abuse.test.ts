/**
 * The compiled binary under abuse: every route refuses an anonymous caller
 * with a JSON 401, a 1 GB body is refused without being held in memory, and
 * thousands of idle connections do not keep a normal request waiting.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { startBinary, type Binary } from "../helpers/index.ts";

let flue: Binary;
beforeAll(async () => {
  // The default --max-body (256 MiB): flue counts a body as it streams in and never buffers it to decide.
  flue = await startBinary();
});
afterAll(() => flue.stop());

/** flue's resident memory in MB, from /proc. */
const rssMb = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${flue.proc.pid}/status`, "utf8"))![1]) / 1024;

const ROUTES: [string, string][] = [
  ["GET", "/api"],
  ["GET", "/api/process_definition/"],
  ["POST", "/api/process_definition/"],
  ["GET", "/api/process_definition/1/"],
  ["PUT", "/api/process_definition/1/"],
  ["DELETE", "/api/process_definition/1/"],
  ["GET", "/api/process_definition/1/versions"],
  ["GET", "/api/process_definition/1/versions/1"],
  ["GET", "/api/job/"],
  ["POST", "/api/job/"],
  ["GET", "/api/job/x/"],
  ["GET", "/api/job/x/?wait=5"],
  ["PATCH", "/api/job/x/"],
  ["DELETE", "/api/job/x/"],
  ["POST", "/api/job/x/queue"],
  ["POST", "/api/job/x/cancel"],
  ["GET", "/api/job/x/events/"],
  ["GET", "/api/job/x/stdout"],
  ["GET", "/api/job/x/stderr?follow=1"],
  ["GET", "/api/job/x/outputs/output_file"],
  ["GET", "/api/events?pattern=%23"],
  ["GET", "/api/token/"],
  ["POST", "/api/token/"],
  ["DELETE", "/api/token/1/"],
  ["GET", "/api/instance/"],
  ["GET", "/api/instance/x/"],
  ["GET", "/api/user/"],
  ["GET", "/api/nope"],
];

describe("without credentials", () => {
  const AUTHS: [string, string | undefined][] = [
    ["no Authorization", undefined],
    ["an unknown token", "Bearer flue_0000000000000000"],
    ["garbage", "Basic !!!"],
  ];
  test.each(AUTHS)("every route answers a JSON 401 to %s", async (_, authorization) => {
    const wrong: string[] = [];
    for (const [method, path] of ROUTES) {
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (authorization) headers.authorization = authorization;
      const res = await fetch(`${flue.url}${path}`, { method, headers, body: ["GET", "DELETE"].includes(method) ? undefined : "{}" });
      const body = (await res.json().catch(() => null)) as any;
      if (res.status !== 401 || body?.error?.code !== "unauthorized") wrong.push(`${method} ${path} → ${res.status} ${JSON.stringify(body)}`);
    }
    expect(wrong).toEqual([]);
  });
});

describe("a 1 GB body", () => {
  const GB = 1024 ** 3;
  /** 1 GB of zeros from one reused 1 MiB chunk: the test never holds the whole body. */
  const gigabyte = () => {
    const chunk = new Uint8Array(1024 * 1024);
    let sent = 0;
    return new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= GB) return controller.close();
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
  };
  test("a JSON body past 16 MiB is a JSON 413 pointing to multipart uploads, declared or chunked", async () => {
    const big = JSON.stringify({ process_definition: 1, inputs: { x: { content: "a".repeat(17 * 1024 * 1024) } } });
    const declared = await flue.fetch("/api/job/", { method: "POST", headers: { "content-type": "application/json" }, body: big });
    const chunked = await flue.fetch("/api/job/", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: new Blob([big]).stream(),
      duplex: "half",
    } as RequestInit);
    for (const res of [declared, chunked]) {
      expect(res.status).toBe(413);
      const body = (await res.json()) as any;
      expect(body.error.code).toBe("too_large");
      expect(body.error.message).toContain("multipart/form-data");
    }
  }, 30_000);

  test("chunked from an anonymous caller is a 401 before any of it is read", async () => {
    const before = rssMb();
    const res = await fetch(`${flue.url}/api/job/`, { method: "POST", headers: { "content-type": "application/json" }, body: gigabyte(), duplex: "half" } as RequestInit).catch((e: Error) => e);
    if (res instanceof Response) expect(res.status).toBe(401);
    expect(rssMb() - before).toBeLessThan(50);
  }, 30_000);

  test.each([
    ["with Content-Length", { "content-length": String(GB) }],
    ["chunked", {}],
  ])("%s is a 413 within seconds, and flue stays under 200 MB", async (_, extra) => {
    const started = Date.now();
    let peak = rssMb();
    const sampler = setInterval(() => (peak = Math.max(peak, rssMb())), 20);
    try {
      const res = await flue
        .fetch("/api/job/", { method: "POST", headers: { "content-type": "application/json", ...extra }, body: gigabyte(), duplex: "half" } as RequestInit)
        .catch((e: Error) => e);
      // flue may close the connection while the client still sends; either way it must refuse.
      // A declared length past the limit is refused by Bun itself, before flue sees it, with an empty body.
      if (res instanceof Response) expect(res.status).toBe(413);
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, rssMb());
    console.log(`1 GB body ${_}: refused in ${Date.now() - started} ms, flue peak RSS ${peak.toFixed(0)} MB`);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(peak).toBeLessThan(200);
    expect((await flue.fetch("/api/job/")).status).toBe(200);
  }, 30_000);
});

describe("idle connections", () => {
  const limit = Number(Bun.spawnSync(["sh", "-c", "ulimit -n"]).stdout.toString().trim()) || 1024;
  // The test and flue each hold one descriptor per connection; keep room for the rest.
  const count = Math.min(10_000, limit - 200);
  test(`${count} idle TCP connections (ulimit -n ${limit}, at least 1000) leave a normal request answered within 1 s`, async () => {
    expect(count).toBeGreaterThanOrEqual(1000);
    const { hostname, port } = new URL(flue.url);
    const sockets: Awaited<ReturnType<typeof Bun.connect>>[] = [];
    try {
      for (let i = 0; i < count; i += 500) {
        const batch = Array.from({ length: Math.min(500, count - i) }, () => Bun.connect({ hostname, port: Number(port), socket: { data() {}, error() {} } }));
        sockets.push(...(await Promise.all(batch)));
      }
      expect(sockets.length).toBe(count);
      const started = performance.now();
      const res = await flue.fetch("/api/job/");
      const ms = performance.now() - started;
      expect(res.status).toBe(200);
      console.log(`${count} idle connections: GET /api/job/ in ${ms.toFixed(0)} ms, flue RSS ${rssMb().toFixed(0)} MB`);
      expect(ms).toBeLessThan(1000);
    } finally {
      for (const s of sockets) s.end();
    }
    expect((await flue.fetch("/api/job/")).status).toBe(200);
  }, 60_000);
});
