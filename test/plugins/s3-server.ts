/**
 * A real S3-compatible server for tests: s3rver (a devDependency), serving
 * from a temp directory on a free loopback port, in a child process so its
 * memory and event loop stay apart from the test's.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface S3Server {
  endpoint: string;
  /** s3rver's fixed credentials. */
  accessKeyId: string;
  secretAccessKey: string;
  stop(): Promise<void>;
}

/** Starts s3rver with the given buckets; resolves once it listens. */
export async function startS3Server(buckets: string[]): Promise<S3Server> {
  const directory = mkdtempSync(join(tmpdir(), "flue-s3rver-"));
  const script = join(import.meta.dir, "../../node_modules/s3rver/bin/s3rver.js");
  const proc = Bun.spawn({
    cmd: [process.execPath, script, "-d", directory, "-a", "127.0.0.1", "-p", "0", "-s", ...buckets.flatMap((b) => ["--configure-bucket", b])],
    stdout: "pipe",
    stderr: "inherit",
  });
  const stop = async () => {
    proc.kill();
    await proc.exited;
    rmSync(directory, { recursive: true, force: true });
  };
  let seen = "";
  const decoder = new TextDecoder();
  for await (const chunk of proc.stdout) {
    seen += decoder.decode(chunk, { stream: true });
    const port = /S3rver listening on [\d.]+:(\d+)/.exec(seen)?.[1];
    if (port) return { endpoint: `http://127.0.0.1:${port}`, accessKeyId: "S3RVER", secretAccessKey: "S3RVER", stop };
  }
  await stop();
  throw new Error(`s3rver did not start: ${seen}`);
}
