/**
 * Every /api route wants credentials: Basic auth or a Bearer API token.
 * Tokens are shown once, can be revoked, and expire. Users who are not
 * admins see only their own jobs and cannot change the registry.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ADMIN, basic, inProcess, TR_DEFINITION, type InProcess } from "../helpers/index.ts";

let f: InProcess;
let defId: number;
let jobId: string;

beforeAll(async () => {
  f = await inProcess();
  defId = (await f.json("POST", "/api/process_definition/", { definition: { ...TR_DEFINITION, name: "tr" } })).body.id;
  jobId = (await f.json("POST", "/api/job/", { process_definition: "tr", state: "NEW" })).body.id;
  await f.app.auth.createUser("sub", "sub-password", "submitter");
});
afterAll(() => f.close());

const bearer = (token: string) => `Bearer ${token}`;
const expect401 = async (method: string, path: string, auth: string | null, body?: unknown) => {
  const res = await f.json(method, path, body, auth);
  expect([method, path, res.status]).toEqual([method, path, 401]);
  expect(res.headers.get("www-authenticate")).toStartWith('Basic realm="flue"');
  expect(res.body.error.code).toBe("unauthorized");
};

describe("without credentials", () => {
  const routes = (): [string, string][] => [
    ["GET", "/api"],
    ["GET", "/api/process_definition/"],
    ["POST", "/api/process_definition/"],
    ["GET", `/api/process_definition/${defId}/`],
    ["GET", `/api/process_definition/${defId}`],
    ["PUT", `/api/process_definition/${defId}/`],
    ["DELETE", `/api/process_definition/${defId}/`],
    ["GET", "/api/process_definition/tr/versions/"],
    ["GET", "/api/job/"],
    ["POST", "/api/job/"],
    ["GET", `/api/job/${jobId}/`],
    ["PATCH", `/api/job/${jobId}/`],
    ["DELETE", `/api/job/${jobId}/`],
    ["POST", `/api/job/${jobId}/queue`],
    ["POST", `/api/job/${jobId}/cancel`],
    ["GET", `/api/job/${jobId}/stdout`],
    ["GET", `/api/job/${jobId}/stderr`],
    ["GET", `/api/job/${jobId}/outputs/output_file`],
    ["GET", `/api/job/${jobId}/events/`],
    ["GET", "/api/events?pattern=%23"],
    ["GET", "/api/token/"],
    ["POST", "/api/token/"],
    ["DELETE", "/api/token/1/"],
    ["GET", "/api/instance/"],
    ["GET", "/api/no-such-route"],
  ];

  test("every /api route answers 401 with WWW-Authenticate, and changes nothing", async () => {
    for (const [method, path] of routes()) await expect401(method, path, null, method === "GET" ? undefined : { definition: { exec: "/x" }, name: "t" });
    expect((await f.json("GET", "/api/process_definition/")).body.meta.total_count).toBe(1);
    expect((await f.json("GET", `/api/job/${jobId}/`)).body.state).toBe("NEW");
    expect((await f.json("GET", "/api/token/")).body.objects).toEqual([]);
  });

  test("the health check and the sign-in page need none; every other page sends to sign-in", async () => {
    expect((await f.call("GET", "/healthz", undefined, null)).status).toBe(200);
    expect((await f.call("GET", "/login", undefined, null)).status).toBe(200);
    for (const path of ["/", "/jobs", "/definitions", "/users", "/nowhere"]) {
      const res = await f.call("GET", path, undefined, null);
      expect(res.status).toBe(303);
      expect(res.headers.get("location")).toStartWith("/login");
    }
    // API credentials do not sign a browser in: the pages take only the session cookie.
    expect((await f.call("GET", "/", undefined, basic())).status).toBe(303);
  });

  test.each([
    ["a wrong password", basic(ADMIN.user, "wrong")],
    ["an unknown user", basic("nobody", ADMIN.password)],
    ["the password of another user", basic("sub", ADMIN.password)],
    ["an empty password", basic(ADMIN.user, "")],
    ["Basic without a colon", `Basic ${Buffer.from("admin").toString("base64")}`],
    ["Basic with garbage", "Basic !!!***"],
    ["Basic alone", "Basic"],
    ["an unknown token", bearer("flue_not-a-real-token")],
    ["Bearer alone", "Bearer"],
    ["another scheme", `Digest ${ADMIN.password}`],
    ["an empty header", ""],
  ])("%s is a 401", async (_, auth) => {
    await expect401("GET", "/api/job/", auth);
  });

  test("the right password works, and a wrong one after it still does not", async () => {
    expect((await f.json("GET", "/api/job/", undefined, basic())).status).toBe(200);
    await expect401("GET", "/api/job/", basic(ADMIN.user, `${ADMIN.password}x`));
  });
});

describe("API tokens", () => {
  test("a token is shown once at creation and works as Bearer until revoked", async () => {
    const res = await f.call("POST", "/api/token/", { name: "ci" });
    expect(res.status).toBe(201);
    const created = (await res.json()) as any;
    expect(res.headers.get("location")).toBe(`http://flue.test/api/token/${created.id}/`);
    expect(created).toMatchObject({ name: "ci", resource_uri: `/api/token/${created.id}/`, expires_at: null });
    expect(created.token).toMatch(/^flue_[A-Za-z0-9_-]{20,}$/);

    const listed = await f.json("GET", "/api/token/");
    expect(listed.body.objects.map((t: any) => t.name)).toEqual(["ci"]);
    expect(JSON.stringify(listed.body)).not.toContain(created.token);

    for (const auth of [bearer(created.token), `bearer ${created.token}`]) {
      const jobs = await f.json("GET", "/api/job/", undefined, auth);
      expect(jobs.status).toBe(200);
      expect(jobs.body.objects.map((j: any) => j.id)).toEqual([jobId]);
    }
    const def = await f.json("POST", "/api/process_definition/", { definition: { exec: "/bin/true", name: "by-token" } }, bearer(created.token));
    expect(def.status).toBe(201);
    expect((await f.json("GET", "/api/token/")).body.objects[0].last_used_at).not.toBeNull();

    expect((await f.call("DELETE", `/api/token/${created.id}/`)).status).toBe(204);
    await expect401("GET", "/api/job/", bearer(created.token));
    expect((await f.json("DELETE", `/api/token/${created.id}/`)).status).toBe(404);
    expect((await f.json("GET", "/api/token/")).body.objects).toEqual([]);
  });

  test("expires_in_days sets the expiry", async () => {
    const { status, body } = await f.json("POST", "/api/token/", { name: "day", expires_in_days: 1 });
    expect(status).toBe(201);
    expect(Math.abs(Date.parse(body.expires_at) - (Date.now() + 86_400_000))).toBeLessThan(60_000);
    expect((await f.json("GET", "/api/job/", undefined, bearer(body.token))).status).toBe(200);
  });

  test("an expired token is a 401", async () => {
    const admin = f.app.store.users.find(ADMIN.user)!;
    const { secret } = f.app.auth.createToken({ userId: admin.id, username: admin.username, role: admin.role }, "old", Date.now() / 1000 - 1);
    await expect401("GET", "/api/job/", bearer(secret));
  });

  test.each([
    [{ name: "" }, "name"],
    [{ name: "has space" }, "name"],
    [{ name: "x".repeat(101) }, "name"],
    [{ name: 5 }, "name"],
    [{}, "name"],
    [{ name: "ok", expires_in_days: 0 }, "expires_in_days"],
    [{ name: "ok", expires_in_days: -1 }, "expires_in_days"],
    [{ name: "ok", expires_in_days: 3651 }, "expires_in_days"],
    [{ name: "ok", expires_in_days: "7" }, "expires_in_days"],
    [{ name: "ok", expires_in_days: null }, "expires_in_days"],
  ])("%j is a 400 naming %s", async (body, path) => {
    const res = await f.json("POST", "/api/token/", body);
    expect(res.status).toBe(400);
    expect(res.body.error.fields.map((x: any) => x.path)).toEqual([path]);
  });
});

describe("a user who is not an admin", () => {
  const sub = basic("sub", "sub-password");

  test("reads the registry but cannot change it", async () => {
    expect((await f.json("GET", "/api/process_definition/", undefined, sub)).status).toBe(200);
    for (const [method, path, body] of [
      ["POST", "/api/process_definition/", { definition: { exec: "/x" } }],
      ["PUT", `/api/process_definition/${defId}/`, { definition: { exec: "/x" } }],
      ["DELETE", `/api/process_definition/${defId}/`, undefined],
    ] as const) {
      const res = await f.json(method, path, body, sub);
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe("forbidden");
    }
    expect((await f.json("GET", `/api/process_definition/${defId}/`)).body.version).toBe(1);
  });

  test("sees and acts on only its own jobs", async () => {
    const own = await f.json("POST", "/api/job/", { process_definition: "tr", state: "NEW" }, sub);
    expect(own.status).toBe(201);
    expect(own.body.owner).toBe("sub");
    const list = await f.json("GET", "/api/job/", undefined, sub);
    expect(list.body.meta.total_count).toBe(1);
    expect(list.body.objects.map((j: any) => j.id)).toEqual([own.body.id]);
    for (const [method, path] of [["GET", `/api/job/${jobId}/`], ["POST", `/api/job/${jobId}/cancel`], ["DELETE", `/api/job/${jobId}/`], ["GET", `/api/job/${jobId}/events/`]]) {
      expect((await f.json(method, path, undefined, sub)).status).toBe(404);
    }
    expect((await f.json("GET", `/api/job/${jobId}/`)).body.state).toBe("NEW");
    const seen = await f.json("GET", "/api/job/");
    expect(seen.body.objects.map((j: any) => j.id).sort()).toEqual([jobId, own.body.id].sort());
  });

  test("cannot revoke another user's token", async () => {
    const token = await f.json("POST", "/api/token/", { name: "admins" });
    expect((await f.json("GET", "/api/token/", undefined, sub)).body.objects).toEqual([]);
    expect((await f.json("DELETE", `/api/token/${token.body.id}/`, undefined, sub)).status).toBe(404);
    expect((await f.json("GET", "/api/job/", undefined, bearer(token.body.token))).status).toBe(200);
  });
});
