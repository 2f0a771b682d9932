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

/** A request to the instance a job runs on, which acts on it as if asked there. */
export interface ControlRequest {
  verb: "cancel" | "delete";
  id: string;
  /** Who asked (checked where asked): named in the job's message. */
  actor: string;
}

/** What the instance asked answers: done, or why not (a 4xx of its own). */
export type ControlReply = { ok: true } | { ok: false; status: number; message: string };

/** A file of a job's from the fleet's object store: its size, and its bytes as the reader takes them. */
export interface SharedFile {
  size: number;
  stream: ReadableStream<Uint8Array>;
}

/** An input flue stores for a job (inline text or base64 as bytes, an upload as the file received), to share with the fleet. */
export interface StoredInput {
  jobId: string;
  name: string;
  data: Uint8Array | Blob;
}

/** A range of a file as the instance holding it has it now: its size there, where the bytes start, the bytes. */
export interface FileRange {
  size: number;
  offset: number;
  bytes: Uint8Array;
}

/** The fleet as the rest of flue uses it: the members in memory, shared state, control, and leaving it. */
export interface Fleet {
  /** A definition id no instance of the fleet has given. */
  newDefinitionId(): Promise<number>;
  /** Shares a definition as it is now (a new one, or its new version). */
  shareDefinition(row: { id: number; version: number; definition: unknown; updatedAt: number }): Promise<void>;
  unshareDefinition(id: number): Promise<void>;
  /**
   * Puts jobs about to be queued on the work queue and waits until the
   * stream has them all; rejects when NATS is away or does not confirm,
   * and then the caller records nothing (no job is created or queued).
   */
  enqueue(items: { id: string; attempts: number; application: string | undefined }[]): Promise<void>;
  /**
   * Puts inputs flue stores into the object store, for whichever instance
   * runs their job; rejects when NATS is away or does not take them, and
   * then the caller makes no job.
   */
  shareInputs(inputs: StoredInput[]): Promise<void>;
  /** Asks `instance` to act on one of its jobs; rejects when it does not answer. */
  ask(instance: string, request: ControlRequest): Promise<ControlReply>;
  /** A job's file, named by its path under the data dir, from the object store; undefined when it is not there. */
  openResult(name: string): Promise<SharedFile | undefined>;
  /**
   * Up to `max` bytes (at most 64 KiB) of a file `instance` holds, from
   * `offset` (negative: that many from its end); undefined when it has no
   * such file; rejects when it does not answer.
   */
  readResult(instance: string, name: string, offset: number, max: number): Promise<FileRange | undefined>;
  /** Removes a deleted job's files (inputs, logs, outputs) from the object store; never rejects (what stays expires). */
  removeResults(job: { id: string; attempts: number; outputs: unknown; inputs: unknown }): Promise<void>;
  /** Where the fleet is, for the start-up line: the NATS servers and the protocol agreed. */
  readonly description: string;
  /** Every instance known, this one first; costs no request. */
  members(): InstanceRecord[];
  /** Marks this instance STOPPED for its peers and closes the connection. */
  leave(): Promise<void>;
}

/** Why flue could not join the fleet: said in one line, and flue exits 1. */
export class FleetJoinError extends Error {}

/** The most one request for a range of another instance's file returns: well under NATS's max_payload. */
export const RANGE_MAX = 64 * 1024;

/**
 * A log longer than this is also shared as its last TAIL_SHARED bytes, as
 * object `<name>.tail`: a page showing a job's tail from another instance
 * then reads that, not the whole log (an object is read from its start).
 */
export const TAIL_SHARED = 64 * 1024;
export const tailName = (name: string) => `${name}.tail`;
