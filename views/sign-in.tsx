/** The sign-in page, and errors shown before or outside a page's frame. */
import { barePage } from "./layout.tsx";

export function signInPage(props: { next: string; username?: string; error?: string }): string {
  return barePage(
    "Sign in",
    <>
      <h1>Sign in to flue</h1>
      {props.error && (
        <p class="alert" role="alert" id="sign-in-error">
          {props.error}
        </p>
      )}
      <form method="post" action="/login" class="stack panel">
        <input type="hidden" name="next" value={props.next} />
        <div class="field">
          <label for="username">Username</label>
          <input id="username" name="username" type="text" autocomplete="username" required autofocus value={props.username ?? ""} />
        </div>
        <div class="field">
          <label for="password">Password</label>
          <input id="password" name="password" type="password" autocomplete="current-password" required />
        </div>
        <button type="submit">Sign in</button>
      </form>
      <p class="muted">The first admin's password was printed when flue first started, or set with FLUE_ADMIN_PASSWORD.</p>
    </>,
  );
}

const TITLES: Record<number, string> = { 400: "Bad request", 401: "Signed out", 403: "Not allowed", 404: "Not found", 409: "Conflict", 413: "Too large", 429: "Too many attempts" };

export function errorPage(status: number, message: string): string {
  return barePage(
    TITLES[status] ?? "Error",
    <>
      <h1>{TITLES[status] ?? "Something went wrong"}</h1>
      <p class="alert" role="alert">
        {message}
      </p>
      <p>
        <a href="/">Back to flue</a>
      </p>
    </>,
  );
}

/** What an htmx request that failed puts into the flash area. */
export function errorFragment(message: string): string {
  return (
    <p class="alert" role="alert">
      {message}
    </p>
  ).toString();
}
