/**
 * The fleet: several flue instances on one NATS. Joining it means:
 * connection, the version rule, presence; definitions and users mirrored
 * from KV buckets; every event replicated through a stream; control
 * requests served for the jobs that run here; one work queue the executor
 * takes its jobs from (work.ts), with fail-over; every job's stored
 * inputs, logs and outputs shared through the object store (results.ts).
 * main.ts imports this module only when --nats is given, so a single flue
 * never loads the NATS client.
 */
import { Kvm } from "@nats-io/kv";
import type { Config } from "../config.ts";
import { ID_PATTERN } from "../domain/index.ts";
import type { Executor } from "../executor/index.ts";
import type { Store } from "../store/index.ts";
import { connectNats, replicate } from "./connection.ts";
import { askControl, serveControl, type ControlHandler } from "./control.ts";
import { SharedDefinitions } from "./definitions.ts";
import { EventReplicator } from "./events.ts";
import { Presence, type SelfRecord } from "./presence.ts";
import { agreeProtocol } from "./protocol.ts";
import { FleetJoinError, type Fleet } from "./record.ts";
import { SharedResults } from "./results.ts";
import { SharedUsers } from "./users.ts";
import { FleetQueue } from "./work.ts";

export { FleetJoinError, type Fleet } from "./record.ts";

/** More attempts than any job reaches (at most 100 retries, and the fail-overs): what a `deleted` event may ask to remove. */
const MAX_ATTEMPTS = 1000;

/** How long leaving waits for this instance's last events to reach the stream; the rest go at the next start. */
const LEAVE_PUBLISH_MS = 2000;

/**
 * Connects, agrees on the fleet protocol, starts heartbeating, mirrors the
 * shared state and starts replicating events; throws a FleetJoinError (flue
 * exits 1) when any of it fails, leaving no connection behind.
 */
export async function joinFleet(config: Config, self: () => SelfRecord, store: Store, control: ControlHandler, executor: Pick<Executor, "useQueue" | "files" | "afterAttempt" | "fetchInput">): Promise<Fleet> {
  const where = config.nats.join(", ");
  const { id, version } = self();
  const nc = await connectNats(config, `flue ${id}`);
  // A job deleted elsewhere may have files here: its stored inputs (submitted here), logs of
  // attempts run here (before a fail-over). Listening before the events' catch-up counts
  // deletions made while this instance was away.
  // What an event from NATS names is checked: a job id, and no more attempts than a definition allows.
  const unsubscribeDeleted = store.events.subscribe((e) => {
    if (e.type !== "deleted" || e.executor === id || !ID_PATTERN.test(e.id ?? "")) return;
    const attempts = typeof e.attempts === "number" && Number.isInteger(e.attempts) ? Math.min(Math.max(e.attempts, 0), MAX_ATTEMPTS) : 0;
    executor.files.remove(e.id!, attempts);
  });
  try {
    const kvm = new Kvm(nc);
    const agreed = await agreeProtocol(kvm, version, where);
    const definitions = await SharedDefinitions.start(nc, kvm, store);
    const users = await SharedUsers.start(nc, kvm, store);
    const events = await EventReplicator.start(nc, store, id, config.eventsMaxAgeMs);
    const controlSub = serveControl(nc, id, control);
    const results = await SharedResults.start(nc, executor.files, id, config.eventsMaxAgeMs);
    const presence = await Presence.start(nc, kvm, self, { heartbeatMs: config.heartbeatMs, lostAfterMs: config.lostAfterMs });
    const work = await FleetQueue.start(nc, store, { self: id, labels: config.labels, failoverAfterMs: config.failoverAfterMs, members: () => presence.members(), caughtUp: () => events.caughtUp });
    if (config.natsReplicas) await replicate(nc, config.natsReplicas);
    executor.useQueue(work);
    executor.afterAttempt = (jobId, attempt) => results.share(jobId, attempt);
    executor.fetchInput = (jobId, name) => results.fetchInput(jobId, name);
    return {
      description: `${where}, fleet protocol ${agreed.protocol}`,
      members: () => presence.members(),
      newDefinitionId: () => definitions.newId(),
      shareDefinition: (row) => definitions.put(row as Parameters<SharedDefinitions["put"]>[0]),
      unshareDefinition: (defId) => definitions.remove(defId),
      enqueue: (items) => work.enqueue(items),
      shareInputs: (inputs) => results.shareInputs(inputs),
      ask: (instance, request) => askControl(nc, instance, request),
      openResult: (name) => results.open(name),
      readResult: (instance, name, offset, max) => results.range(instance, name, offset, max),
      removeResults: (job) => results.remove(job),
      leave: async () => {
        controlSub.unsubscribe();
        unsubscribeDeleted();
        results.stop();
        await work.stop();
        await events.stop(LEAVE_PUBLISH_MS);
        definitions.stop();
        users.stop();
        await presence.stop();
        await nc.close();
      },
    };
  } catch (e) {
    unsubscribeDeleted();
    await nc.close();
    if (e instanceof FleetJoinError) throw e;
    throw new FleetJoinError(`cannot join the fleet on ${where}: ${(e as Error).message}`);
  }
}
