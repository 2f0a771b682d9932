/**
 * The seed's curl commands (process-registry.txt), verbatim but for the
 * credentials and the address, run as real curl processes against the
 * compiled binary; then the seed's `tr -d x` example end to end.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startBinary, tempDir, TR_DEFINITION, type Binary } from "../helpers/index.ts";
import { curl, curlJson, USERPASS } from "./support.ts";

let b: Binary;
const data = tempDir("flue-e2e-seed-");
/** The seed's two spellings of the address: http://127.0.0.1:8000 and http://localhost:8000. */
let ip: string;
let localhost: string;

beforeAll(async () => {
  b = await startBinary({ dataDir: data.path });
  ip = b.url;
  localhost = b.url.replace("127.0.0.1", "localhost");
});
afterAll(async () => {
  await b?.stop();
  data.remove();
});

const EXEC = '{"definition": {"exec": "/path/to/executable"}}';

test("list: curl -u $USERNAME:$PASSWORD http://127.0.0.1:8000/api/process_definition/", async () => {
  const r = await curl("-u", USERPASS, `${ip}/api/process_definition/`);
  expect(r.code).toBe(0);
  const body = JSON.parse(r.stdout);
  expect(Object.keys(body)).toEqual(["meta", "objects"]);
  expect(body.meta).toEqual({ limit: 20, next: null, offset: 0, previous: null, total_count: 0 });
  expect(body.objects).toEqual([]);
});

test("the registry refuses curl without -u", async () => {
  const r = await curl("-s", "-o", "/dev/null", "-w", "%{http_code}", `${ip}/api/process_definition/`);
  expect(r.stdout).toBe("401");
});

test("create, read, list, update and delete, as the seed's curl commands", async () => {
  // The seed's create command, byte for byte.
  const created = await curl(
    "-u", USERPASS, "--dump-header", "-", "-H", "Content-Type: application/json",
    "-X", "POST", "--data", EXEC, `${localhost}/api/process_definition/`,
  );
  expect(created.code).toBe(0);
  const [head, body] = created.stdout.split("\r\n\r\n");
  expect(head).toStartWith("HTTP/1.1 201");
  const location = /^Location: (\S+)$/im.exec(head)?.[1];
  expect(location).toMatch(new RegExp(`^${localhost}/api/process_definition/\\d+/$`));
  const id = Number(/\/(\d+)\/$/.exec(location!)![1]);
  const made = JSON.parse(body);
  expect(made.id).toBe(id);
  expect(made.resource_uri).toBe(`/api/process_definition/${id}/`);
  expect(made.definition.exec).toBe("/path/to/executable");

  // Read it back, with and without the trailing slash, by the Location itself.
  const read = await curlJson("-u", USERPASS, location!);
  expect(read).toMatchObject({ id, resource_uri: `/api/process_definition/${id}/`, definition: { exec: "/path/to/executable" } });
  expect(await curlJson("-u", USERPASS, `${ip}/api/process_definition/${id}`)).toMatchObject({ id });

  // The list shows it in the seed's envelope.
  await curl("-u", USERPASS, "-H", "Content-Type: application/json", "-X", "POST", "--data", EXEC, `${ip}/api/process_definition/`);
  const list = await curlJson("-u", USERPASS, `${ip}/api/process_definition/`);
  expect(list.meta).toEqual({ limit: 20, next: null, offset: 0, previous: null, total_count: 2 });
  for (const o of list.objects) {
    expect(o.definition.exec).toBe("/path/to/executable");
    expect(o.resource_uri).toBe(`/api/process_definition/${o.id}/`);
  }
  const paged = await curlJson("-u", USERPASS, `${ip}/api/process_definition/?limit=1&offset=0`);
  expect(paged.objects).toHaveLength(1);
  expect(paged.meta.next).not.toBeNull();

  // PUT: a new version; the old one stays readable.
  const put = await curl(
    "-u", USERPASS, "--dump-header", "-", "-H", "Content-Type: application/json",
    "-X", "PUT", "--data", '{"definition": {"exec": "/path/to/other", "argv": ["arg1", "arg2"]}}', location!,
  );
  expect(put.stdout).toStartWith("HTTP/1.1 200");
  const updated = await curlJson("-u", USERPASS, location!);
  expect(updated.definition).toMatchObject({ exec: "/path/to/other", argv: ["arg1", "arg2"] });
  expect(updated.version).toBe(2);

  // DELETE: gone, and the list says so.
  const del = await curl("-u", USERPASS, "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "DELETE", location!);
  expect(["200", "204"]).toContain(del.stdout);
  const after = await curl("-u", USERPASS, "-s", "-o", "/dev/null", "-w", "%{http_code}", location!);
  expect(after.stdout).toBe("404");
  const left = await curlJson("-u", USERPASS, `${ip}/api/process_definition/`);
  expect(left.meta.total_count).toBe(1);
  expect(left.objects.map((o: { id: number }) => o.id)).not.toContain(id);
});

test("the seed's tr -d x turns axbxcx into abc, all through curl", async () => {
  const def = await curl(
    "-u", USERPASS, "--dump-header", "-", "-H", "Content-Type: application/json",
    "-X", "POST", "--data", JSON.stringify({ definition: TR_DEFINITION }), `${ip}/api/process_definition/`,
  );
  expect(def.stdout).toStartWith("HTTP/1.1 201");
  const defId = JSON.parse(def.stdout.split("\r\n\r\n")[1]).id;

  const submitted = await curl(
    "-u", USERPASS, "--dump-header", "-", "-H", "Content-Type: application/json", "-X", "POST",
    "--data", JSON.stringify({ process_definition: defId, inputs: { input_file: { content: "axbxcx" } } }),
    `${ip}/api/job/`,
  );
  const [head, body] = submitted.stdout.split("\r\n\r\n");
  expect(head).toStartWith("HTTP/1.1 201");
  const jobId = JSON.parse(body).id;
  expect(head).toMatch(new RegExp(`^Location: ${ip}/api/job/${jobId}/\\r?$`, "im"));

  const done = await curlJson("-u", USERPASS, `${ip}/api/job/${jobId}/?wait=10`);
  expect(done.state).toBe("FINISHED");
  expect(done.exit_status).toBe(0);
  const out = await curl("-sS", "-u", USERPASS, `${ip}/api/job/${jobId}/outputs/output_file`);
  expect(out.stdout).toBe("abc");
});
