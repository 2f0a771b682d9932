/**
 * Control: cancel and delete whichever instance receives them. Each
 * instance serves core-NATS requests on `flue.control.<its id>` for the
 * jobs it runs; what it does (a cancelled or deleted event) reaches the
 * others by event replication.
 */
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { ControlReply, ControlRequest } from "./record.ts";

/** How long the asking instance waits for an answer. */
export const CONTROL_TIMEOUT_MS = 5000;

const subject = (instance: string) => `flue.control.${instance}`;

export type ControlHandler = (request: ControlRequest) => Promise<ControlReply>;

/** Serves this instance's requests with `handle` until the subscription is closed. */
export function serveControl(nc: NatsConnection, self: string, handle: ControlHandler): Subscription {
  const sub = nc.subscribe(subject(self));
  void (async () => {
    for await (const m of sub) {
      let reply: ControlReply;
      try {
        reply = await handle(m.json<ControlRequest>());
      } catch (e) {
        reply = { ok: false, status: 409, message: (e as Error).message };
      }
      m.respond(JSON.stringify(reply));
    }
  })();
  return sub;
}

export async function askControl(nc: NatsConnection, instance: string, request: ControlRequest): Promise<ControlReply> {
  const m = await nc.request(subject(instance), JSON.stringify(request), { timeout: CONTROL_TIMEOUT_MS });
  return m.json<ControlReply>();
}
