/** The jobs list: a filter form, the table, and the row the live stream replaces by id. */
import { JOB_STATES } from "../src/domain/index.ts";
import type { JobRow } from "../src/store/index.ts";
import { Empty, Pager, StateBadge, Trunc, When, duration } from "./components.tsx";

export interface JobsFilter {
  state?: string;
  definition?: number;
  offset: number;
  limit: number;
  /** The seq of the row before this page, when the page was reached by its next link. */
  beforeSeq?: number;
}

export const rowId = (id: string) => `job-${id}`;

/** How long a job ran, or has been running. */
export function jobDuration(job: Pick<JobRow, "startedAt" | "finishedAt" | "state">): string {
  if (job.startedAt === null) return "—";
  const end = job.finishedAt ?? (job.state === "RUNNING" ? Date.now() / 1000 : null);
  return end === null ? "—" : duration(end - job.startedAt);
}

export function JobRowView({ job }: { job: JobRow }) {
  return (
    <tr id={rowId(job.id)} data-state={job.state}>
      <td>
        <a class="mono" href={`/jobs/${job.id}`}>
          {job.id}
        </a>
      </td>
      <td>
        <Trunc text={job.definitionName ?? `#${job.definitionId}`} max={40} /> <span class="muted">v{job.definitionVersion}</span>
      </td>
      <td>
        <StateBadge state={job.state} />
      </td>
      <td>{job.owner ?? <span class="muted">—</span>}</td>
      <td>
        <When at={job.createdAt} />
      </td>
      <td>{jobDuration(job)}</td>
      <td>{job.exitStatus ?? <span class="muted">—</span>}</td>
    </tr>
  );
}

/**
 * A page's address. The next page names the last row shown (`before`), so
 * flue reads on from it by index however deep the list goes; `offset` then
 * only numbers the rows.
 */
function pageHref(filter: JobsFilter, offset: number, lastId: string | undefined): string {
  const q = filterQuery(filter, offset);
  return offset > filter.offset && lastId ? `/jobs${q}${q ? "&" : "?"}before=${lastId}` : `/jobs${q}`;
}

export const PAGER_ID = "jobs-pager";

/** The pager under the jobs table; the live stream redraws it when new rows join the page. */
export function JobsPager(props: { filter: JobsFilter; shown: number; total: number; lastId: string | undefined }) {
  const { filter } = props;
  return <Pager id={PAGER_ID} offset={filter.offset} limit={filter.limit} shown={props.shown} total={props.total} href={(o) => pageHref(filter, o, props.lastId)} />;
}

export function filterQuery(f: Partial<JobsFilter>, offset?: number): string {
  const q = new URLSearchParams();
  if (f.state) q.set("state", f.state);
  if (f.definition !== undefined) q.set("definition", String(f.definition));
  if (offset) q.set("offset", String(offset));
  const s = q.toString();
  return s ? `?${s}` : "";
}

export function JobsView(props: {
  rows: JobRow[];
  total: number;
  filter: JobsFilter;
  definitions: { id: number; name: string | null }[];
}) {
  const { rows, total, filter } = props;
  const live = new URLSearchParams(filterQuery(filter, filter.offset).slice(1));
  live.set("ids", rows.map((r) => r.id).join(","));
  const filtered = Boolean(filter.state || filter.definition !== undefined);
  return (
    <>
      <div class="spread">
        <h1>Jobs</h1>
        <form class="row jobs-filter" method="get" action="/jobs" role="search" aria-label="Filter jobs">
          <label for="f-state">
            State
            <select id="f-state" name="state">
              <option value="">all</option>
              {JOB_STATES.map((s) => (
                <option value={s} selected={filter.state === s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          <label for="f-definition">
            Definition
            <select id="f-definition" name="definition">
              <option value="">all</option>
              {props.definitions.map((d) => (
                <option value={String(d.id)} selected={filter.definition === d.id}>
                  {d.name ?? `#${d.id}`}
                </option>
              ))}
            </select>
          </label>
          <button type="submit">Filter</button>
          {filtered && (
            <a href="/jobs" class="button secondary">
              Clear
            </a>
          )}
        </form>
      </div>
      {rows.length === 0 ? (
        <Empty>
          {filtered ? (
            <>No jobs match this filter.</>
          ) : (
            <>
              No jobs yet — <a href="/definitions">run a definition</a>.
            </>
          )}
        </Empty>
      ) : (
        <table class="jobs">
          <caption class="visually-hidden">Jobs, newest first; states change as they happen</caption>
          <thead>
            <tr>
              <th scope="col">Job</th>
              <th scope="col">Definition</th>
              <th scope="col">State</th>
              <th scope="col">Owner</th>
              <th scope="col">Created</th>
              <th scope="col">Duration</th>
              <th scope="col">Exit</th>
            </tr>
          </thead>
          <tbody id="job-rows">
            {rows.map((job) => (
              <JobRowView job={job} />
            ))}
          </tbody>
        </table>
      )}
      <JobsPager filter={filter} shown={rows.length} total={total} lastId={rows.at(-1)?.id} />
      {/* The live stream: each message carries rows as partials that replace theirs by id. */}
      <div id="jobs-live" hidden hx-sse:connect={`/jobs/live?${live}`} hx-sse:close="done" hx-swap="none" hx-config='{"sse": {"connectTimeout": 0}}'></div>
    </>
  );
}
