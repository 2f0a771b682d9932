/**
 * The create / edit form of a definition. The form speaks text (one argument
 * per line, NAME=value lines, JSON for nested parts); `toDefinition` turns it
 * into the API's body and `errorsByField` puts each error the service reports
 * ("definition.argv.1") beside the field it concerns.
 */
import type { Definition, FieldError } from "../src/domain/index.ts";
import { CsrfField } from "./layout.tsx";
import { Field } from "./components.tsx";

/** What the form holds: every field as the user typed it. */
export interface DefinitionForm {
  name: string;
  description: string;
  exec: string;
  argv: string;
  cwd: string;
  environment: string;
  timeout: string;
  process_type: string;
  application: string;
  parameters: string;
  input_type: string;
  input_parameters: string;
  output_type: string;
  output_parameters: string;
  retries_count: string;
  retries_backoff: string;
  retries_factor: string;
  limits: string;
}

export const FORM_FIELDS: (keyof DefinitionForm)[] = [
  "name", "description", "exec", "argv", "cwd", "environment", "timeout", "process_type", "application", "parameters",
  "input_type", "input_parameters", "output_type", "output_parameters", "retries_count", "retries_backoff", "retries_factor", "limits",
];

/** Errors by form field; "" holds those that concern the definition as a whole. */
export type FormErrors = Partial<Record<keyof DefinitionForm | "", string[]>>;

const json = (x: unknown) => (x === undefined ? "" : JSON.stringify(x, null, 2));
const str = (x: unknown) => (x === undefined || x === null ? "" : String(x));

export function emptyForm(): DefinitionForm {
  return Object.fromEntries(FORM_FIELDS.map((k) => [k, ""])) as unknown as DefinitionForm;
}

/** The form filled from a stored definition (editing). */
export function formFromDefinition(d: Definition): DefinitionForm {
  return {
    name: str(d.name),
    description: str(d.description),
    exec: d.exec,
    argv: (d.argv ?? []).join("\n"),
    cwd: str(d.cwd),
    environment: Object.entries(d.environment ?? {}).map(([k, v]) => `${k}=${v}`).join("\n"),
    timeout: str(d.timeout),
    process_type: str(d.process_type),
    application: str(d.application),
    parameters: json(d.parameters),
    input_type: str(d.input_adapter?.input_type),
    input_parameters: json(d.input_adapter?.input_parameters),
    output_type: str(d.output_adapter?.output_type),
    output_parameters: json(d.output_adapter?.output_parameters),
    retries_count: str(d.retries?.count),
    retries_backoff: str(d.retries?.backoff),
    retries_factor: str(d.retries?.factor),
    limits: json(d.limits),
  };
}

/** The form as posted; fields it lacks are empty. */
export function formFromBody(body: Record<string, unknown>): DefinitionForm {
  const form = emptyForm();
  for (const k of FORM_FIELDS) form[k] = typeof body[k] === "string" ? (body[k] as string).replace(/\r\n/g, "\n") : "";
  return form;
}

const lines = (text: string) => text.split("\n").map((l) => l.replace(/\r$/, ""));

/** A number as typed, or the text itself, so the schema names what is wrong with it. */
const numberOr = (text: string): unknown => (text.trim() !== "" && Number.isFinite(Number(text)) ? Number(text) : text);

/**
 * The API's `{definition}` body from the form, or errors of the form's own
 * syntax (JSON that does not parse, an environment line without "=").
 * `argvLines` maps each argument back to the line it came from.
 */
