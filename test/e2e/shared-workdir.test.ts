/**
 * The executor seed's two shared-filesystem modes. `local`: a job runs
 * directly in a shared directory given per job (a parameter in `cwd`,
 * inside an --allow-dir), reading what is already there and leaving its
 * results there: nothing is copied in or out. `nfs`: inputs come from the
 * share as file:// URIs and results go back to it, the job itself running
 * in its private workdir.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { inProcess, tempDir, type InProcess } from "../helpers/index.ts";

const share = tempDir("flue-share-");
let f: InProcess;
beforeAll(async () => {
  // --allow-dir alone: the file:// storage may use it too (FLUE_FILE_ALLOW unset).
  f = await inProcess({ allowDirs: [share.path] });
});
afterAll(async () => {
  await f.close();
  share.remove();
});

const define = async (definition: object) => {
  const res = await f.json("POST", "/api/process_definition/", { definition });
  expect(res.status).toBe(201);
  return res.body.id as number;
};
const run = async (body: object) => {
  const res = await f.json("POST", "/api/job/", body);
  expect(res.status).toBe(201);
  return (await f.json("GET", `/api/job/${res.body.id}/?wait=20`)).body;
};

test("local: the job runs in the shared directory it is given, on the files there, and leaves its results there", async () => {
  const run1 = join(share.path, "run1");
  mkdirSync(run1);
  chmodSync(run1, 0o777); // jobs run as nobody: the share is the admin's to open
  writeFileSync(join(run1, "data.txt"), "shared bytes\n");
  const id = await define({
    exec: "/bin/sh",
    argv: ["-c", "pwd; tr a-z A-Z < data.txt > result.txt"],
    cwd: "${dir}",
    parameters: { dir: { type: "string", required: true } },
    output_adapter: { output_type: "file", output_parameters: { file_type: "stream", stream_name: "STDOUT" } },
  });
  const job = await run({ process_definition: id, parameters: { dir: run1 } });
  expect(job.state).toBe("FINISHED");
  expect(await (await f.call("GET", `/api/job/${job.id}/stdout`)).text()).toBe(`${run1}\n`);
  expect(readFileSync(join(run1, "result.txt"), "utf8")).toBe("SHARED BYTES\n");
  // Outside every --allow-dir: refused, with the reason.
  const outside = await run({ process_definition: id, parameters: { dir: "/etc" } });
  expect(outside.state).toBe("FAILED");
  expect(outside.messages.at(-1).text).toContain("cwd");
});

test("nfs: inputs are copied in from the share, results copied back to it", async () => {
  mkdirSync(join(share.path, "in"));
  writeFileSync(join(share.path, "in", "x.txt"), "from the share\n");
  const id = await define({
    exec: "/usr/bin/tr",
    argv: ["a-z", "A-Z"],
    input_adapter: { input_type: "file", input_parameters: { file_type: "stream", stream_name: "STDIN" } },
    output_adapter: { output_type: "file", output_parameters: { file_type: "stream", stream_name: "STDOUT" } },
  });
  const job = await run({
    process_definition: id,
    inputs: { input_file: { uri: `file://${share.path}/in/x.txt` } },
    outputs: { output_file: { uri: `file://${share.path}/out/x.txt` } },
  });
  expect(job.state).toBe("FINISHED");
  expect(readFileSync(join(share.path, "out", "x.txt"), "utf8")).toBe("FROM THE SHARE\n");
  expect(job.outputs.output_file).toMatchObject({ uri: `file://${share.path}/out/x.txt`, size: 15 });
  // The share's input was read, not moved.
  expect(existsSync(join(share.path, "in", "x.txt"))).toBe(true);
  // A file:// URI outside the allowed directories is refused at submission.
  const refused = await f.json("POST", "/api/job/", { process_definition: id, inputs: { input_file: { uri: "file:///etc/passwd" } } });
  expect(refused.status).toBe(400);
  expect(refused.body.error.fields[0].path).toBe("inputs.input_file.uri");
});
