/**
 * One job: state, timeline, parameters, inputs, messages, metrics, logs,
 * outputs and events. The parts that change carry ids; the live stream sends
 * them again, built by the same components, as partials.
 */
import type { Child } from "hono/jsx";
import { isFinal, withoutCredentials, type FlueEvent, type JobState, type ParameterSpec } from "../src/domain/index.ts";
import type { InputMeta, OutputMeta } from "../src/executor/index.ts";
import type { JobMessage, JobRow } from "../src/store/index.ts";
import { Empty, StateBadge, Trunc, When, bytes, duration } from "./components.tsx";
import { jobDuration } from "./jobs.tsx";

export type StoredEvent = FlueEvent & { seq: number };

export interface JobPageProps {
  job: JobRow;
  events: StoredEvent[];
  declared: Record<string, ParameterSpec>;
  /** Whether the actor may cancel, delete and re-queue it. */
  control: boolean;
  logs: { stdout: string; stderr: string };
}

const final = (job: JobRow) => isFinal(job.state as JobState);

export function JobHead({ job }: { job: JobRow }) {
  return (
    <section id="job-head" aria-label="State">
      <h1>
        Job <span class="mono">{job.id}</span> <StateBadge state={job.state} />
      </h1>
      <dl class="facts">
        <dt>Definition</dt>
        <dd>
          <a href={`/definitions/${job.definitionId}`}>{job.definitionName ?? `#${job.definitionId}`}</a> <span class="muted">version {job.definitionVersion}</span>
        </dd>
        <dt>Owner</dt>
        <dd>{job.owner ?? "—"}</dd>
        <dt>Created</dt>
        <dd>
          <When at={job.createdAt} />
        </dd>
        <dt>Started</dt>
        <dd>
          <When at={job.startedAt} />
        </dd>
        <dt>Finished</dt>
        <dd>
          <When at={job.finishedAt} />
        </dd>
        <dt>Duration</dt>
        <dd>{job.state === "RUNNING" ? "running…" : jobDuration(job)}</dd>
        <dt>Attempts</dt>
        <dd>
          {job.attempts} of {job.maxAttempts}
          {job.instance && <span class="muted"> · on {job.instance}</span>}
        </dd>
        <dt>Exit status</dt>
        <dd>{job.exitStatus ?? "—"}</dd>
      </dl>
    </section>
  );
}

export function JobActions({ job, control }: { job: JobRow; control: boolean }) {
  if (!control) return <div id="job-actions"></div>;
  return (
    <div id="job-actions" class="row job-actions" hx-swap="none">
      {!final(job) && (
        <button type="button" class="secondary" hx-post={`/jobs/${job.id}/cancel`} hx-confirm={`Cancel job ${job.id}? Its process is killed.`}>
          Cancel
        </button>
      )}
      <button type="button" class="secondary" hx-post={`/jobs/${job.id}/requeue`} hx-confirm={`Submit a new job with the same definition version, parameters and inputs as ${job.id}?`}>
        Re-queue
      </button>
      <button type="button" class="danger" hx-post={`/jobs/${job.id}/delete`} hx-confirm={`Delete job ${job.id} with its logs and outputs? This cannot be undone.`}>
        Delete
      </button>
    </div>
  );
}

const STAGES = [
  ["stage-in", "Stage-in"],
  ["execution", "Execution"],
  ["stage-out", "Stage-out"],
] as const;

/** Stage spans of the latest attempt, from its events. */
export function stageSpans(events: StoredEvent[]): { key: string; label: string; start?: number; end?: number }[] {
  let from = 0;
  events.forEach((e, i) => {
    if (e.type === "started") from = i;
  });
  const recent = events.slice(from);
  return STAGES.map(([key, label]) => ({
    key,
    label,
    start: recent.find((e) => e.type === `${key}.started`)?.timestamp,
    end: recent.find((e) => e.type === `${key}.finished`)?.timestamp,
  }));
}