export function toDefinition(f: DefinitionForm): { body?: { definition: Record<string, unknown> }; errors: FormErrors; argvLines: number[] } {
  const errors: FormErrors = {};
  const add = (field: keyof DefinitionForm, message: string) => (errors[field] ??= []).push(message);
  const d: Record<string, unknown> = {};
  const set = (key: string, text: string) => {
    if (text.trim() !== "") d[key] = text.trim();
  };
  set("name", f.name);
  if (f.description.trim()) d.description = f.description;
  d.exec = f.exec.trim();
  // Blank lines are skipped: an empty argument is rare, a stray newline common.
  const argvLines: number[] = [];
  const argv: string[] = [];
  lines(f.argv).forEach((l, i) => {
    if (l.trim() === "") return;
    argv.push(l);
    argvLines.push(i + 1);
  });
  if (argv.length) d.argv = argv;
  set("cwd", f.cwd);
  const env: Record<string, string> = {};
  lines(f.environment).forEach((l, i) => {
    if (l.trim() === "") return;
    const eq = l.indexOf("=");
    if (eq < 1) return add("environment", `line ${i + 1}: write NAME=value`);
    const name = l.slice(0, eq).trim();
    if (Object.hasOwn(env, name)) add("environment", `line ${i + 1}: ${name} is set twice`);
    env[name] = l.slice(eq + 1);
  });
  if (Object.keys(env).length) d.environment = env;
  if (f.timeout.trim()) d.timeout = numberOr(f.timeout.trim());
  set("process_type", f.process_type);
  set("application", f.application);
  const parseJson = (field: keyof DefinitionForm, what: string): unknown => {
    const text = f[field].trim();
    if (!text) return undefined;
    try {
      return JSON.parse(text);
    } catch (e) {
      add(field, `${what} is not valid JSON: ${(e as Error).message}`);
      return undefined;
    }
  };
  const params = parseJson("parameters", "parameters");
  if (params !== undefined) d.parameters = params;
  for (const dir of ["input", "output"] as const) {
    const type = f[`${dir}_type`].trim();
    const p = parseJson(`${dir}_parameters`, `${dir} parameters`);
    if (type) d[`${dir}_adapter`] = { [`${dir}_type`]: type, ...(p !== undefined ? { [`${dir}_parameters`]: p } : {}) };
    else if (p !== undefined) add(`${dir}_type`, `choose an ${dir} adapter for these parameters, or clear them`);
  }
  if (f.retries_count.trim() || f.retries_backoff.trim() || f.retries_factor.trim()) {
    const r: Record<string, unknown> = { count: f.retries_count.trim() ? numberOr(f.retries_count.trim()) : undefined };
    if (f.retries_backoff.trim()) r.backoff = numberOr(f.retries_backoff.trim());
    if (f.retries_factor.trim()) r.factor = numberOr(f.retries_factor.trim());
    if (r.count === undefined) add("retries_count", "give the number of retries");
    else d.retries = r;
  }
  const limits = parseJson("limits", "limits");
  if (limits !== undefined) d.limits = limits;
  if (Object.keys(errors).length) return { errors, argvLines };
  return { body: { definition: d }, errors, argvLines };
}

/** Which form field an error path of the service concerns, and the message to show there. */
export function errorsByField(fields: FieldError[], argvLines: number[], fallback: string): FormErrors {
  const out: FormErrors = {};
  const add = (field: keyof DefinitionForm | "", message: string) => (out[field] ??= []).push(message);
  for (const { path, message } of fields) {
    const rest = path.replace(/^definition\.?/, "");
    const [head, ...tail] = rest.split(".");
    const sub = tail.join(".");
    switch (head) {
      case "name":
      case "description":
      case "exec":
      case "cwd":
      case "application":
      case "process_type":
      case "timeout":
        add(head, sub ? `${sub}: ${message}` : message);
        break;
      case "argv": {
        const i = Number(tail[0]);
        add("argv", Number.isInteger(i) ? `argument ${i + 1} (line ${argvLines[i] ?? i + 1}): ${message}` : message);
        break;
      }
      case "environment":
        add("environment", sub ? `${sub}: ${message}` : message);
        break;
      case "parameters":
      case "limits":
        add(head, sub ? `${rest}: ${message}` : message);
        break;
      case "input_adapter":
      case "output_adapter": {
        const dir = head === "input_adapter" ? "input" : "output";
        if (tail[0] === `${dir}_type`) add(`${dir}_type`, message);
        else add(`${dir}_parameters`, sub ? `${rest}: ${message}` : message);
        break;
      }
      case "retries":
        if (tail[0] === "backoff") add("retries_backoff", message);
        else if (tail[0] === "factor") add("retries_factor", message);
        else add("retries_count", message);
        break;
      default:
        add("", rest ? `${rest}: ${message}` : message);
    }
  }
  if (!fields.length) add("", fallback);
  return out;
}

const PARAMETERS_EXAMPLE = `{
  "pattern": {"type": "string", "required": true, "description": "what to look for"},
  "count": {"type": "integer", "default": 10},
  "mode": {"enum": ["fast", "exact"], "default": "fast"}
}`;
const INPUT_EXAMPLE = `{"file_type": "stream", "stream_name": "STDIN"}
or {"file_path": "\${input_file}"}`;
const OUTPUT_EXAMPLE = `{"file_type": "stream", "stream_name": "STDOUT"}
or {"file_path": "\${output_file}"}`;

