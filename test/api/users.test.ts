/**
 * Who may do what: every role against every route, users for admins,
 * tokens capped by their user's role, credentials that stop working the
 * moment the user changes, and sign-in throttling.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Actor } from "../../src/service/index.ts";
import { basic, eventually, inProcess, TR_DEFINITION, type InProcess } from "../helpers/index.ts";

type Who = "admin" | "submitter" | "viewer";
const WHO: Who[] = ["admin", "submitter", "viewer"];
const AUTH: Record<Who, string> = {
  admin: basic(),
  submitter: basic("sub", "sub-password"),
  viewer: basic("view", "view-password"),
};
const bearer = (token: string) => `Bearer ${token}`;

/** The throttling window of these tests: long enough for the failures a test makes (each a password hash; under load ten took over 400 ms), short enough to wait out. */
const WINDOW_MS = 2000;
let f: InProcess;
let actors: Record<Who | "other", Actor>;
let n = 0;

beforeAll(async () => {
  f = await inProcess({}, { auth: { throttle: { windowMs: WINDOW_MS } } });
  await f.json("POST", "/api/process_definition/", { definition: { ...TR_DEFINITION, name: "tr" } });
  await f.json("POST", "/api/process_definition/", { definition: { exec: "/bin/sleep", argv: ["30"], name: "sleep" } });
  for (const [name, role] of [["sub", "submitter"], ["view", "viewer"], ["other", "submitter"]] as const) {
    await f.app.auth.createUser(name, `${name}-password`, role);
  }
  const actor = (name: string): Actor => {
    const u = f.app.store.users.find(name)!;
    return { userId: u.id, username: u.username, role: u.role };
  };
  actors = { admin: actor("admin"), submitter: actor("sub"), viewer: actor("view"), other: actor("other") };
});
afterAll(() => f.close());

/** A NEW job owned by `who`, made through the service (a viewer cannot submit one itself). */
const jobOf = async (who: Who | "other", definition = "sleep") => {
  const [job] = await f.app.jobs.submit({ process_definition: definition, state: "NEW" }, { ...actors[who], role: "submitter" });
  return job.id;
};

type Case = [string, (who: Who) => Promise<[string, string, unknown?]>, Record<Who, number>];
const all = (status: number) => ({ admin: status, submitter: status, viewer: status });
const adminOnly = (status: number) => ({ admin: status, submitter: 403, viewer: 403 });
const writers = (status: number) => ({ admin: status, submitter: status, viewer: 403 });
const others = (status: number) => ({ admin: status, submitter: 404, viewer: 404 });

