/** Every change a user makes leaves an audit row: who, what, on what, from where. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHttp } from "../../src/http/index.ts";
import { basic, inProcess, type InProcess } from "../helpers/index.ts";

let f: InProcess;
beforeAll(async () => {
  f = await inProcess();
});
afterAll(() => f.close());

const latest = async (action: string) => (await f.json("GET", `/api/audit/?action=${action}&limit=1`)).body.objects[0];

test("definitions, jobs, users and tokens each leave a row with actor and target", async () => {
  const def = (await f.json("POST", "/api/process_definition/", { definition: { exec: "/bin/sleep", argv: ["30"], name: "nap" } })).body;
  expect(await latest("definition.create")).toMatchObject({ actor: "admin", target: `/api/process_definition/${def.id}/`, details: { name: "nap", version: 1 } });
  await f.json("PUT", `/api/process_definition/${def.id}/`, { definition: { exec: "/bin/sleep", argv: ["31"], name: "nap" } });
  expect(await latest("definition.update")).toMatchObject({ target: `/api/process_definition/${def.id}/`, details: { version: 2 } });

  const job = (await f.json("POST", "/api/job/", { process_definition: "nap", state: "NEW" })).body;
  expect(await latest("job.submit")).toMatchObject({ actor: "admin", target: job.id });
  const bulk = (await f.json("POST", "/api/job/", [1, 2, 3].map(() => ({ process_definition: "nap", state: "NEW" })))).body.objects.map((j: any) => j.id);
  expect(await latest("job.submit")).toMatchObject({ target: "3 jobs", details: { ids: bulk } });
  await f.json("PATCH", `/api/job/${bulk[2]}/`, { parameters: {} });
  expect(await latest("job.update")).toMatchObject({ target: bulk[2], details: { parameters: [], inputs: [], queued: false } });
  await f.json("POST", `/api/job/${bulk[2]}/queue`);
  expect(await latest("job.queue")).toMatchObject({ actor: "admin", target: bulk[2] });
  await f.json("POST", `/api/job/${bulk[0]}/cancel`);
  expect(await latest("job.cancel")).toMatchObject({ target: bulk[0] });
  await f.call("DELETE", `/api/job/${bulk[1]}/`);
  expect(await latest("job.delete")).toMatchObject({ target: bulk[1] });

  const user = (await f.json("POST", "/api/user/", { username: "dana", password: "dana-password", role: "submitter" })).body;
  expect(await latest("user.create")).toMatchObject({ actor: "admin", target: "dana", details: { role: "submitter" } });
  await f.json("PATCH", `/api/user/${user.id}/`, { password: "other-password" });
  const update = await latest("user.update");
  expect(update).toMatchObject({ target: "dana", details: { password_changed: true } });
  expect(JSON.stringify(update)).not.toContain("other-password");

  const token = (await f.json("POST", "/api/token/", { name: "dana-ci" }, basic("dana", "other-password"))).body;
  expect(await latest("token.create")).toMatchObject({ actor: "dana", target: `/api/token/${token.id}/`, details: { name: "dana-ci", role: "submitter" } });
  await f.call("DELETE", `/api/token/${token.id}/`, undefined, basic("dana", "other-password"));
  expect(await latest("token.delete")).toMatchObject({ actor: "dana", target: `/api/token/${token.id}/` });
  await f.call("DELETE", `/api/user/${user.id}/`);
  expect(await latest("user.delete")).toMatchObject({ target: "dana" });
  await f.call("DELETE", `/api/process_definition/${def.id}/`);
  expect(await latest("definition.delete")).toMatchObject({ target: `/api/process_definition/${def.id}/` });
});

test("newest first, paged, filtered by action and actor", async () => {
  const all = (await f.json("GET", "/api/audit/?limit=1000")).body;
  const seqs = all.objects.map((a: any) => a.seq);
  expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
  expect(all.meta.total_count).toBe(all.objects.length);
  const page = (await f.json("GET", "/api/audit/?limit=2&offset=1")).body;
  expect(page.objects.map((a: any) => a.seq)).toEqual(seqs.slice(1, 3));
  expect(page.meta.next).toContain("offset=3");
  const dana = (await f.json("GET", "/api/audit/?actor=dana")).body.objects;
  expect(dana.map((a: any) => a.action).sort()).toEqual(["token.create", "token.delete"]);
  expect((await f.json("GET", "/api/audit/?action=nope")).body.meta.total_count).toBe(0);
  expect((await f.json("GET", "/api/audit/?limit=x")).status).toBe(400);
});

test("the remote address comes from the server, not from a header; absent, it is null", async () => {
  const http = createHttp(f.app);
  const headers = { authorization: basic(), "content-type": "application/json", "x-forwarded-for": "6.6.6.6", "x-flue-remote": "6.6.6.6" };
  const res = await http.request("http://flue.test/api/token/", { method: "POST", headers, body: JSON.stringify({ name: "remote" }) }, { server: { requestIP: () => ({ address: "192.0.2.7" }) } });
  expect(res.status).toBe(201);
  expect((await latest("token.create")).remote).toBe("192.0.2.7");
  await f.json("POST", "/api/token/", { name: "local" });
  expect((await latest("token.create")).remote).toBeNull();
});
