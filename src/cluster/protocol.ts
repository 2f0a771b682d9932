/**
 * The version rule. The fleet keeps one record, key `protocol` in bucket
 * `flue_fleet`: `{protocol, min_protocol, written_by}` — the newest
 * protocol any instance has brought, and the oldest one still allowed in.
 *
 * - The first instance writes its own protocol and the oldest it accepts.
 * - Same protocol: join.
 * - Older than the fleet but not below `min_protocol`: join; the newer
 *   instances write shared state only in forms this one reads.
 * - Below `min_protocol`: refuse to start, naming both, asking to upgrade.
 * - Newer than the fleet: raise `protocol` only if this build still accepts
 *   the fleet's (FLEET_PROTOCOL_ACCEPTS ≤ fleet protocol); `min_protocol`
 *   stays, so running older instances remain welcome. A build that no
 *   longer accepts the fleet's protocol refuses to join instead: such an
 *   upgrade means stopping the whole fleet and deleting the record.
 *
 * Every write is a compare-and-set on the record's revision, so two
 * instances starting at once cannot both decide on a stale record.
 */
import type { KV, Kvm } from "@nats-io/kv";
import { FLEET_PROTOCOL, FLEET_PROTOCOL_ACCEPTS, FleetJoinError } from "./record.ts";

export const FLEET_BUCKET = "flue_fleet";
export const PROTOCOL_KEY = "protocol";

/** The fleet's protocol record as stored. */
export interface FleetProtocol {
  protocol: number;
  min_protocol: number;
  written_by: string;
}

/** What a build brings: the protocol it speaks, the oldest it accepts, its flue version. */
export interface Speaker {
  protocol: number;
  accepts: number;
  version: string;
}

export type JoinDecision = { join: true; write?: FleetProtocol } | { join: false; reason: string };

/** The rule above as a pure function of the record (null: none yet) and this build; `where` names the fleet in messages. */
export function decideJoin(fleet: FleetProtocol | null, self: Speaker, where: string): JoinDecision {
  if (!fleet) return { join: true, write: { protocol: self.protocol, min_protocol: self.accepts, written_by: self.version } };
  if (self.protocol < fleet.min_protocol) {
    return {
      join: false,
      reason: `this flue ${self.version} speaks fleet protocol ${self.protocol}, but the fleet on ${where} requires protocol ${fleet.min_protocol} or newer (set by flue ${fleet.written_by}); upgrade this instance to join`,
    };
  }
  if (self.accepts > fleet.protocol) {
    return {
      join: false,
      reason: `this flue ${self.version} speaks fleet protocol ${self.protocol} and no longer works beside protocol ${fleet.protocol}, which the fleet on ${where} speaks (set by flue ${fleet.written_by}); upgrade the fleet's instances together: stop them all, delete key ${PROTOCOL_KEY} of bucket ${FLEET_BUCKET}, start the new version`,
    };
  }
  if (self.protocol > fleet.protocol) return { join: true, write: { ...fleet, protocol: self.protocol, written_by: self.version } };
  return { join: true };
}

const isProtocol = (v: unknown): v is FleetProtocol =>
  typeof v === "object" && v !== null && Number.isInteger((v as FleetProtocol).protocol) && Number.isInteger((v as FleetProtocol).min_protocol);

/** The record and its revision; null when there is none (or it was deleted). */
async function read(kv: KV, where: string): Promise<{ value: FleetProtocol; revision: number } | null> {
  const entry = await kv.get(PROTOCOL_KEY);
  if (!entry || entry.operation !== "PUT") return null;
  let value: unknown;
  try {
    value = entry.json();
  } catch {}
  if (!isProtocol(value)) throw new FleetJoinError(`the fleet on ${where} has a protocol record flue does not understand: ${entry.string()}`);
  return { value, revision: entry.revision };
}

/** Applies the version rule against the fleet's record; returns the protocol the fleet now speaks, or throws a FleetJoinError. */
export async function agreeProtocol(kvm: Kvm, version: string, where: string): Promise<FleetProtocol> {
  const kv = await kvm.create(FLEET_BUCKET, { history: 1 });
  const self = { protocol: FLEET_PROTOCOL, accepts: FLEET_PROTOCOL_ACCEPTS, version };
  for (let attempt = 1; ; attempt++) {
    const current = await read(kv, where);
    const decision = decideJoin(current?.value ?? null, self, where);
    if (!decision.join) throw new FleetJoinError(decision.reason);
    if (!decision.write) return current!.value;
    try {
      const text = JSON.stringify(decision.write);
      await (current ? kv.update(PROTOCOL_KEY, text, current.revision) : kv.create(PROTOCOL_KEY, text));
      return decision.write;
    } catch (e) {
      // Another instance wrote first: decide again on what it wrote.
      if (attempt >= 5) throw e;
    }
  }
}