const CASES: Case[] = [
  ["list definitions", async () => ["GET", "/api/process_definition/"], all(200)],
  ["read a definition", async () => ["GET", "/api/process_definition/tr/"], all(200)],
  ["read versions", async () => ["GET", "/api/process_definition/tr/versions/"], all(200)],
  ["create a definition", async (who) => ["POST", "/api/process_definition/", { definition: { exec: "/bin/true", name: `new-${who}` } }], adminOnly(201)],
  ["update a definition", async () => ["PUT", "/api/process_definition/tr/", { definition: { ...TR_DEFINITION, name: "tr" } }], adminOnly(200)],
  [
    "delete a definition",
    async (who) => {
      const id = (await f.json("POST", "/api/process_definition/", { definition: { exec: "/bin/true", name: `gone-${who}` } })).body.id;
      return ["DELETE", `/api/process_definition/${id}/`];
    },
    adminOnly(204),
  ],
  ["list jobs", async () => ["GET", "/api/job/"], all(200)],
  ["submit a job", async () => ["POST", "/api/job/", { process_definition: "sleep", state: "NEW" }], writers(201)],
  ["submit many jobs", async () => ["POST", "/api/job/", [{ process_definition: "sleep", state: "NEW" }]], writers(201)],
  ["read its own job", async (who) => ["GET", `/api/job/${await jobOf(who)}/`], all(200)],
  ["patch its own job", async (who) => ["PATCH", `/api/job/${await jobOf(who)}/`, { parameters: {} }], writers(200)],
  ["queue its own job", async (who) => ["POST", `/api/job/${await jobOf(who, "tr")}/queue`], writers(400)],
  ["cancel its own job", async (who) => ["POST", `/api/job/${await jobOf(who)}/cancel`], writers(200)],
  ["delete its own job", async (who) => ["DELETE", `/api/job/${await jobOf(who)}/`], writers(204)],
  ["read another's job", async () => ["GET", `/api/job/${await jobOf("other")}/`], others(200)],
  ["wait on another's job", async () => ["GET", `/api/job/${await jobOf("other")}/?wait=0`], others(200)],
  ["patch another's job", async () => ["PATCH", `/api/job/${await jobOf("other")}/`, { parameters: {} }], others(200)],
  ["queue another's job", async () => ["POST", `/api/job/${await jobOf("other", "tr")}/queue`], others(400)],
  ["cancel another's job", async () => ["POST", `/api/job/${await jobOf("other")}/cancel`], others(200)],
  ["delete another's job", async () => ["DELETE", `/api/job/${await jobOf("other")}/`], others(204)],
  ["stdout of another's job", async () => ["GET", `/api/job/${await jobOf("other")}/stdout`], others(200)],
  ["stderr of another's job", async () => ["GET", `/api/job/${await jobOf("other")}/stderr`], others(200)],
  ["events of another's job", async () => ["GET", `/api/job/${await jobOf("other")}/events/`], others(200)],
  ["list users", async () => ["GET", "/api/user/"], adminOnly(200)],
  ["read a user", async () => ["GET", `/api/user/${actors.other.userId}/`], adminOnly(200)],
  ["create a user", async (who) => ["POST", "/api/user/", { username: `made-by-${who}`, password: "long-enough", role: "viewer" }], adminOnly(201)],
  ["patch a user", async () => ["PATCH", `/api/user/${actors.other.userId}/`, { sees_all_jobs: false }], adminOnly(200)],
  [
    "delete a user",
    async (who) => {
      const u = await f.app.auth.createUser(`doomed-${who}`, "doomed-password", "viewer");
      return ["DELETE", `/api/user/${u.id}/`];
    },
    adminOnly(204),
  ],
  ["read itself", async () => ["GET", "/api/user/me"], all(200)],
  ["list its tokens", async () => ["GET", "/api/token/"], all(200)],
  ["list every token", async () => ["GET", "/api/token/?all=1"], adminOnly(200)],
  ["create a token", async (who) => ["POST", "/api/token/", { name: `t-${who}-${n++}` }], all(201)],
  [
    "delete its token",
    async (who) => {
      const { row } = f.app.auth.createToken(actors[who], `d-${who}-${n++}`, null);
      return ["DELETE", `/api/token/${row.id}/`];
    },
    all(204),
  ],
  [
    "delete another's token",
    async () => {
      const { row } = f.app.auth.createToken(actors.other, `o-${n++}`, null);
      return ["DELETE", `/api/token/${row.id}/`];
    },
    others(204),
  ],
  ["read the audit log", async () => ["GET", "/api/audit/"], adminOnly(200)],
];

describe("route × role", () => {
  for (const [name, route, expected] of CASES) {
    test.each(WHO)(`${name}: %s`, async (who) => {
      const [method, path, body] = await route(who);
      const res = await f.json(method, path, body, AUTH[who]);
      expect([method, path, who, res.status]).toEqual([method, path, who, expected[who]]);
      if (res.status === 403) {
        expect(res.body.error.code).toBe("forbidden");
        expect(res.body.error.message).toMatch(/admin|viewer|owner/);
      }
      if (res.status === 404) expect(res.body.error.code).toBe("not_found");
    });
  }

  test("the 403 for a viewer says what it may not do, and nothing happens", async () => {
    const before = (await f.json("GET", "/api/job/")).body.meta.total_count;
    const res = await f.json("POST", "/api/job/", { process_definition: "sleep", state: "NEW" }, AUTH.viewer);
    expect(res.body.error.message).toBe("a viewer may not submit jobs");
    expect((await f.json("GET", "/api/job/")).body.meta.total_count).toBe(before);
  });
});

