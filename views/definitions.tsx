/** The definitions list and one definition's page: every version, a readable view, the raw JSON. */
import { parseTemplate, type Definition, type ParameterSpec } from "../src/domain/index.ts";
import { Empty, Pager, When } from "./components.tsx";

/** A definition row as the pages need it. */
export interface DefinitionItem {
  id: number;
  name: string | null;
  version: number;
  definition: Definition;
  owner: string | null;
  createdAt: number;
  updatedAt: number;
}

export const definitionLabel = (row: { id: number; name: string | null }) => row.name ?? `#${row.id}`;
/** Where the jobs page lists one definition's jobs. */
export const jobsHref = (id: number) => `/jobs?definition=${id}`;

export function DefinitionList(props: {
  rows: DefinitionItem[];
  total: number;
  offset: number;
  limit: number;
  search: string;
  isAdmin: boolean;
  notice?: string;
}) {
  const { rows, search } = props;
  const href = (offset: number) => `/definitions?${new URLSearchParams({ ...(search ? { q: search } : {}), offset: String(offset) })}`;
  return (
    <>
      <div class="spread">
        <h1>Definitions</h1>
        {props.isAdmin && (
          <a class="button" href="/definitions/new">
            New definition
          </a>
        )}
      </div>
      {props.notice && (
        <p class="notice" role="status">
          {props.notice}
        </p>
      )}
      <form class="row def-search" method="get" action="/definitions" role="search">
        <label for="q" class="visually-hidden">
          Search definitions
        </label>
        <input id="q" name="q" type="search" value={search} placeholder="Search by name or description" />
        <button type="submit" class="secondary">
          Search
        </button>
        {search && <a href="/definitions">Clear</a>}
      </form>
      {rows.length === 0 ? (
        search ? (
          <Empty>No definition matches “{search}”.</Empty>
        ) : (
          <Empty>{props.isAdmin ? <>No definitions yet — <a href="/definitions/new">create one</a></> : "No definitions yet — an admin can create one."}</Empty>
        )
      ) : (
        <>
          <table class="def-list">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Description</th>
                <th scope="col">Version</th>
                <th scope="col">Executable</th>
                <th scope="col">Application</th>
                <th scope="col">Updated</th>
                <th scope="col">Jobs</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr>
                  <td>
                    <a href={`/definitions/${r.id}`}>{definitionLabel(r)}</a>
                  </td>
                  <td class="def-desc">{r.definition.description ?? <span class="muted">—</span>}</td>
                  <td>v{r.version}</td>
                  <td>
                    <code>{r.definition.exec}</code>
                  </td>
                  <td>{r.definition.application ?? <span class="muted">any</span>}</td>
                  <td>
                    <When at={r.updatedAt} />
                  </td>
                  <td>
                    <a href={jobsHref(r.id)} aria-label={`Jobs of ${definitionLabel(r)}`}>
                      Jobs
                    </a>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager offset={props.offset} limit={props.limit} shown={rows.length} total={props.total} href={href} />
        </>
      )}
    </>
  );
}

