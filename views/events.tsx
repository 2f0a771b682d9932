/**
 * The live event stream: a pattern filter over a table the server pushes
 * rows into (newest at the top), each event's fields in short and whole.
 */
import type { PageContext } from "./layout.tsx";
import { page } from "./layout.tsx";
import { Field, When } from "./components.tsx";

/** Fields every event has; the rest are what this event says. */
const ENVELOPE = new Set(["type", "executor", "timestamp", "id", "routing_key", "seq"]);

/** Measurements to four significant digits: 0.000261999 reads as 0.000262. */
const round = (_k: string, v: unknown) => (typeof v === "number" && !Number.isInteger(v) ? Number(v.toPrecision(4)) : v);
const scalar = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v, round));

/** A routing key that may wrap at its dots, never inside a word. */
const breakable = (key: string) => key.split(".").flatMap((w, i) => (i === 0 ? [w] : [<wbr />, `.${w}`]));

/** `exit_status=0 bytes=120 metrics={"wall":0.01,…}`: an event's own fields on one line. */
export function compactFields(e: Record<string, unknown>, max = 48): string {
  return Object.entries(e)
    .filter(([k, v]) => !ENVELOPE.has(k) && v !== undefined)
    .map(([k, v]) => {
      const text = scalar(v);
      return `${k}=${text.length > max ? `${text.slice(0, max - 1)}…` : text}`;
    })
    .join("  ");
}

/** One event as a table row; the stream sends exactly this. */
export function EventRow({ e }: { e: Record<string, unknown> & { routing_key: string; timestamp: number; type: string; id?: string } }) {
  const compact = compactFields(e);
  return (
    <tr class="event" data-key={e.routing_key}>
      <td class="nowrap">
        <When at={e.timestamp} />
      </td>
      <td>
        <code class={`event-key ${/\.(failed|cancelled)$/.test(e.routing_key) ? "bad" : ""}`}>{breakable(e.routing_key)}</code>
      </td>
      <td>{e.id ? <a href={`/jobs/${e.id}`} class="mono">{e.id.slice(0, 12)}</a> : <span class="muted">—</span>}</td>
      <td class="fields">
        <details>
          <summary title={JSON.stringify(e)}>{compact || <span class="muted">no fields</span>}</summary>
          <pre>{JSON.stringify(e, null, 2)}</pre>
        </details>
      </td>
    </tr>
  );
}

export const eventRow = (e: Parameters<typeof EventRow>[0]["e"]) => (<EventRow e={e} />).toString();

export function eventsPage(ctx: PageContext, props: { pattern: string; error?: string }): string {
  const live = props.error ? undefined : `/events/live?pattern=${encodeURIComponent(props.pattern)}`;
  return page(
    ctx,
    "Events",
    <>
      <div class="spread">
        <h1>Events</h1>
        {live && (
          <div class="row">
            <span id="events-status" class="muted" aria-live="polite">
              Connecting…
            </span>
            <button type="button" class="secondary" id="events-pause" aria-pressed="false">
              Pause
            </button>
          </div>
        )}
      </div>
      <form method="get" action="/events" class="filter panel">
        <Field
          id="pattern"
          label="Pattern"
          hint="Routing keys are words separated by dots: * matches one word, # any number (job.*.failed, job.#, #)."
          error={props.error}
        >
          <input
            id="pattern"
            name="pattern"
            type="text"
            value={props.pattern}
            spellcheck={false}
            aria-invalid={props.error ? "true" : undefined}
            aria-describedby={props.error ? "pattern-hint pattern-error" : "pattern-hint"}
          />
        </Field>
        <button type="submit">Apply</button>
      </form>
      <p class="muted">
        Only events of jobs you may see, as they happen; the newest {200} stay on the page.
      </p>
      <table class="events">
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Routing key</th>
            <th scope="col">Job</th>
            <th scope="col">Fields</th>
          </tr>
        </thead>
        <tbody id="event-rows" hx-sse:connect={live} hx-swap="afterbegin" data-max-rows="200">
          <tr class="waiting">
            <td colspan={4} class="muted">
              {live ? "Waiting for events…" : "Fix the pattern to see events."}
            </td>
          </tr>
        </tbody>
      </table>
    </>,
  );
}