describe("seeing jobs", () => {
  test("a viewer sees only its own jobs until it is granted all of them", async () => {
    const own = await jobOf("viewer");
    const theirs = await jobOf("other");
    const ids = async () => (await f.json("GET", "/api/job/?limit=1000", undefined, AUTH.viewer)).body.objects.map((j: any) => j.id);
    expect(await ids()).toContain(own);
    expect(await ids()).not.toContain(theirs);
    expect((await f.json("GET", `/api/job/${theirs}/`, undefined, AUTH.viewer)).status).toBe(404);

    expect((await f.json("PATCH", `/api/user/${actors.viewer.userId}/`, { sees_all_jobs: true })).body.sees_all_jobs).toBe(true);
    expect(await ids()).toContain(theirs);
    expect((await f.json("GET", `/api/job/${theirs}/`, undefined, AUTH.viewer)).status).toBe(200);
    expect((await f.json("GET", `/api/job/${theirs}/events/`, undefined, AUTH.viewer)).status).toBe(200);
    // Seeing is not touching.
    const cancel = await f.json("POST", `/api/job/${theirs}/cancel`, undefined, AUTH.viewer);
    expect(cancel.status).toBe(403);
    expect(cancel.body.error.message).toBe("a viewer may not cancel jobs");

    await f.json("PATCH", `/api/user/${actors.viewer.userId}/`, { sees_all_jobs: false });
    expect(await ids()).not.toContain(theirs);
  });

  test("the event stream shows a viewer another's events only when granted", async () => {
    const stream = async (auth: string) => {
      const res = await f.call("GET", "/api/events?pattern=%23", undefined, auth);
      const reader = res.body!.getReader();
      let text = "";
      return {
        text: () => text,
        pump: (async () => {
          for (;;) {
            const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
            if (done) return;
            text += new TextDecoder().decode(value);
          }
        })(),
        close: () => reader.cancel(),
      };
    };
    const plain = await stream(AUTH.submitter);
    await f.app.store.users.update(actors.viewer.userId, { seesAllJobs: true });
    const granted = await stream(AUTH.viewer);
    await eventually(() => plain.text().includes("ready") && granted.text().includes("ready"));
    const theirs = await jobOf("other");
    const mine = await jobOf("submitter");
    await eventually(() => granted.text().includes(mine) && plain.text().includes(mine));
    expect(granted.text()).toContain(theirs);
    expect(plain.text()).not.toContain(theirs);
    await f.app.store.users.update(actors.viewer.userId, { seesAllJobs: false });
    await plain.close();
    await granted.close();
  });
});

describe("/api/user/", () => {
  test("create, read, list, change, delete; never a password hash", async () => {
    const res = await f.call("POST", "/api/user/", { username: "carol@example.org", password: "carol-password", role: "submitter" });
    expect(res.status).toBe(201);
    const carol = (await res.json()) as any;
    expect(res.headers.get("location")).toBe(`http://flue.test/api/user/${carol.id}/`);
    expect(carol).toMatchObject({ username: "carol@example.org", role: "submitter", sees_all_jobs: false, resource_uri: `/api/user/${carol.id}/` });
    const carolAuth = basic("carol@example.org", "carol-password");
    expect((await f.json("GET", "/api/job/", undefined, carolAuth)).status).toBe(200);

    const listed = await f.json("GET", "/api/user/?limit=100");
    expect(listed.body.meta.total_count).toBe(listed.body.objects.length);
    expect(listed.body.objects.map((u: any) => u.username)).toContain("carol@example.org");
    for (const body of [listed.body, carol, (await f.json("GET", `/api/user/${carol.id}/`)).body]) {
      expect(JSON.stringify(body)).not.toMatch(/argon2|password/);
    }
    expect((await f.json("GET", "/api/user/me", undefined, carolAuth)).body).toMatchObject({ username: "carol@example.org", role: "submitter" });

    const changed = await f.json("PATCH", `/api/user/${carol.id}/`, { role: "viewer", password: "new-carol-password" });
    expect(changed.body).toMatchObject({ role: "viewer" });
    expect((await f.json("GET", "/api/job/", undefined, carolAuth)).status).toBe(401);
    const newAuth = basic("carol@example.org", "new-carol-password");
    expect((await f.json("POST", "/api/job/", { process_definition: "sleep", state: "NEW" }, newAuth)).status).toBe(403);

    expect((await f.call("DELETE", `/api/user/${carol.id}/`)).status).toBe(204);
    expect((await f.json("GET", `/api/user/${carol.id}/`)).status).toBe(404);
    expect((await f.json("GET", "/api/job/", undefined, newAuth)).status).toBe(401);
  });

  test.each([
    [{ username: "has space", password: "long-enough", role: "viewer" }, ["username"]],
    [{ username: "x".repeat(65), password: "long-enough", role: "viewer" }, ["username"]],
    [{ username: "ok", password: "short", role: "viewer" }, ["password"]],
    [{ username: "ok", password: "long-enough", role: "root" }, ["role"]],
    [{ username: "ok", password: "long-enough", role: "viewer", sees_all_jobs: "yes" }, ["sees_all_jobs"]],
    [{ username: "ok", password: "long-enough", role: "viewer", extra: 1 }, ["extra"]],
    [{}, ["username", "password", "role"]],
  ])("%j is a 400 naming %j", async (body, paths) => {
    const res = await f.json("POST", "/api/user/", body);
    expect(res.status).toBe(400);
    expect(res.body.error.fields.map((x: any) => x.path)).toEqual(paths);
  });

  test("a taken username is a 409 naming the field", async () => {
    const res = await f.json("POST", "/api/user/", { username: "sub", password: "long-enough", role: "viewer" });
    expect(res.status).toBe(409);
    expect(res.body.error.fields).toEqual([{ path: "username", message: expect.any(String) }]);
  });

  test("an admin cannot delete itself, nor the last admin be deleted or demoted", async () => {
    const me = actors.admin.userId;
    expect((await f.json("DELETE", `/api/user/${me}/`)).status).toBe(409);
    const demote = await f.json("PATCH", `/api/user/${me}/`, { role: "viewer" });
    expect(demote.status).toBe(409);
    expect(demote.body.error.fields[0].path).toBe("role");
    const second = await f.json("POST", "/api/user/", { username: "admin2", password: "admin2-password", role: "admin" });
    const other = basic("admin2", "admin2-password");
    expect((await f.json("DELETE", `/api/user/${second.body.id}/`, undefined, other)).status).toBe(409);
    // With two admins, one may step down; then the other is the last again.
    expect((await f.json("PATCH", `/api/user/${second.body.id}/`, { role: "submitter" }, other)).status).toBe(200);
    expect((await f.json("PATCH", `/api/user/${me}/`, { role: "viewer" })).status).toBe(409);
    expect((await f.json("DELETE", `/api/user/${second.body.id}/`)).status).toBe(204);
    expect((await f.json("DELETE", `/api/user/${second.body.id}/`)).status).toBe(404);
  });
});

