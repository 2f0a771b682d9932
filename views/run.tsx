/**
 * The run form: one field per declared parameter (its type decides the
 * control), one upload / text / URI choice per input, queue now or save as
 * NEW. Field names are prefixed ("p.count", "in.data.file") so a parameter
 * never collides with the form's own fields.
 */
import type { Binding, FieldError, ParameterSpec } from "../src/domain/index.ts";
import { Field } from "./components.tsx";

export type InputMode = "file" | "text" | "uri";

/** What the user typed, kept across a failed submission (files cannot be kept). */
export interface RunValues {
  params: Record<string, string | boolean>;
  modes: Record<string, InputMode>;
  texts: Record<string, string>;
  uris: Record<string, string>;
  state: "QUEUED" | "NEW";
}

/** Errors by field: "p.NAME", "in.NAME", "state", or "" for the form as a whole. */
export type RunErrors = Record<string, string[]>;

export function defaultValues(parameters: Record<string, ParameterSpec>): RunValues {
  const params: Record<string, string | boolean> = {};
  for (const [name, p] of Object.entries(parameters)) {
    if ((p.type ?? "string") === "boolean") params[name] = p.default === true;
    else params[name] = p.default === undefined || p.secret ? "" : String(p.default);
  }
  return { params, modes: {}, texts: {}, uris: {}, state: "QUEUED" };
}

/** Puts each error of the job service beside its field. */
export function runErrors(fields: FieldError[], message: string, inputs: string[]): RunErrors {
  const out: RunErrors = {};
  const add = (k: string, m: string) => (out[k] ??= []).push(m);
  for (const { path, message: m } of fields) {
    const [head, name, ...rest] = path.split(".");
    if (head === "parameters" && name) add(`p.${name}`, m);
    else if (head === "inputs" && name) add(`in.${name}`, rest.length ? `${rest.join(".")}: ${m}` : m);
    else if (inputs.includes(head)) add(`in.${head}`, m);
    else if (head === "state") add("state", m);
    else add("", path ? `${path}: ${m}` : m);
  }
  if (!fields.length) add("", message);
  return out;
}

