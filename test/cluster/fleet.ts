/**
 * What the fleet's tests share: an instance of the binary known by its id,
 * and the few API calls they all make.
 */
import { afterEach, expect } from "bun:test";
import type { Binary } from "../helpers/index.ts";
import { ADMIN, BINARY, startBinary, tempDir } from "../helpers/index.ts";

export type Member = Binary & { id: string };

/** The binary, with the instance id it printed at start. */
export const withId = <B extends Binary>(b: B): B & { id: string } => Object.assign(b, { id: /instance: (\w+)/.exec(b.output())![1] });

/** A job as the tests read it; each reads what it needs. */
export interface Job {
  id: string;
  state: string;
  attempts: number;
  instance?: string | null;
  messages: { at: number; level: string; text: string }[];
  outputs: Record<string, { size: number }>;
}

const json = { "content-type": "application/json" };

/** POSTs JSON (as the admin, or with `auth`); the status and the JSON answer. */
export async function post(x: Binary, path: string, body: unknown, auth?: string): Promise<{ status: number; body: any }> {
  const res = await x.fetch(path, { method: "POST", body: JSON.stringify(body), headers: { ...json, ...(auth ? { authorization: auth } : {}) } });
  return { status: res.status, body: await res.json() };
}

/** The job as `x` shows it, or undefined when `x` does not know it. */
export async function getJob(x: Binary, id: string): Promise<Job | undefined> {
  const res = await x.fetch(`/api/job/${id}/`);
  return res.status === 200 ? ((await res.json()) as Job) : undefined;
}

/** The job's events as `x` has them. */
export const events = async (x: Binary, id: string) =>
  ((await (await x.fetch(`/api/job/${id}/events/?limit=1000`)).json()) as { objects: { type: string; executor: string; attempt?: number }[] }).objects;

/** Runs a flue that must not start; its exit code and what it said. */
export async function refused(...args: string[]): Promise<{ code: number; stderr: string }> {
  const data = tempDir();
  const proc = Bun.spawn({ cmd: [BINARY, "serve", "--port", "0", "--data-dir", data.path, ...args], stdout: "pipe", stderr: "pipe" });
  const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  data.remove();
  return { code, stderr };
}

/** A UI session on `x`: the pages take only a session cookie. */
export async function signIn(x: Binary): Promise<string> {
  const res = await fetch(`${x.url}/login`, { method: "POST", body: new URLSearchParams({ username: ADMIN.user, password: ADMIN.password, next: "/" }), redirect: "manual" });
  expect(res.status).toBe(303);
  return /flue_session=([^;]+)/.exec(res.headers.get("set-cookie") ?? "")![1];
}

/**
 * For a file whose tests each start their own fleet: what a test makes is
 * undone after it, newest first (`later`); data dirs; and instances on a
 * NATS (heartbeat 0.5 s), killed after the test if they still run.
 */
export function fleetScope() {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  const later = (c: () => unknown) => void cleanups.push(c);
  const dataDir = (): string => {
    const d = tempDir();
    later(() => d.remove());
    return d.path;
  };
  const member = async (nats: string, dir: string, args: string[]): Promise<Member> => {
    const bin = await startBinary({ dataDir: dir, args: ["--nats", nats, "--heartbeat", "0.5s", ...args] });
    later(async () => {
      if (bin.proc.exitCode === null) await bin.kill9();
    });
    return withId(bin);
  };
  return { later, dataDir, member };
}
