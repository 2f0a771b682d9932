/**
 * The page frame of the admin UI: navigation, who is signed in, the flash
 * area where errors of htmx requests appear, htmx and flue's own script and
 * stylesheet (all embedded in the binary, served from /static/).
 */
import type { Child } from "hono/jsx";
import { raw } from "hono/html";
import type { Actor } from "../src/service/index.ts";
import { VERSION } from "../src/version.ts";
import { PAGE_ASSETS } from "../src/http/ui/static.ts";

/** What every signed-in page needs to draw its frame. */
export interface PageContext {
  actor: Actor;
  csrf: string;
  /** The request's path: marks the current section in the navigation. */
  path: string;
}

/** Static files are addressed with the version, so they can be cached for good. */
export const asset = (name: string) => `/static/${VERSION}/${name}`;

const SECTIONS: { href: string; label: string; admin?: boolean }[] = [
  { href: "/", label: "Dashboard" },
  { href: "/definitions", label: "Definitions" },
  { href: "/jobs", label: "Jobs" },
  { href: "/events", label: "Events" },
  { href: "/instances", label: "Instances" },
  { href: "/plugins", label: "Plugins" },
  { href: "/tokens", label: "Tokens" },
  { href: "/users", label: "Users", admin: true },
  { href: "/audit", label: "Audit", admin: true },
];

const current = (path: string, href: string) => (href === "/" ? path === "/" : path === href || path.startsWith(`${href}/`));

function head(title: string, extra?: Child) {
  return (
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="color-scheme" content="light dark" />
      {/* 4xx answers swap like any other (htmx 4's default): flue's error fragments say what went wrong. */}
      <meta name="htmx-config" content='{"defaultTimeout": 30000}' />
      <title>{title === "flue" ? "flue" : `${title} · flue`}</title>
      {PAGE_ASSETS.css.map((name) => (
        <link rel="stylesheet" href={asset(name)} />
      ))}
      <script src={asset("htmx.min.js")} defer></script>
      <script src={asset("hx-sse.min.js")} defer></script>
      {PAGE_ASSETS.js.map((name) => (
        <script src={asset(name)} defer></script>
      ))}
      {extra}
    </head>
  );
}

/** A full signed-in page. hono/jsx does not write the doctype, so it is added here. */
export function page(ctx: PageContext, title: string, body: Child): string {
  const isAdmin = ctx.actor.role === "admin";
  return (
    "<!DOCTYPE html>" +
    (
      <html lang="en">
        {head(title)}
        {/* Every htmx request carries the CSRF token; plain forms carry it as a hidden field. */}
        <body hx-headers:inherited={JSON.stringify({ "X-CSRF-Token": ctx.csrf })}>
          <header class="top">
            <a class="brand" href="/">flue</a>
            <nav aria-label="Sections">
              {SECTIONS.filter((s) => !s.admin || isAdmin).map((s) => (
                <a href={s.href} aria-current={current(ctx.path, s.href) ? "page" : undefined}>
                  {s.label}
                </a>
              ))}
            </nav>
            <div class="who">
              <span>
                {ctx.actor.username} <span class="muted">({ctx.actor.role})</span>
              </span>
              <form method="post" action="/logout">
                <CsrfField csrf={ctx.csrf} />
                <button class="link" type="submit">Sign out</button>
              </form>
            </div>
          </header>
          <main>
            <div id="flash" aria-live="polite"></div>
            {body}
          </main>
        </body>
      </html>
    ).toString()
  );
}

/** A page for whoever is not signed in (the sign-in form, errors before sign-in). */
export function barePage(title: string, body: Child): string {
  return (
    "<!DOCTYPE html>" +
    (
      <html lang="en">
        {head(title)}
        <body>
          <main class="narrow">{body}</main>
        </body>
      </html>
    ).toString()
  );
}

/** The hidden field that carries the CSRF token in a plain (non-htmx) form. */
export function CsrfField({ csrf }: { csrf: string }) {
  return <input type="hidden" name="_csrf" value={csrf} />;
}

/** An inline script or style that must not be escaped. */
export const unescaped = (text: string) => raw(text);