/** An input's accessibility attributes: invalid when it has an error, described by its hint and error. */
function described(id: string, error: string | undefined, hint: boolean) {
  const by = [hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ");
  return { "aria-invalid": error ? "true" : undefined, "aria-describedby": by || undefined };
}

export interface DefinitionFormProps {
  form: DefinitionForm;
  errors: FormErrors;
  /** Where it posts: /definitions (create) or /definitions/:id (edit). */
  action: string;
  csrf: string;
  submitLabel: string;
  cancelHref: string;
}

export function DefinitionFormView(props: DefinitionFormProps) {
  const { form: f, errors } = props;
  const err = (k: keyof DefinitionForm) => errors[k]?.join("\n");
  const text = (k: keyof DefinitionForm, label: string, o: { hint?: string; required?: boolean; placeholder?: string; type?: string; step?: string; mono?: boolean } = {}) => (
    <Field id={`f-${k}`} label={label} hint={o.hint} error={err(k)} required={o.required}>
      <input
        id={`f-${k}`}
        name={k}
        type={o.type ?? "text"}
        step={o.step}
        value={f[k]}
        placeholder={o.placeholder}
        required={o.required}
        class={o.mono ? "mono" : undefined}
        {...described(`f-${k}`, err(k), Boolean(o.hint))}
      />
    </Field>
  );
  const area = (k: keyof DefinitionForm, label: string, o: { hint?: string; placeholder?: string; rows?: number } = {}) => (
    <Field id={`f-${k}`} label={label} hint={o.hint} error={err(k)}>
      <textarea id={`f-${k}`} name={k} rows={o.rows ?? 4} placeholder={o.placeholder} spellcheck={false} {...described(`f-${k}`, err(k), Boolean(o.hint))}>
        {f[k]}
      </textarea>
    </Field>
  );
  const select = (k: keyof DefinitionForm, label: string, options: [string, string][], hint?: string) => (
    <Field id={`f-${k}`} label={label} hint={hint} error={err(k)}>
      <select id={`f-${k}`} name={k} {...described(`f-${k}`, err(k), Boolean(hint))}>
        {options.map(([value, text]) => (
          <option value={value} selected={f[k] === value}>
            {text}
          </option>
        ))}
      </select>
    </Field>
  );
  return (
    <form
      class="stack panel def-form"
      id="definition-form"
      method="post"
      action={props.action}
      hx-post={props.action}
      hx-target="this"
      hx-swap="outerHTML"
      novalidate
    >
      <CsrfField csrf={props.csrf} />
      {errors[""] && (
        <div class="alert" role="alert" id="form-error">
          {errors[""].join("\n")}
        </div>
      )}
      <fieldset>
        <legend>What it is</legend>
        <div class="grid2">
          {text("name", "Name", { hint: "Letters, digits, '_', '.', '-'. Jobs can name the definition by it." })}
          {text("application", "Application", { hint: "The label an instance must provide to run it; empty: any instance." })}
        </div>
        {area("description", "Description", { rows: 2 })}
      </fieldset>
      <fieldset>
        <legend>How it runs</legend>
        {text("exec", "Executable", { required: true, placeholder: "e.g. /usr/bin/tr", mono: true, hint: "An absolute path or a program on PATH; never a shell command line." })}
        {area("argv", "Arguments", { rows: 4, placeholder: "a-z\nA-Z\n${pattern}", hint: "One argument per line; ${name} puts a parameter's value in (the whole argument stays one argument)." })}
        <div class="grid2">
          {text("cwd", "Working directory", { mono: true, hint: "Empty: the job's own work directory." })}
          {text("timeout", "Timeout (seconds)", { type: "number", step: "any", hint: "Empty: no timeout." })}
        </div>
        {area("environment", "Environment", { rows: 3, placeholder: "LANG=C.UTF-8\nMODE=${mode}", hint: "One NAME=value per line." })}
        {select("process_type", "Process type", [["", "single (default)"], ["single", "single"], ["service", "service"]], "A service keeps running and serves many jobs from a shared queue.")}
      </fieldset>
      <fieldset>
        <legend>Parameters</legend>
        {area("parameters", "Parameters (JSON)", {
          rows: 6,
          placeholder: PARAMETERS_EXAMPLE,
          hint: "An object of name → {type: string|integer|number|boolean, default, required, enum, pattern, secret, description}.",
        })}
      </fieldset>
      <fieldset>
        <legend>Data in and out</legend>
        <div class="grid2">
          <div class="col">
            {select("input_type", "Input adapter", [["", "none"], ["file", "file"]])}
            {area("input_parameters", "Input parameters (JSON)", { rows: 3, placeholder: INPUT_EXAMPLE })}
          </div>
          <div class="col">
            {select("output_type", "Output adapter", [["", "none"], ["file", "file"]])}
            {area("output_parameters", "Output parameters (JSON)", { rows: 3, placeholder: OUTPUT_EXAMPLE })}
          </div>
        </div>
      </fieldset>
      <fieldset>
        <legend>Retries and limits</legend>
        <div class="grid3">
          {text("retries_count", "Retries", { type: "number", step: "1", hint: "Extra attempts after a failure (0–100)." })}
          {text("retries_backoff", "Backoff (seconds)", { type: "number", step: "any", hint: "Wait before the first retry (default 1)." })}
          {text("retries_factor", "Backoff factor", { type: "number", step: "any", hint: "Each wait grows by it (default 2)." })}
        </div>
        {area("limits", "Limits (JSON)", { rows: 3, placeholder: '{"memory": "512MiB", "cpu_time": 600, "open_files": 1024, "processes": 64, "output_bytes": "1GiB"}' })}
      </fieldset>
      <div class="row">
        <button type="submit">{props.submitLabel}</button>
        <a class="button secondary" href={props.cancelHref}>
          Cancel
        </a>
        <span class="spinner">Saving…</span>
      </div>
    </form>
  );
}
