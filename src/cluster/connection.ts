/**
 * The fleet's NATS connection. At start it must succeed — a flue given
 * --nats never runs half alone — and afterwards it reconnects forever,
 * saying once when it lost NATS and once when it is back. The servers are
 * tried in the order given, so an operator can spread instances over a
 * cluster's nodes; the rest (and those the cluster announces) are where it
 * goes when its own node is away.
 */
import { jetstreamManager } from "@nats-io/jetstream";
import { readFileSync } from "node:fs";
import { connect, credsAuthenticator, nkeyAuthenticator, type NatsConnection, type NodeConnectionOptions } from "@nats-io/transport-node";
import type { Config } from "../config.ts";
import { FleetJoinError } from "./record.ts";

/** The gap between reconnect attempts: short, so a restarted NATS finds its instances back within a second or two. */
const RECONNECT_WAIT_MS = 500;

/** The client's options from the flags: servers, one way to authenticate, TLS, reconnect forever. */
function options(config: Config, name: string): NodeConnectionOptions {
  const opts: NodeConnectionOptions = {
    servers: config.nats,
    noRandomize: true,
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: RECONNECT_WAIT_MS,
    timeout: 5000,
  };
  if (config.natsUser) Object.assign(opts, { user: config.natsUser, pass: config.natsPassword });
  if (config.natsToken) opts.token = config.natsToken;
  if (config.natsCreds) opts.authenticator = credsAuthenticator(readFileSync(config.natsCreds));
  if (config.natsNkey) opts.authenticator = nkeyAuthenticator(new TextEncoder().encode(readFileSync(config.natsNkey, "utf8").trim()));
  if (config.natsTlsCa) opts.tls = { caFile: config.natsTlsCa };
  return opts;
}

/** Whether each connection is connected now, as its status events said last. */
const disconnected = new WeakSet<NatsConnection>();

/** Whether the connection is up now (not closed, not between a disconnect and its reconnect). */
export const natsConnected = (nc: NatsConnection): boolean => !nc.isClosed() && !disconnected.has(nc);

/** Says each change of the connection once: a burst of failed reconnect attempts is one "lost" line. */
async function logStatus(nc: NatsConnection): Promise<void> {
  let connected = true;
  for await (const s of nc.status()) {
    if (s.type === "disconnect" && connected) {
      connected = false;
      disconnected.add(nc);
      console.log(`flue: lost NATS at ${s.server}; jobs go on here, reconnecting`);
    } else if (s.type === "reconnect" && !connected) {
      connected = true;
      disconnected.delete(nc);
      console.log(`flue: reconnected to NATS at ${s.server}`);
    }
  }
}

/** Connects with the flags' credentials, or throws a FleetJoinError naming the servers and what went wrong. */
export async function connectNats(config: Config, name: string): Promise<NatsConnection> {
  let nc: NatsConnection;
  try {
    nc = await connect(options(config, name));
  } catch (e) {
    throw new FleetJoinError(`cannot connect to NATS at ${config.nats.join(", ")}: ${(e as Error).message}`);
  }
  void logStatus(nc);
  return nc;
}

/** How long joining waits for the copies of the fleet's streams to be made. */
const REPLICATE_WAIT_MS = 30_000;
/** The fleet's streams: the work queue, the events, and those behind its buckets and object store. */
const FLEET_STREAM = /^(KV_|OBJ_)?flue_/;

/**
 * Keeps `replicas` copies of every fleet stream (and so of its durable
 * consumers) in a NATS cluster: one made with a single copy lives on one
 * node, and with that node the fleet would lose it. Streams are made with
 * one copy wherever they are made; this raises them, once all exist.
 */
export async function replicate(nc: NatsConnection, replicas: number): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const names: string[] = [];
  for await (const info of jsm.streams.list()) {
    if (!FLEET_STREAM.test(info.config.name)) continue;
    names.push(info.config.name);
    if (info.config.num_replicas < replicas) await jsm.streams.update(info.config.name, { ...info.config, num_replicas: replicas });
  }
  // Until the copies are current, losing the node that had the only one still loses the stream.
  const deadline = Date.now() + REPLICATE_WAIT_MS;
  for (const name of names) {
    for (;;) {
      const info = await jsm.streams.info(name).catch(() => undefined);
      const copies = info?.cluster?.leader ? 1 + (info.cluster.replicas ?? []).filter((r) => r.current).length : 0;
      if (copies >= replicas) break;
      if (Date.now() > deadline) throw new Error(`stream ${name} has ${copies} of ${replicas} copies after ${REPLICATE_WAIT_MS / 1000} s (--nats-replicas needs a NATS cluster of at least that many JetStream nodes)`);
      await Bun.sleep(100);
    }
  }
}
