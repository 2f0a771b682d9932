import { expect, test } from "bun:test";
import { decideJoin, type FleetProtocol } from "../../src/cluster/protocol.ts";

const fleet = (protocol: number, min_protocol: number): FleetProtocol => ({ protocol, min_protocol, written_by: "0.1.0" });
const build = (protocol: number, accepts: number) => ({ protocol, accepts, version: "x" });

test.each([
  ["the first instance writes its protocol and the oldest it accepts", null, build(2, 1), { join: true, write: { protocol: 2, min_protocol: 1, written_by: "x" } }],
  ["the same protocol joins", fleet(1, 1), build(1, 1), { join: true }],
  ["an older build still allowed joins; newer ones write what it reads", fleet(2, 1), build(1, 1), { join: true }],
  ["a newer build that accepts the fleet's raises protocol, keeping min_protocol", fleet(1, 1), build(2, 1), { join: true, write: { protocol: 2, min_protocol: 1, written_by: "x" } }],
] as const)("%s", (_, current, self, expected) => {
  expect(decideJoin(current, self, "nats://n")).toEqual(expected);
});

test("below min_protocol, or no longer accepting the fleet's protocol: refused with both versions", () => {
  const old = decideJoin(fleet(3, 2), build(1, 1), "nats://n");
  expect(old).toEqual({ join: false, reason: expect.stringContaining("speaks fleet protocol 1, but the fleet on nats://n requires protocol 2 or newer (set by flue 0.1.0); upgrade") });
  expect(decideJoin(fleet(1, 1), build(3, 2), "nats://n")).toEqual({ join: false, reason: expect.stringContaining("protocol 3 and no longer works beside protocol 1") });
});
