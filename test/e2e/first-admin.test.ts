/**
 * flue listens before the first admin's password hash is done (it takes
 * tens of milliseconds). A client that signs in during that moment must
 * wait for it, not get a 401 that counts towards the sign-in throttle.
 */
import { expect, test } from "bun:test";
import { ADMIN, basic, BINARY, tempDir } from "../helpers/index.ts";

test("sign-ins sent while the first admin is being made wait for it: 200, never 401 or 429", async () => {
  const dir = tempDir();
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  const proc = Bun.spawn({
    cmd: [BINARY, "serve", "--port", String(port), "--data-dir", dir.path],
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", FLUE_ADMIN_USER: ADMIN.user, FLUE_ADMIN_PASSWORD: ADMIN.password },
    stdout: "ignore",
    stderr: "ignore",
  });
  try {
    const statuses: number[] = [];
    const deadline = Date.now() + 15_000;
    // As fast as flue answers at all, then a few more: more than the throttle's five failures.
    while (statuses.length < 10 && Date.now() < deadline) {
      const res = await fetch(`http://127.0.0.1:${port}/api/job/`, { headers: { authorization: basic() } }).catch(() => undefined);
      if (res) statuses.push(res.status);
      else await Bun.sleep(1);
    }
    expect(statuses).toEqual(Array(10).fill(200));
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
    dir.remove();
  }
}, 30_000);
