/** The dashboard: jobs per state, throughput over the last hour, slots in use, the latest failures. */
import { JOB_STATES } from "../src/domain/index.ts";
import type { FailureRow, MinuteCount } from "../src/store/jobs-repo.ts";
import { Empty, Trunc, When } from "./components.tsx";

export interface DashboardProps {
  counts: Record<string, number>;
  /** Finished jobs per minute over the last hour. */
  perMinute: MinuteCount[];
  /** The minute (UNIX seconds / 60) the chart ends with. */
  nowMinute: number;
  busy: number;
  slots: number;
  failures: FailureRow[];
  /** Whether the numbers are the actor's own jobs only. */
  ownOnly: boolean;
}

const W = 720;
const H = 160;
const PAD = { l: 32, r: 8, t: 10, b: 22 };

/** Per-minute bars, failures stacked on top in the danger colour. */
function Throughput({ perMinute, nowMinute }: { perMinute: MinuteCount[]; nowMinute: number }) {
  const ok = new Array<number>(60).fill(0);
  const bad = new Array<number>(60).fill(0);
  for (const r of perMinute) {
    const i = 59 - (nowMinute - r.minute);
    if (i < 0 || i > 59) continue;
    if (r.state === "FAILED") bad[i] += r.n;
    else ok[i] += r.n;
  }
  const totals = ok.map((n, i) => n + bad[i]);
  const sum = totals.reduce((a, b) => a + b, 0);
  const failed = bad.reduce((a, b) => a + b, 0);
  const peak = Math.max(...totals);
  const top = Math.max(peak, 1);
  const cw = (W - PAD.l - PAD.r) / 60;
  const ch = H - PAD.t - PAD.b;
  const y = (n: number) => (n / top) * ch;
  const summary =
    sum === 0
      ? "No jobs finished in the last hour."
      : `${sum} job${sum === 1 ? "" : "s"} finished in the last hour, ${failed} of them failed; at most ${peak} in one minute.`;
  return (
    <figure class="throughput">
      <svg class="chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby="tp-title tp-desc" preserveAspectRatio="none">
        <title id="tp-title">Jobs finished per minute, last hour</title>
        <desc id="tp-desc">{summary}</desc>
        <line class="axis" x1={PAD.l} y1={H - PAD.b} x2={W - PAD.r} y2={H - PAD.b} />
        <text x={PAD.l - 4} y={PAD.t + 8} text-anchor="end">
          {top}
        </text>
        <text x={PAD.l - 4} y={H - PAD.b} text-anchor="end">
          0
        </text>
        {[0, 15, 30, 45, 59].map((i) => (
          <text x={PAD.l + i * cw + cw / 2} y={H - 6} text-anchor="middle">
            {i === 59 ? "now" : `−${59 - i} min`}
          </text>
        ))}
        {totals.map((n, i) =>
          n === 0 ? null : (
            <g>
              <title>{`${59 - i === 0 ? "this minute" : `${59 - i} min ago`}: ${ok[i]} finished or cancelled, ${bad[i]} failed`}</title>
              {ok[i] > 0 && <rect class="ok" x={PAD.l + i * cw + 1} y={H - PAD.b - y(ok[i])} width={cw - 2} height={y(ok[i])} />}
              {bad[i] > 0 && <rect class="bad" x={PAD.l + i * cw + 1} y={H - PAD.b - y(n)} width={cw - 2} height={y(bad[i])} />}
            </g>
          ),
        )}
      </svg>
      <figcaption>
        {summary} <span class="legend ok">finished or cancelled</span> <span class="legend bad">failed</span>
      </figcaption>
    </figure>
  );
}

export function DashboardView(p: DashboardProps) {
  const total = JOB_STATES.reduce((a, s) => a + (p.counts[s] ?? 0), 0);
  const pct = p.slots ? Math.round((p.busy / p.slots) * 100) : 0;
  return (
    <>
      <div class="spread">
        <h1>Dashboard</h1>
        {p.ownOnly && <p class="muted">Your jobs only.</p>}
      </div>
      {total === 0 ? (
        <Empty>
          No jobs yet — <a href="/definitions">run a definition</a>.
        </Empty>
      ) : (
        <nav class="cards" aria-label="Jobs per state">
          {JOB_STATES.map((s) => (
            <a class={`card state-card card-${s}`} href={`/jobs?state=${s}`}>
              <div class="n">{(p.counts[s] ?? 0).toLocaleString("en")}</div>
              <div class={`state-${s}`}>{s}</div>
            </a>
          ))}
        </nav>
      )}
      <div class="dash-grid">
        <section class="panel" aria-labelledby="tp-h">
          <h2 id="tp-h">Throughput</h2>
          <Throughput perMinute={p.perMinute} nowMinute={p.nowMinute} />
        </section>
        <section class="panel" aria-labelledby="slots-h">
          <h2 id="slots-h">Slots</h2>
          <p class="slots-n">
            <strong>{p.busy}</strong> of {p.slots} in use
          </p>
          <div class="meter" role="meter" aria-valuemin={0} aria-valuemax={p.slots} aria-valuenow={p.busy} aria-label="Slots in use on this instance">
            <span style={`width:${pct}%`}></span>
          </div>
        </section>
      </div>
      <section aria-labelledby="fail-h">
        <h2 id="fail-h">Latest failures</h2>
        {p.failures.length === 0 ? (
          <p class="muted">No failed jobs.</p>
        ) : (
          <table class="failures">
            <thead>
              <tr>
                <th scope="col">Job</th>
                <th scope="col">Definition</th>
                <th scope="col">Failed</th>
                <th scope="col">Exit</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              {p.failures.map((f) => {
                const messages = JSON.parse(f.messages) as { text: string }[];
                return (
                  <tr>
                    <td>
                      <a class="mono" href={`/jobs/${f.id}`}>
                        {f.id}
                      </a>
                    </td>
                    <td>
                      <Trunc text={f.definition_name ?? `#${f.definition_id}`} max={30} />
                    </td>
                    <td>
                      <When at={f.finished_at} />
                    </td>
                    <td>{f.exit_status ?? "—"}</td>
                    <td class="reason">{messages.length ? <Trunc text={messages[messages.length - 1].text} max={90} /> : <span class="muted">no message</span>}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}
