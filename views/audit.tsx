/** The audit log, for admins: who changed what, newest first, filtered by action and actor. */
import type { PageContext } from "./layout.tsx";
import { page } from "./layout.tsx";
import { Empty, Pager, When } from "./components.tsx";

export interface AuditItem {
  seq: number;
  at: number;
  actor: string;
  action: string;
  target: string | null;
  remote: string | null;
  details: unknown;
}

/** Actions the services record, offered as suggestions in the filter. */
const ACTIONS = [
  "definition.create",
  "definition.update",
  "definition.delete",
  "job.submit",
  "job.update",
  "job.queue",
  "job.cancel",
  "job.delete",
  "token.create",
  "token.delete",
  "user.create",
  "user.update",
  "user.delete",
];

/** Where a target lives in the UI, when it is a job or a definition. */
function Target({ action, target }: { action: string; target: string | null }) {
  if (target === null) return <span class="muted">—</span>;
  const def = /^\/api\/process_definition\/(\d+)\/$/.exec(target);
  if (def) return <a href={`/definitions/${def[1]}`}>definition {def[1]}</a>;
  const job = /^\/api\/job\/([^/]+)\/$/.exec(target)?.[1] ?? (action.startsWith("job.") && /^[\w-]+$/.test(target) ? target : undefined);
  if (job) return <a href={`/jobs/${job}`} class="mono">job {job.slice(0, 12)}</a>;
  const token = /^\/api\/token\/(\d+)\/$/.exec(target);
  if (token) return <span>token {token[1]}</span>;
  if (action.startsWith("user.")) return <span>user {target}</span>;
  return <span>{target}</span>;
}

function Details({ details }: { details: unknown }) {
  if (details === null || details === undefined) return <span class="muted">—</span>;
  if (typeof details !== "object" || Array.isArray(details)) return <code>{JSON.stringify(details)}</code>;
  const parts = Object.entries(details as Record<string, unknown>)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`);
  const text = parts.join("  ");
  return (
    <span class="details mono" title={JSON.stringify(details)}>
      {text.length > 120 ? `${text.slice(0, 119)}…` : text || "—"}
    </span>
  );
}

export interface AuditView {
  rows: AuditItem[];
  total: number;
  offset: number;
  limit: number;
  action: string;
  actor: string;
}

export function auditPage(ctx: PageContext, view: AuditView): string {
  const href = (offset: number) => {
    const q = new URLSearchParams();
    if (view.action) q.set("action", view.action);
    if (view.actor) q.set("actor", view.actor);
    if (offset) q.set("offset", String(offset));
    const s = q.toString();
    return `/audit${s ? `?${s}` : ""}`;
  };
  const filtered = Boolean(view.action || view.actor);
  return page(
    ctx,
    "Audit",
    <>
      <h1>Audit log</h1>
      <form method="get" action="/audit" class="filter panel row" role="search">
        <div class="field">
          <label for="audit-action">Action</label>
          <input id="audit-action" name="action" type="text" list="audit-actions" value={view.action} placeholder="any" autocomplete="off" />
          <datalist id="audit-actions">
            {ACTIONS.map((a) => (
              <option value={a}></option>
            ))}
          </datalist>
        </div>
        <div class="field">
          <label for="audit-actor">Actor</label>
          <input id="audit-actor" name="actor" type="text" value={view.actor} placeholder="anyone" autocomplete="off" />
        </div>
        <div class="row">
          <button type="submit">Filter</button>
          {filtered && <a href="/audit">Clear</a>}
        </div>
      </form>
      {view.rows.length === 0 ? (
        <Empty>{filtered ? "No changes match this filter." : "No changes recorded yet."}</Empty>
      ) : (
        <table class="audit">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Actor</th>
              <th scope="col">Action</th>
              <th scope="col">Target</th>
              <th scope="col">Remote address</th>
              <th scope="col">Details</th>
            </tr>
          </thead>
          <tbody>
            {view.rows.map((a) => (
              <tr data-action={a.action}>
                <td class="nowrap">
                  <When at={a.at} />
                </td>
                <td>{a.actor}</td>
                <td>
                  <code>{a.action}</code>
                </td>
                <td>
                  <Target action={a.action} target={a.target} />
                </td>
                <td>{a.remote ?? <span class="muted">—</span>}</td>
                <td>
                  <Details details={a.details} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager offset={view.offset} limit={view.limit} shown={view.rows.length} total={view.total} href={href} />
    </>,
  );
}
