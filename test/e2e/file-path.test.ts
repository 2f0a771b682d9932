/**
 * file_path adapters in the style of the seed's ffmpeg example: the input
 * and output are files whose paths flue puts into argv. Real files go up as
 * multipart form-data and come back down, all through curl.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startBinary, tempDir, type Binary } from "../helpers/index.ts";
import { curl, curlJson, USERPASS } from "./support.ts";

let b: Binary;
const data = tempDir("flue-e2e-file-path-");
const files = tempDir("flue-e2e-files-");

beforeAll(async () => {
  b = await startBinary({ dataDir: data.path });
});
afterAll(async () => {
  await b?.stop();
  data.remove();
  files.remove();
});

/** The seed's ffmpeg definition with another executable and argv. */
const fileDefinition = (exec: string, argv: string[]) => ({
  exec,
  argv,
  input_adapter: { input_type: "file", input_parameters: { file_path: "${input_file}" } },
  output_adapter: { output_type: "file", output_parameters: { file_path: "${output_file}" } },
});

async function register(definition: object): Promise<number> {
  return (
    await curlJson(
      "-u", USERPASS, "-H", "Content-Type: application/json", "-X", "POST",
      "--data", JSON.stringify({ definition }), `${b.url}/api/process_definition/`,
    )
  ).id;
}

/** Uploads `path` as input_file, waits for the job to end, returns the job and its output file. */
async function runWithUpload(defId: number, path: string) {
  const submitted = await curl(
    "-sS", "-u", USERPASS, "--dump-header", "-",
    "-F", `process_definition=${defId}`, "-F", `input_file=@${path}`, `${b.url}/api/job/`,
  );
  const [head, body] = submitted.stdout.split("\r\n\r\n");
  expect(head).toStartWith("HTTP/1.1 201");
  const id = JSON.parse(body).id;
  const done = await curlJson("-u", USERPASS, `${b.url}/api/job/${id}/?wait=10`);
  const out = join(files.path, `${id}.out`);
  const got = await curl("-sS", "-f", "-u", USERPASS, "-o", out, `${b.url}/api/job/${id}/outputs/output_file`);
  expect(got.code).toBe(0);
  return { done, out: readFileSync(out) };
}

test("sort -o ${output_file} ${input_file}: an uploaded text file comes back sorted", async () => {
  const defId = await register(fileDefinition("/usr/bin/sort", ["-o", "${output_file}", "${input_file}"]));
  const input = join(files.path, "fruit.txt");
  writeFileSync(input, "pear\napple\nfig\nbanana\n");
  const { done, out } = await runWithUpload(defId, input);
  expect(done.state).toBe("FINISHED");
  expect(done.exit_status).toBe(0);
  expect(done.outputs.output_file.size).toBe(out.length);
  expect(out.toString()).toBe("apple\nbanana\nfig\npear\n");
});

test("cp ${input_file} ${output_file}: random bytes round-trip unchanged", async () => {
  const defId = await register(fileDefinition("/bin/cp", ["${input_file}", "${output_file}"]));
  const input = join(files.path, "noise.bin");
  // Every byte value, then random bytes: a text-mode mangling anywhere shows.
  const bytes = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(300_000)]);
  writeFileSync(input, bytes);
  const { done, out } = await runWithUpload(defId, input);
  expect(done.state).toBe("FINISHED");
  expect(out.length).toBe(bytes.length);
  expect(out.equals(bytes)).toBe(true);
});

test("a file_path output the process never wrote fails the job and says which", async () => {
  const defId = await register(fileDefinition("/bin/true", ["${input_file}", "${output_file}"]));
  const input = join(files.path, "ignored.txt");
  writeFileSync(input, "x");
  const submitted = await curlJson("-u", USERPASS, "-F", `process_definition=${defId}`, "-F", `input_file=@${input}`, `${b.url}/api/job/`);
  const done = await curlJson("-u", USERPASS, `${b.url}/api/job/${submitted.id}/?wait=10`);
  expect(done.state).toBe("FAILED");
  expect(done.messages.map((m: { text: string }) => m.text).join("\n")).toContain("output_file was not produced");
});