describe("tokens and roles", () => {
  test("a token's role is at most its user's; its actor has the lower of the two", async () => {
    const low = await f.json("POST", "/api/token/", { name: "read-only", role: "viewer" });
    expect(low.status).toBe(201);
    expect(low.body.role).toBe("viewer");
    expect((await f.json("GET", "/api/user/me", undefined, bearer(low.body.token))).body.role).toBe("viewer");
    expect((await f.json("POST", "/api/job/", { process_definition: "sleep", state: "NEW" }, bearer(low.body.token))).status).toBe(403);
    expect((await f.json("GET", "/api/user/", undefined, bearer(low.body.token))).status).toBe(403);
    // A capped token cannot mint a stronger one.
    const up = await f.json("POST", "/api/token/", { name: "up", role: "admin" }, bearer(low.body.token));
    expect(up.status).toBe(403);
    const same = await f.json("POST", "/api/token/", { name: "same" }, bearer(low.body.token));
    expect(same.body.role).toBe("viewer");

    const sub = await f.json("POST", "/api/token/", { name: "too-high", role: "admin" }, AUTH.submitter);
    expect(sub.status).toBe(403);
    expect(sub.body.error.fields[0].path).toBe("role");
    expect((await f.json("POST", "/api/token/", { name: "bad", role: "root" })).status).toBe(400);

    // Demoting the user demotes its tokens at once.
    const t = await f.json("POST", "/api/token/", { name: "full" }, AUTH.submitter);
    expect(t.body.role).toBe("submitter");
    await f.json("PATCH", `/api/user/${actors.submitter.userId}/`, { role: "viewer" });
    expect((await f.json("GET", "/api/user/me", undefined, bearer(t.body.token))).body.role).toBe("viewer");
    await f.json("PATCH", `/api/user/${actors.submitter.userId}/`, { role: "submitter" });
  });

  test("expired and revoked tokens are a 401; ?all=1 lists everyone's tokens for an admin", async () => {
    const { secret: old } = f.app.auth.createToken(actors.submitter, "expired", Date.now() / 1000 - 1);
    expect((await f.json("GET", "/api/job/", undefined, bearer(old))).status).toBe(401);
    const { row, secret } = f.app.auth.createToken(actors.submitter, "revoked", null);
    expect((await f.json("GET", "/api/job/", undefined, bearer(secret))).status).toBe(200);
    const listed = await f.json("GET", "/api/token/?all=1");
    expect(listed.body.objects.find((t: any) => t.id === row.id)).toMatchObject({ username: "sub", name: "revoked" });
    expect((await f.call("DELETE", `/api/token/${row.id}/`, undefined, AUTH.submitter)).status).toBe(204);
    expect((await f.json("GET", "/api/job/", undefined, bearer(secret))).status).toBe(401);
  });

  test("a deleted user's cached Basic credentials stop working at once", async () => {
    const u = await f.app.auth.createUser("brief", "brief-password", "submitter");
    const auth = basic("brief", "brief-password");
    expect((await f.json("GET", "/api/job/", undefined, auth)).status).toBe(200); // now cached
    expect((await f.call("DELETE", `/api/user/${u.id}/`)).status).toBe(204);
    expect((await f.json("GET", "/api/job/", undefined, auth)).status).toBe(401);
    // The same name made again with the same password is a new user, verified anew.
    await f.app.auth.createUser("brief", "brief-password", "viewer");
    expect((await f.json("GET", "/api/user/me", undefined, auth)).body.role).toBe("viewer");
  });
});