/** An argument with its ${name} references drawn as placeholders. */
function Template({ source }: { source: string }) {
  let parts;
  try {
    parts = parseTemplate(source);
  } catch {
    return <span>{source}</span>;
  }
  const quote = /[\s'"\\]/.test(source) || source === "";
  return (
    <span class="arg">
      {quote && "'"}
      {parts.map((p) => ("name" in p ? <var class="placeholder">{`\${${p.name}}`}</var> : <span>{p.text}</span>))}
      {quote && "'"}
    </span>
  );
}

export function CommandLine({ d }: { d: Definition }) {
  return (
    <pre class="cmdline" aria-label="Command line">
      <code>
        <span class="exec">{d.exec}</span>
        {(d.argv ?? []).map((a) => (
          <>
            {" "}
            <Template source={a} />
          </>
        ))}
      </code>
    </pre>
  );
}

const show = (x: unknown) => (x === undefined ? <span class="muted">—</span> : <code>{typeof x === "string" ? x : JSON.stringify(x)}</code>);

function ParametersTable({ parameters }: { parameters: Record<string, ParameterSpec> }) {
  const names = Object.keys(parameters);
  if (!names.length) return <p class="muted">No parameters.</p>;
  return (
    <table class="params">
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Type</th>
          <th scope="col">Default</th>
          <th scope="col">Required</th>
          <th scope="col">Allowed values</th>
          <th scope="col">Pattern</th>
          <th scope="col">Secret</th>
          <th scope="col">Description</th>
        </tr>
      </thead>
      <tbody>
        {names.map((n) => {
          const p = parameters[n];
          return (
            <tr>
              <td>
                <code>{n}</code>
              </td>
              <td>{p.type ?? "string"}</td>
              <td>{p.secret && p.default !== undefined ? "********" : show(p.default)}</td>
              <td>{p.required ? "yes" : "no"}</td>
              <td>{p.enum ? p.enum.map((e) => <code class="enum">{String(e)}</code>) : <span class="muted">any</span>}</td>
              <td>{show(p.pattern)}</td>
              <td>{p.secret ? "yes" : "no"}</td>
              <td>{p.description ?? ""}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function Adapter({ type, params }: { type?: string; params?: Record<string, unknown> }) {
  if (!type) return <span class="muted">none</span>;
  return (
    <>
      <code>{type}</code>{" "}
      {params &&
        Object.entries(params).map(([k, v]) => (
          <span class="kv">
            {k}=<code>{typeof v === "string" ? v : JSON.stringify(v)}</code>
          </span>
        ))}
    </>
  );
}

/** Any object's keys and values, for parts whose keys may grow (limits). */
function Generic({ value }: { value: Record<string, unknown> }) {
  return (
    <dl class="facts">
      {Object.entries(value).map(([k, v]) => (
        <>
          <dt>{k.replace(/_/g, " ")}</dt>
          <dd>{show(v)}</dd>
        </>
      ))}
    </dl>
  );
}

/** The definition with every secret parameter's default masked, as the page shows it to anyone who may read it. */
function maskSecretDefaults(d: Definition): Definition {
  if (!Object.values(d.parameters ?? {}).some((p) => p.secret && p.default !== undefined)) return d;
  const parameters = Object.fromEntries(
    Object.entries(d.parameters ?? {}).map(([n, p]) => [n, p.secret && p.default !== undefined ? { ...p, default: "********" } : p]),
  );
  return { ...d, parameters };
}

export function DefinitionView(props: {
  row: DefinitionItem;
  shown: { version: number; definition: Definition; createdAt: number };
  versions: { version: number; createdAt: number }[];
  canRun: boolean;
  isAdmin: boolean;
  notice?: string;
}) {
  const { row, shown, versions } = props;
  const d = shown.definition;
  const latest = shown.version === row.version;
  const env = Object.entries(d.environment ?? {});
  return (
    <>
      <div class="spread">
        <h1>
          {definitionLabel(row)} <span class="muted">v{shown.version}</span>
        </h1>
        <div class="row def-actions">
          {props.canRun && (
            <a class="button" href={`/definitions/${row.id}/run`}>
              Run
            </a>
          )}
          {props.isAdmin && (
            <a class="button secondary" href={`/definitions/${row.id}/edit`}>
              Edit
            </a>
          )}
          {props.isAdmin && (
            <button
              type="button"
              class="danger"
              hx-delete={`/definitions/${row.id}`}
              hx-confirm={`Delete the definition ${definitionLabel(row)}? Its jobs keep the version they ran.`}
            >
              Delete
            </button>
          )}
          <a href={jobsHref(row.id)}>Jobs</a>
        </div>
      </div>
      {props.notice && (
        <p class="notice" role="status">
          {props.notice}
        </p>
      )}
      {!latest && (
        <p class="notice old-version" role="status">
          This is version {shown.version}; the newest is <a href={`/definitions/${row.id}`}>version {row.version}</a>. Run uses the newest.
        </p>
      )}
      {d.description && <p class="def-description">{d.description}</p>}
      <div class="def-layout">
        <div class="def-main">
          <h2>Command line</h2>
          <CommandLine d={d} />
          <section class="panel">
            <dl class="facts">
              <dt>Working directory</dt>
              <dd>{d.cwd ? <code>{d.cwd}</code> : <span class="muted">the job's work directory</span>}</dd>
              <dt>Environment</dt>
              <dd>
                {env.length ? (
                  <ul class="plain">
                    {env.map(([k, v]) => (
                      <li>
                        <code>
                          {k}={v}
                        </code>
                      </li>
                    ))}
                  </ul>
                ) : (
                  <span class="muted">none besides flue's</span>
                )}
              </dd>
              <dt>Timeout</dt>
              <dd>{d.timeout ? `${d.timeout} s` : <span class="muted">none</span>}</dd>
              <dt>Process type</dt>
              <dd>{d.process_type ?? "single"}</dd>
              <dt>Application</dt>
              <dd>{d.application ?? <span class="muted">any instance</span>}</dd>
              <dt>Input</dt>
              <dd>
                <Adapter type={d.input_adapter?.input_type} params={d.input_adapter?.input_parameters} />
              </dd>
              <dt>Output</dt>
              <dd>
                <Adapter type={d.output_adapter?.output_type} params={d.output_adapter?.output_parameters} />
              </dd>
              <dt>Retries</dt>
              <dd>
                {d.retries ? (
                  `${d.retries.count} (backoff ${d.retries.backoff ?? 1} s × ${d.retries.factor ?? 2})`
                ) : (
                  <span class="muted">none</span>
                )}
              </dd>
              <dt>Owner</dt>
              <dd>{row.owner ?? <span class="muted">—</span>}</dd>
            </dl>
          </section>
          <h2>Parameters</h2>
          <ParametersTable parameters={d.parameters ?? {}} />
          {d.limits && Object.keys(d.limits).length > 0 && (
            <>
              <h2>Limits</h2>
              <section class="panel">
                <Generic value={d.limits as Record<string, unknown>} />
              </section>
            </>
          )}
          <details class="raw">
            <summary>Raw JSON</summary>
            <pre>
              <code>{JSON.stringify(maskSecretDefaults(d), null, 2)}</code>
            </pre>
          </details>
        </div>
        <aside class="def-versions" aria-label="Versions">
          <h2>Versions</h2>
          <ol class="versions" reversed>
            {versions.map((v) => (
              <li>
                <a href={`/definitions/${row.id}?version=${v.version}`} aria-current={v.version === shown.version ? "page" : undefined}>
                  v{v.version}
                </a>{" "}
                {v.version === row.version && <span class="badge">newest</span>} <When at={v.createdAt} />
              </li>
            ))}
          </ol>
        </aside>
      </div>
    </>
  );
}