export function Timeline({ job, events }: { job: JobRow; events: StoredEvent[] }) {
  const spans = stageSpans(events);
  const starts = spans.flatMap((s) => (s.start === undefined ? [] : [s.start]));
  const now = Date.now() / 1000;
  const t0 = starts.length ? Math.min(...starts) : undefined;
  const ends = spans.map((s) => s.end ?? (s.start !== undefined ? (final(job) ? s.start : now) : undefined)).filter((x): x is number => x !== undefined);
  const t1 = ends.length ? Math.max(...ends) : undefined;
  const total = t0 !== undefined && t1 !== undefined ? Math.max(t1 - t0, 0.001) : 0;
  return (
    <section id="job-timeline" aria-labelledby="timeline-h">
      <h2 id="timeline-h">Timeline</h2>
      {t0 === undefined ? (
        <p class="muted">{final(job) ? "The job never ran." : "Not started yet."}</p>
      ) : (
        <ol class="timeline">
          {spans.map((s) => {
            const running = s.start !== undefined && s.end === undefined && !final(job);
            const end = s.end ?? (running ? now : s.start);
            const left = s.start === undefined ? 0 : ((s.start - t0) / total) * 100;
            const width = s.start === undefined || end === undefined ? 0 : Math.max(((end - s.start) / total) * 100, 0.5);
            const took = s.start !== undefined && end !== undefined ? duration(end - s.start) : "—";
            return (
              <li>
                <span class="tl-label">{s.label}</span>
                <span class="tl-track" role="img" aria-label={`${s.label}: ${s.start === undefined ? "did not run" : running ? `running for ${took}` : took}`}>
                  {s.start !== undefined && <span class={`tl-bar tl-${s.key}${running ? " tl-running" : ""}`} style={`left:${left.toFixed(2)}%;width:${width.toFixed(2)}%`}></span>}
                </span>
                <span class="tl-took">{s.start === undefined ? <span class="muted">—</span> : running ? "running…" : took}</span>
              </li>
            );
          })}
        </ol>
      )}
    </section>
  );
}

