/**
 * Users, for admins: the list, a form to add one, and per user a form to
 * change role, sight of all jobs or password, and a delete button. Every
 * change answers with the whole section, drawn by the same component.
 */
import type { PageContext } from "./layout.tsx";
import { page } from "./layout.tsx";
import { Field, When } from "./components.tsx";

export const ROLE_NAMES = ["admin", "submitter", "viewer"] as const;

export interface UserItem {
  id: number;
  username: string;
  role: string;
  seesAllJobs: boolean;
  createdAt: number;
}

export interface NewUserForm {
  values: { username?: string; role?: string; sees_all_jobs?: boolean };
  /** Errors by field path: username, password, role, sees_all_jobs. */
  errors: Record<string, string>;
  /** A problem that is no one field's. */
  message?: string;
}

export interface UsersView {
  rows: UserItem[];
  self: string;
  form?: NewUserForm;
  notice?: string;
  alert?: string;
}

function RoleSelect({ id, value }: { id: string; value?: string }) {
  return (
    <select id={id} name="role">
      {ROLE_NAMES.map((r) => (
        <option value={r} selected={r === (value ?? "viewer")}>
          {r}
        </option>
      ))}
    </select>
  );
}

function UserRow({ u, self }: { u: UserItem; self: boolean }) {
  const p = `user-${u.id}`;
  return (
    <tr id={p} data-username={u.username}>
      <td>
        <strong>{u.username}</strong> {self && <span class="muted">(you)</span>}
      </td>
      <td>
        <span class={`badge role-${u.role}`}>{u.role}</span>
      </td>
      <td>{u.role === "admin" || u.seesAllJobs ? "yes" : "no"}</td>
      <td>
        <When at={u.createdAt} />
      </td>
      <td>
        <div class="actions">
          <details>
            <summary>Change</summary>
            <form class="stack change" hx-patch={`/users/${u.id}`} hx-target="#users" hx-swap="outerHTML">
              <div class="field">
                <label for={`${p}-role`}>Role</label>
                <RoleSelect id={`${p}-role`} value={u.role} />
              </div>
              <div class="check">
                <input type="checkbox" id={`${p}-sees-all`} name="sees_all_jobs" value="on" checked={u.seesAllJobs} />
                <label for={`${p}-sees-all`}>Sees all jobs</label>
              </div>
              <div class="field">
                <label for={`${p}-password`}>New password</label>
                <input type="password" id={`${p}-password`} name="password" autocomplete="new-password" aria-describedby={`${p}-password-hint`} />
                <p class="hint" id={`${p}-password-hint`}>
                  Leave empty to keep the password. A new one signs {u.username} out everywhere.
                </p>
              </div>
              <button type="submit">Save {u.username}</button>
            </form>
          </details>
          {!self && (
            <button
              type="button"
              class="danger"
              hx-delete={`/users/${u.id}`}
              hx-target="#users"
              hx-swap="outerHTML"
              hx-confirm={`Delete the user ${u.username}? Their tokens stop working at once.`}
            >
              Delete
            </button>
          )}
        </div>
      </td>
    </tr>
  );
}

function NewUser({ form }: { form?: NewUserForm }) {
  const v = form?.values ?? {};
  const err = form?.errors ?? {};
  const invalid = (k: string) => (err[k] ? "true" : undefined);
  const described = (k: string, hint?: boolean) => [hint && `new-${k}-hint`, err[k] && `new-${k}-error`].filter(Boolean).join(" ") || undefined;
  return (
    <form class="stack panel new-user" aria-labelledby="new-user" hx-post="/users" hx-target="#users" hx-swap="outerHTML">
      <h2 id="new-user">Add a user</h2>
      {form?.message && (
        <p class="alert" role="alert">
          {form.message}
        </p>
      )}
      <Field id="new-username" label="Username" required hint="Letters, digits, '_', '.', '@', '-'." error={err.username}>
        <input id="new-username" name="username" type="text" autocomplete="off" required value={v.username ?? ""} aria-invalid={invalid("username")} aria-describedby={described("username", true)} />
      </Field>
      <Field id="new-password" label="Password" required hint="At least 8 characters." error={err.password}>
        <input id="new-password" name="password" type="password" autocomplete="new-password" required aria-invalid={invalid("password")} aria-describedby={described("password", true)} />
      </Field>
      <Field id="new-role" label="Role" hint="viewer reads; submitter also runs jobs; admin does everything." error={err.role}>
        <RoleSelect id="new-role" value={v.role} />
      </Field>
      <div class="check">
        <input type="checkbox" id="new-sees-all" name="sees_all_jobs" value="on" checked={v.sees_all_jobs === true} />
        <label for="new-sees-all">Sees all jobs, not only their own</label>
      </div>
      <div>
        <button type="submit">Add user</button>
      </div>
    </form>
  );
}

/** The list and the form: what every change swaps in. */
export function UsersSection({ view }: { view: UsersView }) {
  return (
    <section id="users">
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
      <table class="users">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Role</th>
            <th scope="col">Sees all jobs</th>
            <th scope="col">Created</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {view.rows.map((u) => (
            <UserRow u={u} self={u.username === view.self} />
          ))}
        </tbody>
      </table>
      <NewUser form={view.form} />
    </section>
  );
}

export const usersSection = (view: UsersView) => (<UsersSection view={view} />).toString();

export function usersPage(ctx: PageContext, view: UsersView): string {
  return page(
    ctx,
    "Users",
    <>
      <h1>Users</h1>
      <UsersSection view={view} />
    </>,
  );
}
