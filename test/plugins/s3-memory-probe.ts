/**
 * Puts then fetches an object of `size` MiB through the s3 storage in a
 * process of its own, and prints how far its RSS rose during each: the test
 * runner's own heap, shared with every other test, would blur the figure.
 * Usage: bun s3-memory-probe.ts ENDPOINT KEY SECRET FILE SIZE_MIB
 */
import s3 from "../../plugins/s3.ts";

const [endpoint, key, secret, from, size] = process.argv.slice(2);
const ctx = {
  jobId: "probe",
  signal: new AbortController().signal,
  cacheDir: "/tmp",
  settings: { endpoint, access_key_id: key, secret_access_key: secret },
  message: () => {},
};

async function peakGrowth(run: () => Promise<unknown>): Promise<number> {
  Bun.gc(true);
  const before = process.memoryUsage.rss();
  let peak = before;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 1);
  await run();
  clearInterval(timer);
  return Math.max(peak, process.memoryUsage.rss()) - before;
}

const uri = new URL("s3://flue/probe.bin");
const up = await peakGrowth(() => s3.put!(uri, from, ctx));
const down = await peakGrowth(() => s3.fetch!(uri, `${from}.back`, ctx));
console.log(JSON.stringify({ up, down, bytes: Bun.file(`${from}.back`).size, expected: Number(size) * 2 ** 20 }));
