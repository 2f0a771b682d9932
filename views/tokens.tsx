/**
 * API tokens: the signed-in user's (an admin may show everyone's), a form
 * to make one, whose secret is shown once, and revoke buttons.
 */
import type { PageContext } from "./layout.tsx";
import { page } from "./layout.tsx";
import { Empty, Field, When } from "./components.tsx";

export interface TokenItem {
  id: number;
  name: string;
  role: string | null;
  username?: string;
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
}

export const EXPIRIES = [
  { value: "", label: "Never" },
  { value: "1", label: "1 day" },
  { value: "30", label: "30 days" },
  { value: "365", label: "1 year" },
];

export interface TokensView {
  rows: TokenItem[];
  /** Everyone's tokens (admins only). */
  all: boolean;
  isAdmin: boolean;
  /** Roles a new token may have: at most the user's own. */
  roles: string[];
  form?: { values: { name?: string; role?: string; expires?: string }; errors: Record<string, string>; message?: string };
  created?: { name: string; secret: string };
  notice?: string;
  alert?: string;
}

const allQuery = (all: boolean) => (all ? "?all=1" : "");

function Secret({ created }: { created: { name: string; secret: string } }) {
  return (
    <div class="notice secret" role="status" aria-labelledby="secret-title">
      <p id="secret-title">
        <strong>Token {created.name} made. Copy it now: flue keeps only a hash and will not show it again.</strong>
      </p>
      <div class="row">
        <code id="token-secret" class="secret-value">
          {created.secret}
        </code>
        <button type="button" class="secondary" data-copy="#token-secret">
          Copy
        </button>
      </div>
      <p class="muted">Send it as <code>Authorization: Bearer …</code>.</p>
    </div>
  );
}

function NewToken({ view }: { view: TokensView }) {
  const v = view.form?.values ?? {};
  const err = view.form?.errors ?? {};
  return (
    <form class="stack panel new-token" hx-post={`/tokens${allQuery(view.all)}`} hx-target="#tokens" hx-swap="outerHTML">
      <h2>Make a token</h2>
      {view.form?.message && (
        <p class="alert" role="alert">
          {view.form.message}
        </p>
      )}
      <Field id="token-name" label="Name" required hint="What uses it, e.g. ci-runner: letters, digits, '_', '.', '-'." error={err.name}>
        <input
          id="token-name"
          name="name"
          type="text"
          required
          autocomplete="off"
          value={v.name ?? ""}
          aria-invalid={err.name ? "true" : undefined}
          aria-describedby={err.name ? "token-name-hint token-name-error" : "token-name-hint"}
        />
      </Field>
      <Field id="token-role" label="Role" hint="At most your own role." error={err.role}>
        <select id="token-role" name="role">
          {view.roles.map((r) => (
            <option value={r} selected={r === (v.role ?? view.roles[0])}>
              {r}
            </option>
          ))}
        </select>
      </Field>
      <Field id="token-expires" label="Expires" error={err.expires_in_days}>
        <select id="token-expires" name="expires">
          {EXPIRIES.map((e) => (
            <option value={e.value} selected={e.value === (v.expires ?? "30")}>
              {e.label}
            </option>
          ))}
        </select>
      </Field>
      <div>
        <button type="submit">Make token</button>
      </div>
    </form>
  );
}

export function TokensSection({ view }: { view: TokensView }) {
  return (
    <section id="tokens">
      {view.created && <Secret created={view.created} />}
      {view.notice && (
        <p class="notice" role="status">
          {view.notice}
        </p>
      )}
      {view.alert && (
        <p class="alert" role="alert">
          {view.alert}
        </p>
      )}
      {view.rows.length === 0 ? (
        <Empty>No tokens yet. Make one below to call flue's API from a script.</Empty>
      ) : (
        <table class="tokens">
          <thead>
            <tr>
              <th scope="col">Name</th>
              {view.all && <th scope="col">User</th>}
              <th scope="col">Role</th>
              <th scope="col">Created</th>
              <th scope="col">Expires</th>
              <th scope="col">Last used</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {view.rows.map((t) => (
              <tr id={`token-${t.id}`} data-name={t.name}>
                <td>
                  <strong>{t.name}</strong>
                </td>
                {view.all && <td>{t.username}</td>}
                <td>{t.role ?? <span class="muted">user's</span>}</td>
                <td>
                  <When at={t.createdAt} />
                </td>
                <td>{t.expiresAt === null ? <span class="muted">never</span> : <When at={t.expiresAt} />}</td>
                <td>{t.lastUsedAt === null ? <span class="muted">never</span> : <When at={t.lastUsedAt} />}</td>
                <td>
                  <button
                    type="button"
                    class="danger"
                    hx-delete={`/tokens/${t.id}${allQuery(view.all)}`}
                    hx-target="#tokens"
                    hx-swap="outerHTML"
                    hx-confirm={`Revoke the token ${t.name}? Whatever uses it stops working at once.`}
                    aria-label={`Revoke ${t.name}`}
                  >
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <NewToken view={view} />
    </section>
  );
}

export const tokensSection = (view: TokensView) => (<TokensSection view={view} />).toString();

export function tokensPage(ctx: PageContext, view: TokensView): string {
  return page(
    ctx,
    "Tokens",
    <>
      <div class="spread">
        <h1>{view.all ? "Everyone's tokens" : "Your tokens"}</h1>
        {view.isAdmin && (
          <a href={view.all ? "/tokens" : "/tokens?all=1"} class="button secondary">
            {view.all ? "Show only mine" : "Show every user's"}
          </a>
        )}
      </div>
      <TokensSection view={view} />
    </>,
  );
}
