/**
 * Waiting that never outlives the process: every adapter that waits for a
 * process (to listen, to open a FIFO, to append) stops when it ends or when
 * the attempt is aborted.
 */
import type { RunningProcess } from "flue/plugin";

/** Whether the process has ended or the attempt was aborted, and a promise of either. */
export interface Stop {
  readonly done: boolean;
  readonly why: "ended" | "aborted" | undefined;
  readonly promise: Promise<void>;
}

/** A Stop for `process` (if given) and `signal`. */
export function stopOn(signal: AbortSignal, process?: RunningProcess): Stop {
  let why: Stop["why"] = signal.aborted ? "aborted" : undefined;
  const promise = new Promise<void>((resolve) => {
    if (why) return resolve();
    signal.addEventListener("abort", () => resolve(void (why ??= "aborted")), { once: true });
    process?.ended.then(() => resolve(void (why ??= "ended")));
  });
  return {
    get done() {
      return why !== undefined;
    },
    get why() {
      return why;
    },
    promise,
  };
}

/** Sleeps `ms`, less if `stop` comes first. */
export function pause(ms: number, stop: Stop): Promise<void> {
  let timer: Timer | undefined;
  return Promise.race([new Promise<void>((r) => (timer = setTimeout(r, ms))), stop.promise]).finally(() => clearTimeout(timer));
}