export function Messages({ job }: { job: JobRow }) {
  const messages = job.messages as JobMessage[];
  return (
    <section id="job-messages" aria-labelledby="messages-h">
      <h2 id="messages-h">Messages</h2>
      {messages.length === 0 ? (
        <p class="muted">None.</p>
      ) : (
        <ul class="messages">
          {messages.map((m) => (
            <li class={`msg-${m.level}`}>
              <When at={m.at} /> <span class={`level level-${m.level}`}>{m.level}</span> <Trunc text={m.text} max={300} />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

interface Metrics {
  wall?: number;
  user?: number;
  system?: number;
  max_rss?: number | null;
}

export function MetricsView({ job }: { job: JobRow }) {
  const m = job.metrics as Metrics | null;
  return (
    <section id="job-metrics" aria-labelledby="metrics-h">
      <h2 id="metrics-h">Metrics</h2>
      {!m ? (
        <p class="muted">{final(job) ? "None recorded." : "When the process ends."}</p>
      ) : (
        <dl class="facts">
          <dt>Wall time</dt>
          <dd>{duration(m.wall)}</dd>
          <dt>User CPU</dt>
          <dd>{duration(m.user)}</dd>
          <dt>System CPU</dt>
          <dd>{duration(m.system)}</dd>
          <dt>Max RSS</dt>
          <dd>{m.max_rss === null || m.max_rss === undefined ? "—" : bytes(m.max_rss)}</dd>
        </dl>
      )}
    </section>
  );
}

export function Outputs({ job }: { job: JobRow }) {
  const outputs = Object.entries(job.outputs as Record<string, OutputMeta>);
  return (
    <section id="job-outputs" aria-labelledby="outputs-h">
      <h2 id="outputs-h">Outputs</h2>
      {outputs.length === 0 ? (
        <p class="muted">{final(job) ? "None." : "After stage-out."}</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">File</th>
              <th scope="col">Size</th>
            </tr>
          </thead>
          <tbody>
            {outputs.map(([name, meta]) => (
              <tr>
                <td>{name}</td>
                <td>
                  <a href={`/jobs/${job.id}/outputs/${encodeURIComponent(name)}`} download={meta.file_name}>
                    <Trunc text={meta.file_name} max={50} />
                  </a>
                </td>
                <td>{bytes(meta.size)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

const SHOWN = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));

function Parameters({ job, declared }: { job: JobRow; declared: Record<string, ParameterSpec> }) {
  const values = Object.entries(job.parameters as Record<string, unknown>);
  return (
    <section aria-labelledby="params-h">
      <h2 id="params-h">Parameters</h2>
      {values.length === 0 ? (
        <p class="muted">None.</p>
      ) : (
        <dl class="facts">
          {values.map(([k, v]) => (
            <>
              <dt>{k}</dt>
              <dd class="mono">{declared[k]?.secret ? <span aria-label="secret, hidden">••••</span> : <Trunc text={SHOWN(v)} max={120} />}</dd>
            </>
          ))}
        </dl>
      )}
    </section>
  );
}

function Inputs({ job }: { job: JobRow }) {
  const inputs = Object.entries(job.inputs as Record<string, InputMeta>);
  return (
    <section aria-labelledby="inputs-h">
      <h2 id="inputs-h">Inputs</h2>
      {inputs.length === 0 ? (
        <p class="muted">None.</p>
      ) : (
        <dl class="facts">
          {inputs.map(([k, m]) => (
            <>
              <dt>{k}</dt>
              <dd>
                {m.source === "uri" ? <Trunc text={withoutCredentials(m.uri ?? "")} max={120} /> : <span>{m.source}</span>}
                {m.file_name && <span class="muted"> · {m.file_name}</span>}
                {m.size !== undefined && <span class="muted"> · {bytes(m.size)}</span>}
              </dd>
            </>
          ))}
        </dl>
      )}
    </section>
  );
}

export function LogView({ job, which, text }: { job: JobRow; which: "stdout" | "stderr"; text: string }) {
  return (
    <section class="log" aria-labelledby={`${which}-h`}>
      <div class="spread">
        <h2 id={`${which}-h`}>{which}</h2>
        <a href={`/jobs/${job.id}/${which}`} download>
          Download {which}
        </a>
      </div>
      <pre id={`log-${which}`} class="log-tail" tabindex={0} aria-label={`${which}, the last 64 KiB`} aria-live="off">
        {text}
      </pre>
    </section>
  );
}

/** What an event says besides its type, in one line. */
function eventDetails(e: StoredEvent): string {
  const skip = new Set(["type", "id", "executor", "timestamp", "thread", "seq", "parameters", "inputs"]);
  const parts: string[] = [];
  for (const [k, v] of Object.entries(e)) {
    if (skip.has(k) || v === undefined || v === null) continue;
    const shown = typeof v === "number" && !Number.isInteger(v) ? String(Math.round(v * 1000) / 1000) : typeof v === "object" ? JSON.stringify(v) : String(v);
    parts.push(`${k}=${shown}`);
  }
  return parts.join(" ");
}

export function EventList({ events }: { events: StoredEvent[] }) {
  return (
    <section id="job-events" aria-labelledby="events-h">
      <h2 id="events-h">Events</h2>
      {events.length === 0 ? (
        <Empty>No events.</Empty>
      ) : (
        <table class="events">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Event</th>
              <th scope="col">Details</th>
            </tr>
          </thead>
          <tbody>
            {events.map((e) => (
              <tr>
                <td>
                  <When at={e.timestamp} />
                </td>
                <td class="mono">{e.type}</td>
                <td>
                  <Trunc text={eventDetails(e)} max={100} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** The parts the live stream sends again when the job changes. */
export function liveParts(p: Omit<JobPageProps, "logs" | "declared">): Child[] {
  return [
    <JobHead job={p.job} />,
    <JobActions job={p.job} control={p.control} />,
    <Timeline job={p.job} events={p.events} />,
    <Messages job={p.job} />,
    <MetricsView job={p.job} />,
    <Outputs job={p.job} />,
    <EventList events={p.events} />,
  ];
}

export function JobView(p: JobPageProps) {
  return (
    <div class="job">
      <JobHead job={p.job} />
      <JobActions job={p.job} control={p.control} />
      <div class="job-grid">
        <div>
          <Timeline job={p.job} events={p.events} />
          <Messages job={p.job} />
          <MetricsView job={p.job} />
        </div>
        <div>
          <Parameters job={p.job} declared={p.declared} />
          <Inputs job={p.job} />
          <Outputs job={p.job} />
        </div>
      </div>
      <LogView job={p.job} which="stdout" text={p.logs.stdout} />
      <LogView job={p.job} which="stderr" text={p.logs.stderr} />
      <EventList events={p.events} />
      {!final(p.job) && (
        <div id="job-live" hidden hx-sse:connect={`/jobs/${p.job.id}/live`} hx-sse:close="done" hx-swap="none" hx-config='{"sse": {"connectTimeout": 0}}'></div>
      )}
    </div>
  );
}
