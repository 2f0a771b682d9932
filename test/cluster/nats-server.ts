/**
 * A real nats-server for the cluster tests: on a free port, JetStream in a
 * temp store dir, optionally with authentication; stopped and started again
 * on the same port and store, as an operator's restart would. Or three of
 * them routed into one JetStream cluster.
 */
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { follow, freePort, tempDir } from "../helpers/index.ts";

export { freePort };

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

/**
 * Starts nats-server with JetStream; `auth` is extra flags such as ["--auth", token]; `port` when it must be known beforehand.
 * A port found free may be taken by another process before nats-server binds it: then another one is tried.
 */
export async function startNatsServer(auth: string[] = [], port?: number): Promise<NatsServer> {
  for (let tries = 1; ; tries++) {
    try {
      return await startOn(auth, port ?? freePort());
    } catch (e) {
      if (port !== undefined || tries === 3 || !/address already in use/i.test(String(e))) throw e;
    }
  }
}

async function startOn(auth: string[], port: number): Promise<NatsServer> {
  const store = tempDir("flue-nats-");
  let proc: ReturnType<typeof Bun.spawn> | undefined;
  const start = async () => {
    const p = Bun.spawn(["nats-server", "-js", "-sd", store.path, "-a", "127.0.0.1", "-p", String(port), ...auth], { stdout: "ignore", stderr: "pipe" });
    proc = p;
    // Ready when it says so: a port that accepts may be another process's, which took the port first.
    const said = follow(p.stderr as ReadableStream<Uint8Array>);
    try {
      await said.until(/Server is ready/, 10_000);
    } catch {
      p.kill();
      throw new Error(`nats-server did not start on port ${port}: ${said.text().trim().split("\n").slice(-3).join("\n")}`);
    }
  };
  const stop = async () => {
    proc?.kill("SIGTERM");
    await proc?.exited;
  };
  await start().catch((e) => (store.remove(), Promise.reject(e)));
  return { url: `nats://127.0.0.1:${port}`, port, start, stop, remove: async () => (await stop(), store.remove()) };
}

export interface NatsCluster {
  nodes: NatsServer[];
  /** Every node's URL, comma-separated, as --nats takes them. */
  urls: string;
  remove: () => Promise<void>;
}

/**
 * Starts three nats-servers routed into one JetStream cluster: each with its
 * own store dir and server name, routes to the other two. Resolves once
 * JetStream has a meta leader (streams can be made).
 */
export async function startNatsCluster(): Promise<NatsCluster> {
  const ports = [0, 1, 2].map(() => ({ client: freePort(), route: freePort() }));
  const name = `flue${ports[0].client}`;
  const routes = ports.map((p) => `nats://127.0.0.1:${p.route}`).join(",");
  const nodes = await Promise.all(
    ports.map((p, i) => startNatsServer(["--server_name", `${name}-${i}`, "--cluster_name", name, "--cluster", `nats://127.0.0.1:${p.route}`, "--routes", routes], p.client)),
  );
  await jetstreamReady(nodes[0].url);
  return { nodes, urls: nodes.map((n) => n.url).join(","), remove: async () => void (await Promise.all(nodes.map((n) => n.remove()))) };
}

/** Waits until JetStream answers on `url`: in a cluster, a meta leader is elected a few seconds after the routes connect. */
async function jetstreamReady(url: string): Promise<void> {
  const nc = await connect({ servers: url });
  try {
    for (let i = 0; ; i++) {
      try {
        await (await jetstreamManager(nc, { timeout: 1000 })).getAccountInfo();
        return;
      } catch (e) {
        if (i >= 60) throw new Error(`JetStream did not come up on ${url}: ${(e as Error).message}`);
        await Bun.sleep(250);
      }
    }
  } finally {
    await nc.close();
  }
}
