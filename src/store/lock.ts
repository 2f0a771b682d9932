/**
 * One flue per data dir: two would both run every queued job. The lock is a
 * pid file made with O_EXCL; one left by a flue that died (kill -9, power
 * loss) is taken over, since its pid no longer runs `flue serve`.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export class DataDirLockedError extends Error {}

function runsFlue(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes("serve");
  } catch {
    return false;
  }
}

/** Takes the data dir's lock, or throws DataDirLockedError naming the flue that holds it. Returns the release. */
export function lockDataDir(dir: string): () => void {
  const path = join(dir, "flue.pid");
  for (let tries = 0; ; tries++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: "wx", mode: 0o600 });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST" || tries > 0) throw e;
      const holder = Number(readFileSync(path, "utf8").trim());
      if (holder && holder !== process.pid && runsFlue(holder)) {
        throw new DataDirLockedError(`the data dir ${dir} is in use by another flue (pid ${holder}); stop it or choose another --data-dir`);
      }
      rmSync(path, { force: true }); // left by a flue that is gone
    }
  }
  return () => {
    try {
      if (readFileSync(path, "utf8").trim() === String(process.pid)) rmSync(path, { force: true });
    } catch {}
  };
}
