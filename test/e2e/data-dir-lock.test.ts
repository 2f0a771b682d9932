/**
 * One flue per data dir: a second one on the same data dir would run every
 * queued job a second time, so it refuses to start and says which flue holds
 * the dir. A lock left by a flue killed with -9 is taken over.
 */
import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ADMIN, BINARY, startBinary, tempDir } from "../helpers/index.ts";

test("a second flue on the same data dir refuses to start; a dead one's lock is taken over", async () => {
  const dir = tempDir("flue-e2e-lock-");
  try {
    const first = await startBinary({ dataDir: dir.path });
    const lock = join(dir.path, "flue.pid");
    expect(readFileSync(lock, "utf8").trim()).toBe(String(first.proc.pid));

    const second = Bun.spawn({
      cmd: [BINARY, "serve", "--port", "0", "--data-dir", dir.path],
      env: { PATH: "/usr/bin:/bin", FLUE_ADMIN_PASSWORD: ADMIN.password },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [err, code] = await Promise.all([new Response(second.stderr).text(), second.exited]);
    expect(code).toBe(1);
    expect(err).toContain(`is in use by another flue (pid ${first.proc.pid})`);
    expect((await first.fetch("/api/job/")).status).toBe(200); // the first is untouched

    await first.kill9();
    expect(existsSync(lock)).toBe(true); // a crash leaves it behind
    const third = await startBinary({ dataDir: dir.path });
    expect(readFileSync(lock, "utf8").trim()).toBe(String(third.proc.pid));
    expect(await third.stop()).toBe(0);
    expect(existsSync(lock)).toBe(false); // a clean stop gives it back
  } finally {
    dir.remove();
  }
});
