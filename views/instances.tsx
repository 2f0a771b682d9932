/**
 * The instances of flue: alone, this one; in a fleet, one row each with its
 * state (LOST in the failure colour) and last heartbeat. Refreshed every few seconds.
 */
import type { InstanceState } from "../src/cluster/record.ts";
import type { PageContext } from "./layout.tsx";
import { page } from "./layout.tsx";
import { duration, StateBadge, When } from "./components.tsx";

export interface InstanceView {
  id: string;
  host: string;
  version: string;
  labels: string[];
  slots: number;
  busy: number;
  containment: string;
  containmentReason?: string;
  runAs: string;
  startedAt: number;
  /** In a fleet: when it last said it is alive. */
  heartbeatAt?: number;
  state: InstanceState;
  /** Shown to admins only. */
  dataDir?: string;
  self: boolean;
}

function Slots({ busy, slots }: { busy: number; slots: number }) {
  return (
    <span class="slots" title={`${busy} of ${slots} slots running a job`}>
      <meter min={0} max={slots} value={busy} aria-label="slots in use"></meter> {busy} of {slots}
    </span>
  );
}

/** The refreshed part: the fleet table and this instance's facts. */
export function InstancesBody({ rows, now }: { rows: InstanceView[]; now: number }) {
  const self = rows.find((r) => r.self);
  const inFleet = rows.some((r) => r.heartbeatAt !== undefined);
  return (
    <>
      <table class="instances">
        <thead>
          <tr>
            <th scope="col">Instance</th>
            <th scope="col">Host</th>
            <th scope="col">Version</th>
            <th scope="col">Labels</th>
            <th scope="col">Slots in use</th>
            <th scope="col">Uptime</th>
            <th scope="col">Containment</th>
            {inFleet && <th scope="col">Last heartbeat</th>}
            <th scope="col">State</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr data-state={r.state}>
              <td>
                <code>{r.id}</code> {r.self && <span class="badge muted">this one</span>}
              </td>
              <td>{r.host}</td>
              <td class="version">{r.version}</td>
              <td>{r.labels.length ? r.labels.map((l) => <code class="label">{l}</code>) : <span class="muted">none</span>}</td>
              <td>
                <Slots busy={r.busy} slots={r.slots} />
              </td>
              <td>{duration(Math.max(0, Math.round(now - r.startedAt)))}</td>
              <td>
                {r.containment}
                {r.containmentReason && <div class="muted small">{r.containmentReason}</div>}
              </td>
              {inFleet && (
                <td>
                  <When at={r.heartbeatAt} />
                </td>
              )}
              <td>
                <StateBadge state={r.state} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {self && (
        <section class="panel this-instance" aria-labelledby="this-instance">
          <h2 id="this-instance">This instance</h2>
          <dl class="facts">
            <dt>Id</dt>
            <dd>
              <code>{self.id}</code>
            </dd>
            <dt>Host</dt>
            <dd>{self.host}</dd>
            <dt>Version</dt>
            <dd>{self.version}</dd>
            <dt>Slots</dt>
            <dd>
              <Slots busy={self.busy} slots={self.slots} />
            </dd>
            <dt>Started</dt>
            <dd>
              <When at={self.startedAt} /> ({duration(Math.max(0, Math.round(now - self.startedAt)))} up)
            </dd>
            <dt>Containment</dt>
            <dd>
              {self.containment === "cgroup" ? "cgroup: every job's processes are held and killed together" : "process group"}
              {self.containmentReason && <span class="muted"> — {self.containmentReason}</span>}
            </dd>
            <dt>Jobs run as</dt>
            <dd>{self.runAs}</dd>
            {self.dataDir !== undefined && (
              <>
                <dt>Data dir</dt>
                <dd>
                  <code>{self.dataDir}</code>
                </dd>
              </>
            )}
          </dl>
        </section>
      )}
    </>
  );
}

export const instancesBody = (rows: InstanceView[], now: number) => (<InstancesBody rows={rows} now={now} />).toString();

export function instancesPage(ctx: PageContext, rows: InstanceView[], now: number): string {
  return page(
    ctx,
    "Instances",
    <>
      <h1>Instances</h1>
      <p class="muted">Refreshed every 5 seconds.</p>
      <div id="instances" hx-get="/instances/live" hx-trigger="every 5s" hx-swap="innerHTML">
        <InstancesBody rows={rows} now={now} />
      </div>
    </>,
  );
}
