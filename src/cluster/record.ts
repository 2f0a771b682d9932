/**
 * What instances tell each other, and the fleet protocol they agree on.
 * Plain types and constants only: the HTTP layer and the composition root
 * import this without loading the NATS client, so a single flue never
 * carries it.
 */

/**
 * The fleet protocol this build speaks: the shape of everything flue
 * shares over NATS (these records, and later queues, events, buckets).
 * Raise it whenever that shape changes.
 */
export const FLEET_PROTOCOL = 1;

/**
 * The oldest protocol this build still works beside. A build that raises
 * FLEET_PROTOCOL but keeps this where it was writes shared state only in
 * forms the older instances read; raising this too is a breaking change.
 */
export const FLEET_PROTOCOL_ACCEPTS = 1;

/** ACTIVE: heartbeating; STOPPED: said goodbye on SIGTERM; LOST: silent past the bound, as after a crash. */
export type InstanceState = "ACTIVE" | "LOST" | "STOPPED";

/**
 * One instance as the fleet sees it; the value each instance puts in the
 * presence bucket every heartbeat (times in UNIX seconds). Peers judge
 * `state`: a record that says ACTIVE but has gone silent is LOST.
 */
export interface InstanceRecord {
  id: string;
  host: string;
  version: string;
  labels: string[];
  slots: number;
  slots_in_use: number;
  started_at: number;
  heartbeat_at: number;
  protocol: number;
  containment: string;
  run_as: string;
  state: InstanceState;
}

/** The fleet as the rest of flue uses it: the members in memory, and leaving it. */
export interface Fleet {
  /** Where the fleet is, for the start-up line: the NATS servers and the protocol agreed. */
  readonly description: string;
  /** Every instance known, this one first; costs no request. */
  members(): InstanceRecord[];
  /** Marks this instance STOPPED for its peers and closes the connection. */
  leave(): Promise<void>;
}

/** Why flue could not join the fleet: said in one line, and flue exits 1. */
export class FleetJoinError extends Error {}