const aria = (id: string, error: string | undefined, hint: boolean) => {
  const by = [hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ");
  return { "aria-invalid": error ? "true" : undefined, "aria-describedby": by || undefined };
};

function ParameterField({ name, spec, value, error }: { name: string; spec: ParameterSpec; value: string | boolean; error?: string }) {
  const id = `p-${name}`;
  const type = spec.type ?? "string";
  const hints = [spec.description, spec.secret && spec.default !== undefined ? "Leave empty to use the default." : undefined].filter(Boolean);
  const hint = hints.length ? hints.join(" ") : undefined;
  const common = { id, name: `p.${name}`, required: spec.required && spec.default === undefined, ...aria(id, error, Boolean(hint)) };
  let control;
  if (type === "boolean") {
    control = (
      <label class="check">
        <input type="checkbox" {...common} required={false} value="true" checked={value === true} /> {name}
      </label>
    );
    return (
      <div class="field">
        <span class="label">{name}</span>
        {control}
        {hint && (
          <p class="hint" id={`${id}-hint`}>
            {hint}
          </p>
        )}
        {error && (
          <p class="error" id={`${id}-error`} role="alert">
            {error}
          </p>
        )}
      </div>
    );
  }
  if (spec.enum) {
    control = (
      <select {...common}>
        {spec.default === undefined && <option value="">{common.required ? "— choose —" : "— none —"}</option>}
        {spec.enum.map((e) => (
          <option value={String(e)} selected={String(e) === value}>
            {String(e)}
          </option>
        ))}
      </select>
    );
  } else if (type === "integer" || type === "number") {
    control = <input type="number" step={type === "integer" ? "1" : "any"} value={String(value)} {...common} />;
  } else {
    control = (
      <input
        type={spec.secret ? "password" : "text"}
        value={spec.secret ? "" : String(value)}
        pattern={spec.pattern}
        autocomplete={spec.secret ? "new-password" : "off"}
        {...common}
      />
    );
  }
  return (
    <Field id={id} label={`${name}${type === "string" ? "" : ` (${type})`}`} required={common.required} hint={hint} error={error}>
      {control}
    </Field>
  );
}

/** How the process receives an input, in words: the file adapter's stream or path, else the adapter's type. */
function describeBinding(binding: Binding): string {
  const p = binding.params as { stream_name?: string; file_path?: string };
  if (binding.type !== "file") return `through the ${binding.type} adapter`;
  return p.file_path === undefined ? `read on ${(p.stream_name ?? "stdin").toLowerCase()}` : `a file whose path is in ${p.file_path}`;
}

function InputField({ binding, values, error }: { binding: Binding; values: RunValues; error?: string }) {
  const name = binding.name;
  const id = `in-${name}`;
  const mode = values.modes[name] ?? "file";
  const where = describeBinding(binding);
  const radio = (m: InputMode, label: string) => (
    <label class="choice">
      <input type="radio" name={`in.${name}.mode`} value={m} checked={mode === m} /> {label}
    </label>
  );
  return (
    <fieldset class="input-choice" id={id} aria-describedby={error ? `${id}-error` : undefined}>
      <legend class="required">
        Input <code>{name}</code> <span class="muted">({where})</span>
      </legend>
      <div class="row" role="radiogroup" aria-label={`Where ${name} comes from`}>
        {radio("file", "Upload a file")}
        {radio("text", "Type text")}
        {radio("uri", "From a URI")}
      </div>
      <div class="src src-file">
        <label for={`${id}-file`}>File for {name}</label>
        <input id={`${id}-file`} name={`in.${name}.file`} type="file" aria-invalid={error && mode === "file" ? "true" : undefined} />
      </div>
      <div class="src src-text">
        <label for={`${id}-text`}>Text for {name}</label>
        <textarea id={`${id}-text`} name={`in.${name}.text`} rows={4}>
          {values.texts[name] ?? ""}
        </textarea>
      </div>
      <div class="src src-uri">
        <label for={`${id}-uri`}>URI for {name}</label>
        <input id={`${id}-uri`} name={`in.${name}.uri`} type="url" placeholder="https://example.org/data.csv" value={values.uris[name] ?? ""} />
      </div>
      {error && (
        <p class="error" id={`${id}-error`} role="alert">
          {error}
        </p>
      )}
    </fieldset>
  );
}

export function RunForm(props: {
  id: number;
  parameters: Record<string, ParameterSpec>;
  inputs: Binding[];
  values: RunValues;
  errors: RunErrors;
}) {
  const { parameters, inputs, values, errors } = props;
  const err = (k: string) => errors[k]?.join("\n");
  const names = Object.keys(parameters);
  const action = `/definitions/${props.id}/run`;
  return (
    <form class="stack panel run-form" id="run-form" hx-post={action} hx-encoding="multipart/form-data" enctype="multipart/form-data" hx-swap="outerHTML" novalidate>
      {errors[""] && (
        <div class="alert" role="alert" id="run-error">
          {errors[""].join("\n")}
        </div>
      )}
      {names.length > 0 && (
        <fieldset>
          <legend>Parameters</legend>
          {names.map((n) => (
            <ParameterField name={n} spec={parameters[n]} value={values.params[n] ?? ""} error={err(`p.${n}`)} />
          ))}
        </fieldset>
      )}
      {inputs.map((b) => (
        <InputField binding={b} values={values} error={err(`in.${b.name}`)} />
      ))}
      {names.length === 0 && inputs.length === 0 && <p class="muted">This definition takes no parameters and no inputs.</p>}
      <fieldset>
        <legend>When</legend>
        <div class="row">
          <label class="choice">
            <input type="radio" name="state" value="QUEUED" checked={values.state !== "NEW"} /> Queue now
          </label>
          <label class="choice">
            <input type="radio" name="state" value="NEW" checked={values.state === "NEW"} /> Save as NEW (queue it later)
          </label>
        </div>
        {err("state") && <p class="error">{err("state")}</p>}
      </fieldset>
      <div class="row">
        <button type="submit">Submit job</button>
        <a class="button secondary" href={`/definitions/${props.id}`}>
          Cancel
        </a>
        <span class="spinner">Submitting…</span>
      </div>
    </form>
  );
}
