import type { Child } from "hono/jsx";

/** The page frame. hono/jsx does not write the doctype, so it is added here. */
export function page(title: string, body: Child): string {
  return "<!DOCTYPE html>" + (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light dark" />
        <title>{title}</title>
        <style>{"body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem}code{font-size:.9em}"}</style>
      </head>
      <body>{body}</body>
    </html>
  ).toString();
}
