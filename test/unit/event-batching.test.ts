/**
 * How long the executor's events wait for company before they are written:
 * 5 ms, or 20 ms while batches come full (see BUSY_BATCH_MS in
 * event-log.ts). Only lower bounds are asserted where a timer's lateness on
 * a loaded machine could otherwise fail the test; a timer never fires early.
 */
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import type { FlueEvent } from "../../src/domain/index.ts";
import { Store } from "../../src/store/index.ts";
import { tempDir } from "../helpers/index.ts";

const dir = tempDir();
const store = Store.open(join(dir.path, "flue.db"));
afterAll(() => {
  store.close();
  dir.remove();
});

const event = (): FlueEvent => ({ type: "executor.ready", executor: "test", timestamp: Date.now() / 1000 });

/** Emits `n` events at once; resolves with the ms until the last is written (its listeners hear it after the commit). */
function emitAndTime(n: number): Promise<number> {
  const events = Array.from({ length: n }, event);
  const last = events.at(-1);
  const began = performance.now();
  return new Promise((resolve) => {
    const stop = store.events.subscribe((e) => {
      if (e !== last) return;
      stop();
      resolve(performance.now() - began);
    });
    store.events.emit(...events);
  });
}

test("a lone event waits about 5 ms for others; after a full batch the next waits about 20 ms; after a lone one, 5 ms again", async () => {
  expect(await emitAndTime(1)).toBeGreaterThanOrEqual(4);
  await emitAndTime(60); // a full batch
  const afterBusy = await emitAndTime(1);
  expect(afterBusy).toBeGreaterThanOrEqual(15);
  const afterQuiet = await emitAndTime(1);
  expect(afterQuiet).toBeGreaterThanOrEqual(4);
  expect(afterQuiet).toBeLessThan(afterBusy);
});
