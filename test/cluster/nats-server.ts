/**
 * A real nats-server for the cluster tests: on a free port, JetStream in a
 * temp store dir, optionally with authentication; stopped and started again
 * on the same port and store, as an operator's restart would.
 */
import { freePort, tempDir } from "../helpers/index.ts";

export { freePort };

async function accepting(port: number): Promise<boolean> {
  return Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } }).then(
    (s) => (s.end(), true),
    () => false,
  );
}

export interface NatsServer {
  url: string;
  port: number;
  /** Stops the server (SIGTERM), keeping its store. */
  stop: () => Promise<void>;
  /** Starts it again on the same port and store. */
  start: () => Promise<void>;
  /** Stops it and removes the store. */
  remove: () => Promise<void>;
}

/** Starts nats-server with JetStream; `auth` is extra flags such as ["--auth", token]; `port` when it must be known beforehand. */
export async function startNatsServer(auth: string[] = [], port = freePort()): Promise<NatsServer> {
  const store = tempDir("flue-nats-");
  let proc: ReturnType<typeof Bun.spawn> | undefined;
  const start = async () => {
    const p = Bun.spawn(["nats-server", "-js", "-sd", store.path, "-a", "127.0.0.1", "-p", String(port), ...auth], { stdout: "ignore", stderr: "pipe" });
    proc = p;
    for (let i = 0; i < 200; i++) {
      if (await accepting(port)) return;
      if (p.exitCode !== null) break;
      await Bun.sleep(25);
    }
    p.kill();
    throw new Error(`nats-server did not start: ${await new Response(p.stderr as ReadableStream).text()}`);
  };
  const stop = async () => {
    proc?.kill("SIGTERM");
    await proc?.exited;
  };
  await start();
  return { url: `nats://127.0.0.1:${port}`, port, start, stop, remove: async () => (await stop(), store.remove()) };
}
