/** Small pieces every page uses, so times, states and long values look the same everywhere. */
import type { Child } from "hono/jsx";

/** A moment as relative text ("3 minutes ago", refreshed by flue.js), the absolute UTC time on hover. */
export function When({ at }: { at: number | null | undefined }) {
  if (at === null || at === undefined) return <span class="muted">—</span>;
  const iso = new Date(at * 1000).toISOString();
  return (
    <time datetime={iso} title={iso.replace("T", " ").replace(/\.\d+Z$/, " UTC")} data-relative>
      {iso.replace("T", " ").replace(/\.\d+Z$/, " UTC")}
    </time>
  );
}

/** A long value cut to fit, whole on hover. */
export function Trunc({ text, max = 60 }: { text: string; max?: number }) {
  if (text.length <= max) return <span>{text}</span>;
  return (
    <span class="trunc" title={text}>
      {text.slice(0, max - 1)}…
    </span>
  );
}

export function StateBadge({ state }: { state: string }) {
  return <span class={`badge state-${state}`}>{state}</span>;
}

/** "No definitions yet — create one": what an empty list says and what to do about it. */
export function Empty({ children }: { children: Child }) {
  return <div class="empty">{children}</div>;
}

/** A duration in seconds as "850 ms", "12.3 s", "4 min 5 s". */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds > 0 && seconds < 0.001) return "< 1 ms";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return Number.isInteger(seconds) ? `${seconds} s` : `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** Bytes as "512 B", "1.5 KiB", "3.2 MiB". */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** A labelled form field with its hint and its error beside it. */
export function Field(props: { id: string; label: string; required?: boolean; hint?: string; error?: string; children: Child }) {
  return (
    <div class="field">
      <label for={props.id} class={props.required ? "required" : undefined}>
        {props.label}
      </label>
      {props.children}
      {props.hint && (
        <p class="hint" id={`${props.id}-hint`}>
          {props.hint}
        </p>
      )}
      {props.error && (
        <p class="error" id={`${props.id}-error`} role="alert">
          {props.error}
        </p>
      )}
    </div>
  );
}

/** Previous / next links over a list; `href(offset)` makes each page's address. */
export function Pager(props: { id?: string; offset: number; limit: number; shown: number; total?: number; href: (offset: number) => string }) {
  const { offset, limit, shown, total } = props;
  const hasNext = total === undefined ? shown === limit : offset + shown < total;
  return (
    <nav class="pager" aria-label="Pages" id={props.id}>
      {offset > 0 ? <a href={props.href(Math.max(0, offset - limit))}>← Previous</a> : <span class="muted">← Previous</span>}
      <span class="muted">
        {shown === 0 ? "none" : `${offset + 1}–${offset + shown}`}
        {total !== undefined ? ` of ${total}` : ""}
      </span>
      {hasNext ? <a href={props.href(offset + limit)}>Next →</a> : <span class="muted">Next →</span>}
    </nav>
  );
}