describe("throttling", () => {
  test("5 failures for a username answer 429 with Retry-After until the window passes", async () => {
    await f.app.auth.createUser("slow", "slow-password", "viewer");
    for (let i = 0; i < 5; i++) expect((await f.json("GET", "/api/job/", undefined, basic("slow", `wrong-${i}`))).status).toBe(401);
    const res = await f.json("GET", "/api/job/", undefined, basic("slow", "slow-password"));
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(res.body.error.code).toBe("too_many_attempts");
    // Other users are not affected.
    expect((await f.json("GET", "/api/job/", undefined, AUTH.viewer)).status).toBe(200);
    await Bun.sleep(WINDOW_MS + 50);
    expect((await f.json("GET", "/api/job/", undefined, basic("slow", "slow-password"))).status).toBe(200);
  });

  test("a success resets the count", async () => {
    await f.app.auth.createUser("reset", "reset-password", "viewer");
    for (let i = 0; i < 4; i++) await f.json("GET", "/api/job/", undefined, basic("reset", "wrong"));
    expect((await f.json("GET", "/api/job/", undefined, basic("reset", "reset-password"))).status).toBe(200);
    for (let i = 0; i < 4; i++) expect((await f.json("GET", "/api/job/", undefined, basic("reset", "wrong"))).status).toBe(401);
    expect((await f.json("GET", "/api/job/", undefined, basic("reset", "reset-password"))).status).toBe(200);
  });

  test("failures lock out a name only from the address they came from; ten times as many lock out the address", async () => {
    // One failure allowed per name and address, ten per address: the same rule, quick to reach.
    const g = await inProcess({}, { auth: { throttle: { windowMs: WINDOW_MS, max: 1 } } });
    try {
      await g.app.auth.createUser("view", "view-password", "viewer");
      const { createHttp } = await import("../../src/http/index.ts");
      const http = createHttp(g.app);
      const from = (address: string, auth: string) =>
        http.request("http://flue.test/api/job/", { headers: { authorization: auth } }, { server: { requestIP: () => ({ address }) } });
      // Someone guessing the viewer's password from one address does not lock the viewer out elsewhere.
      expect((await from("10.9.9.7", basic("view", "guess"))).status).toBe(401);
      expect((await from("10.9.9.7", AUTH.viewer)).status).toBe(429);
      expect((await from("10.9.9.6", AUTH.viewer)).status).toBe(200);
      // Spraying many names from one address: after ten failures the address is refused, whatever the name.
      for (let i = 0; i < 10; i++) expect((await from("10.9.9.9", basic(`ghost${i}`, "nope-nope"))).status).toBe(401);
      expect((await from("10.9.9.9", AUTH.viewer)).status).toBe(429);
      expect((await from("10.9.9.8", AUTH.viewer)).status).toBe(200);
      await Bun.sleep(WINDOW_MS + 50);
      expect((await from("10.9.9.9", AUTH.viewer)).status).toBe(200);
      expect((await from("10.9.9.7", AUTH.viewer)).status).toBe(200);
    } finally {
      await g.close();
    }
  });

  test("an unknown name takes as long as a wrong password: the time does not tell which names exist", async () => {
    await f.app.auth.createUser("timed", "timed-password", "viewer");
    const time = async (auth: string) => {
      const began = performance.now();
      expect((await f.json("GET", "/api/job/", undefined, auth)).status).toBe(401);
      return performance.now() - began;
    };
    await time(basic("nobody-here", "x")); // the decoy hash is made once
    const known = Math.min(await time(basic("timed", "wrong-1")), await time(basic("timed", "wrong-2")));
    const unknown = Math.min(await time(basic("nobody-1", "wrong")), await time(basic("nobody-2", "wrong")));
    // argon2id takes tens of milliseconds; a name lookup alone well under one.
    expect(unknown).toBeGreaterThan(known / 3);
  });
});
