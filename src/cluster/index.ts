/**
 * The fleet: several flue instances on one NATS. This slice joins it —
 * connection, the version rule, presence; jobs stay local to the instance
 * that took them. main.ts imports this module only when --nats is given,
 * so a single flue never loads the NATS client.
 */
import { Kvm } from "@nats-io/kv";
import type { Config } from "../config.ts";
import { connectNats } from "./connection.ts";
import { Presence, type SelfRecord } from "./presence.ts";
import { agreeProtocol } from "./protocol.ts";
import { FleetJoinError, type Fleet } from "./record.ts";

export { FleetJoinError, type Fleet } from "./record.ts";

/**
 * Connects, agrees on the fleet protocol and starts heartbeating; throws a
 * FleetJoinError (flue exits 1) when any of it fails, leaving no connection behind.
 */
export async function joinFleet(config: Config, self: () => SelfRecord): Promise<Fleet> {
  const where = config.nats.join(", ");
  const { id, version } = self();
  const nc = await connectNats(config, `flue ${id}`);
  try {
    const kvm = new Kvm(nc);
    const agreed = await agreeProtocol(kvm, version, where);
    const presence = await Presence.start(nc, kvm, self, { heartbeatMs: config.heartbeatMs, lostAfterMs: config.lostAfterMs });
    return {
      description: `${where}, fleet protocol ${agreed.protocol}`,
      members: () => presence.members(),
      leave: async () => {
        await presence.stop();
        await nc.close();
      },
    };
  } catch (e) {
    await nc.close();
    if (e instanceof FleetJoinError) throw e;
    throw new FleetJoinError(`cannot join the fleet on ${where}: ${(e as Error).message}`);
  }
}
