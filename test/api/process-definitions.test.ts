/**
 * The registry API, byte-compatible with the seed's tastypie registry:
 * envelope, 201 + Location, read/update/delete by id (with and without the
 * trailing slash) and by name, versions, and definitions read back as sent.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { inProcess, TR_DEFINITION, type InProcess } from "../helpers/index.ts";

let f: InProcess;
beforeAll(async () => {
  f = await inProcess();
});
afterAll(() => f.close());

const create = async (definition: Record<string, unknown>) => {
  const res = await f.json("POST", "/api/process_definition/", { definition });
  expect(res.status).toBe(201);
  return res;
};

describe("the list envelope", () => {
  test("is the seed's, on an empty registry", async () => {
    const { status, body } = await f.json("GET", "/api/process_definition/");
    expect(status).toBe(200);
    expect(body).toEqual({ meta: { limit: 20, next: null, offset: 0, previous: null, total_count: 0 }, objects: [] });
    expect(Object.keys(body.meta)).toEqual(["limit", "next", "offset", "previous", "total_count"]);
  });

  test("lists the seed's two definitions exactly as its curl example shows them", async () => {
    const ids = [];
    for (let i = 0; i < 2; i++) ids.push((await create({ exec: "/path/to/executable" })).body.id);
    const { body } = await f.json("GET", "/api/process_definition/");
    expect(body.meta).toEqual({ limit: 20, next: null, offset: 0, previous: null, total_count: 2 });
    expect(body.objects.map((o: any) => ({ definition: o.definition, id: o.id, resource_uri: o.resource_uri }))).toEqual(
      ids.map((id) => ({ definition: { exec: "/path/to/executable" }, id, resource_uri: `/api/process_definition/${id}/` })),
    );
    expect(Object.keys(body.objects[0]).slice(0, 3)).toEqual(["definition", "id", "resource_uri"]);
  });

  test("pages with ?limit=&offset= and links next and previous", async () => {
    for (let i = 0; i < 3; i++) await create({ exec: `/bin/page-${i}` });
    const all = (await f.json("GET", "/api/process_definition/?limit=100")).body;
    const total = all.meta.total_count;
    expect(total).toBe(5);
    const cases = [
      { q: "?limit=2", offset: 0, next: "/api/process_definition/?limit=2&offset=2", previous: null },
      { q: "?limit=2&offset=2", offset: 2, next: "/api/process_definition/?limit=2&offset=4", previous: "/api/process_definition/?limit=2&offset=0" },
      { q: "?limit=2&offset=4", offset: 4, next: null, previous: "/api/process_definition/?limit=2&offset=2" },
      { q: "?limit=2&offset=1", offset: 1, next: "/api/process_definition/?limit=2&offset=3", previous: "/api/process_definition/?limit=2&offset=0" },
    ];
    for (const c of cases) {
      const { status, body } = await f.json("GET", `/api/process_definition/${c.q}`);
      expect(status).toBe(200);
      expect(body.meta).toEqual({ limit: 2, next: c.next, offset: c.offset, previous: c.previous, total_count: total });
      expect(body.objects.map((o: any) => o.id)).toEqual(all.objects.slice(c.offset, c.offset + 2).map((o: any) => o.id));
    }
    const past = await f.json("GET", "/api/process_definition/?limit=2&offset=50");
    expect(past.body.objects).toEqual([]);
    expect(past.body.meta.total_count).toBe(total);
  });
});

describe("one definition", () => {
  test("POST answers 201 with an absolute Location that reads it back", async () => {
    const res = await f.call("POST", "/api/process_definition/", { definition: { exec: "/path/to/executable" } });
    expect(res.status).toBe(201);
    const body = (await res.json()) as any;
    expect(res.headers.get("location")).toBe(`http://flue.test/api/process_definition/${body.id}/`);
    expect(body.resource_uri).toBe(`/api/process_definition/${body.id}/`);
    const read = await f.json("GET", new URL(res.headers.get("location")!).pathname);
    expect(read.status).toBe(200);
    expect(read.body.definition).toEqual({ exec: "/path/to/executable" });
  });

  test("GET, PUT and DELETE work with and without the trailing slash", async () => {
    for (const slash of ["/", ""]) {
      const { body } = await create({ exec: "/bin/true" });
      const path = `/api/process_definition/${body.id}${slash}`;
      const got = await f.json("GET", path);
      expect(got.status).toBe(200);
      expect(got.body.id).toBe(body.id);
      const put = await f.json("PUT", path, { definition: { exec: "/bin/false" } });
      expect(put.status).toBe(200);
      expect(put.body.definition).toEqual({ exec: "/bin/false" });
      expect((await f.json("GET", path)).body.definition).toEqual({ exec: "/bin/false" });
      expect((await f.call("DELETE", path)).status).toBe(204);
      const gone = await f.json("GET", path);
      expect(gone.status).toBe(404);
      expect(gone.body.error.code).toBe("not_found");
      expect((await f.json("PUT", path, { definition: { exec: "/bin/true" } })).status).toBe(404);
      expect((await f.call("DELETE", path)).status).toBe(404);
    }
  });

  test("is found by name, and the name can be used for PUT and DELETE", async () => {
    const { body } = await create({ ...TR_DEFINITION, name: "tr-x" });
    const byName = await f.json("GET", "/api/process_definition/tr-x/");
    expect(byName.status).toBe(200);
    expect(byName.body.id).toBe(body.id);
    expect(byName.body.name).toBe("tr-x");
    const put = await f.json("PUT", "/api/process_definition/tr-x", { definition: { ...TR_DEFINITION, name: "tr-x", argv: ["-d", "y"] } });
    expect(put.status).toBe(200);
    expect(put.body.definition.argv).toEqual(["-d", "y"]);
    expect((await f.call("DELETE", "/api/process_definition/tr-x/")).status).toBe(204);
    expect((await f.json("GET", `/api/process_definition/${body.id}/`)).status).toBe(404);
  });

  test("PUT makes a new version and every old one stays readable", async () => {
    const { body } = await create({ exec: "/bin/echo", argv: ["one"], name: "versioned" });
    expect(body.version).toBe(1);
    const v2 = await f.json("PUT", `/api/process_definition/${body.id}/`, { definition: { exec: "/bin/echo", argv: ["two"], name: "versioned" } });
    expect(v2.body.version).toBe(2);
    const v3 = await f.json("PUT", "/api/process_definition/versioned/", { definition: { exec: "/bin/echo", argv: ["three"], name: "versioned" } });
    expect(v3.body.version).toBe(3);
    expect(v3.body.id).toBe(body.id);

    const list = await f.json("GET", `/api/process_definition/${body.id}/versions/`);
    expect(list.status).toBe(200);
    expect(list.body.meta.total_count).toBe(3);
    expect(list.body.objects.map((v: any) => [v.version, v.definition.argv[0], v.resource_uri]).sort()).toEqual([
      [1, "one", `/api/process_definition/${body.id}/versions/1/`],
      [2, "two", `/api/process_definition/${body.id}/versions/2/`],
      [3, "three", `/api/process_definition/${body.id}/versions/3/`],
    ]);
    const old = await f.json("GET", `/api/process_definition/${body.id}/versions/1/`);
    expect(old.status).toBe(200);
    expect(old.body).toMatchObject({ version: 1, definition: { exec: "/bin/echo", argv: ["one"], name: "versioned" } });
    expect((await f.json("GET", `/api/process_definition/${body.id}/`)).body.definition.argv).toEqual(["three"]);
    const missing = await f.json("GET", `/api/process_definition/${body.id}/versions/9/`);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("not_found");
  });

  test("a renamed definition answers to its new name only", async () => {
    const { body } = await create({ exec: "/bin/true", name: "before" });
    await f.json("PUT", `/api/process_definition/${body.id}/`, { definition: { exec: "/bin/true", name: "after" } });
    expect((await f.json("GET", "/api/process_definition/after/")).body.id).toBe(body.id);
    expect((await f.json("GET", "/api/process_definition/before/")).status).toBe(404);
  });
});

describe("the definition is returned as sent", () => {
  const cases: { name: string; sent: Record<string, unknown>; stored: Record<string, unknown> }[] = [
    { name: "the seed's minimal form", sent: { exec: "/path/to/executable" }, stored: { exec: "/path/to/executable" } },
    { name: "the seed's tr -d x", sent: TR_DEFINITION, stored: TR_DEFINITION },
    {
      name: "args, input_params and output_params in their canonical spellings",
      sent: {
        exec: "someproc",
        args: ["--quiet", "${input_file}"],
        input_adapter: { input_type: "file", input_params: { file_path: "${input_file}" } },
        output_adapter: { output_type: "file", output_params: { file_type: "stream", stream_name: "STDOUT" } },
      },
      stored: {
        exec: "someproc",
        argv: ["--quiet", "${input_file}"],
        input_adapter: { input_type: "file", input_parameters: { file_path: "${input_file}" } },
        output_adapter: { output_type: "file", output_parameters: { file_type: "stream", stream_name: "STDOUT" } },
      },
    },
    {
      name: "the seed's ffmpeg example",
      sent: {
        exec: "/usr/local/bin/ffmpeg",
        argv: ["-i", "${input_file}", "-q:a", "2", "${output_file}"],
        input_adapter: { input_type: "file", input_parameters: { file_path: "${input_file}" } },
        output_adapter: { output_type: "file", output_parameters: { file_path: "${output_file}" } },
      },
      stored: {
        exec: "/usr/local/bin/ffmpeg",
        argv: ["-i", "${input_file}", "-q:a", "2", "${output_file}"],
        input_adapter: { input_type: "file", input_parameters: { file_path: "${input_file}" } },
        output_adapter: { output_type: "file", output_parameters: { file_path: "${output_file}" } },
      },
    },
    {
      name: "every seed field, no defaults added",
      sent: { exec: "/bin/x", application: "app", process_type: "single", timeout: 60, cwd: "sub", environment: { ENVAR: "val" }, argv: ["a"] },
      stored: { exec: "/bin/x", application: "app", process_type: "single", timeout: 60, cwd: "sub", environment: { ENVAR: "val" }, argv: ["a"] },
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const { body } = await create(c.sent);
      expect(body.definition).toEqual(c.stored);
      expect((await f.json("GET", `/api/process_definition/${body.id}/`)).body.definition).toEqual(c.stored);
    });
  }
});
