/**
 * Reading a job submission: which definition, which parameters, which
 * inputs (inline text, base64, an upload, or a URI a storage fetches), and
 * which outputs go to a storage instead of staying with flue. Collects
 * every problem with its path; touches nothing on disk.
 */
import {
  AppError,
  checkJobParameters,
  invalid,
  type FieldError,
  type ParameterValue,
  type ResolvedDefinition,
} from "../domain/index.ts";
import type { Direction } from "../adapters/api.ts";
import type { PluginRegistry } from "../adapters/registry.ts";
import type { InputMeta, OutputTarget } from "../executor/index.ts";
import type { DefinitionRow } from "../store/index.ts";

/** What a submission needs of the plugins: the storage of a URI's scheme, and the schemes there are. */
export type Storages = Pick<PluginRegistry, "storage" | "schemes">;

export type InputData = { bytes: Uint8Array } | { file: Blob } | { uri: string };

export interface InputGiven {
  meta: InputMeta;
  data?: InputData;
}

export interface Submission {
  definition: DefinitionRow;
  resolved: ResolvedDefinition;
  parameters: Record<string, ParameterValue>;
  inputs: Record<string, InputGiven>;
  /** Outputs the job sends to a storage; the others flue keeps. */
  outputs: Record<string, OutputTarget>;
  state: "NEW" | "QUEUED";
}

const FILE_NAME = /^[^/\0]{1,255}$/;
const isObject = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);
const SUBMISSION_FIELDS = new Set(["process_definition", "parameters", "inputs", "outputs", "state"]);

function safeFileName(name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  const base = name.split(/[\\/]/).pop() ?? "";
  return FILE_NAME.test(base) && base !== "." && base !== ".." ? base : undefined;
}

/**
 * A URI a storage can fetch (an input) or put (an output): its scheme has a
 * storage that can, and that storage's check finds nothing wrong.
 */
export function checkUri(uri: unknown, at: string, direction: Direction, storages: Storages, errors: FieldError[]): string | undefined {
  let url: URL | undefined;
  try {
    url = typeof uri === "string" ? new URL(uri) : undefined;
  } catch {}
  if (!url) {
    errors.push({ path: at, message: "must be a URI, such as https://example.org/data.csv" });
    return undefined;
  }
  const scheme = url.protocol.slice(0, -1);
  const storage = storages.storage(scheme);
  if (!storage?.definition[direction === "input" ? "fetch" : "put"]) {
    const known = storages.schemes(direction);
    errors.push({ path: at, message: `no storage can ${direction === "input" ? "fetch from" : "put to"} ${scheme}: URIs; known schemes: ${known.join(", ") || "none"}` });
    return undefined;
  }
  let problem: string | undefined;
  try {
    problem = storage.definition.check?.(url, direction, storage.settings);
  } catch (e) {
    problem = `the ${scheme} storage could not check this URI: ${(e as Error).message}`;
  }
  if (problem) errors.push({ path: at, message: problem });
  return problem ? undefined : url.href;
}

/** The job's `outputs`: {name: {uri}} for each declared output that goes to a storage. */
function readOutputTargets(given: unknown, at: string, resolved: ResolvedDefinition, storages: Storages, errors: FieldError[]): Record<string, OutputTarget> {
  const targets: Record<string, OutputTarget> = {};
  if (given === undefined) return targets;
  if (!isObject(given)) {
    errors.push({ path: at, message: 'must be an object keyed by output name: {"output_file": {"uri": "s3://bucket/key"}}' });
    return targets;
  }
  const names = resolved.outputs.map((b) => b.name);
  for (const [name, value] of Object.entries(given)) {
    const p = `${at}.${name}`;
    if (!names.includes(name)) errors.push({ path: p, message: names.length ? `unknown output; this definition makes: ${names.join(", ")}` : "this definition makes no outputs" });
    else if (!isObject(value) || Object.keys(value).join() !== "uri") errors.push({ path: p, message: 'must be {"uri": "..."}' });
    else {
      const uri = checkUri(value.uri, `${p}.uri`, "output", storages, errors);
      if (uri) targets[name] = { uri };
    }
  }
  return targets;
}

/** One input as JSON gives it: {content} | {content_base64} | {uri}, with an optional file_name. */
export function readInputJson(value: unknown, at: string, storages: Storages, errors: FieldError[]): InputGiven | undefined {
  if (!isObject(value)) {
    errors.push({ path: at, message: 'must be an object: {"content": "..."}, {"content_base64": "..."} or {"uri": "https://..."}' });
    return undefined;
  }
  const keys = Object.keys(value).filter((k) => k !== "file_name");
  const unknown = keys.filter((k) => !["content", "content_base64", "uri"].includes(k));
  if (unknown.length) errors.push({ path: `${at}.${unknown[0]}`, message: "unknown field; use content, content_base64 or uri" });
  if (keys.length !== 1 || unknown.length) {
    if (!unknown.length) errors.push({ path: at, message: "give exactly one of content, content_base64 or uri" });
    return undefined;
  }
  const fileName = value.file_name;
  if (fileName !== undefined && (typeof fileName !== "string" || safeFileName(fileName) !== fileName)) {
    errors.push({ path: `${at}.file_name`, message: "must be a plain file name without '/'" });
    return undefined;
  }
  const meta = (source: InputMeta["source"], size?: number): InputMeta => ({
    source,
    ...(size !== undefined ? { size } : {}),
    ...(fileName !== undefined ? { file_name: fileName as string } : {}),
  });
  if ("content" in value) {
    if (typeof value.content !== "string") {
      errors.push({ path: `${at}.content`, message: "must be a string" });
      return undefined;
    }
    const bytes = new TextEncoder().encode(value.content);
    return { meta: meta("inline", bytes.length), data: { bytes } };
  }
  if ("content_base64" in value) {
    const text = value.content_base64;
    if (typeof text !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(text.replace(/\s+/g, "")) || text.replace(/\s+/g, "").length % 4 !== 0) {
      errors.push({ path: `${at}.content_base64`, message: "must be base64 text" });
      return undefined;
    }
    const bytes = Buffer.from(text, "base64");
    return { meta: meta("inline", bytes.length), data: { bytes } };
  }
  const uri = checkUri(value.uri, `${at}.uri`, "input", storages, errors);
  return uri ? { meta: { ...meta("uri"), uri }, data: { uri } } : undefined;
}

/** An uploaded file for an input. */
export function readInputUpload(file: File): InputGiven {
  const fileName = safeFileName(file.name);
  return { meta: { source: "upload", size: file.size, ...(fileName ? { file_name: fileName } : {}) }, data: { file } };
}

/**
 * Validates one submission. `lookup` finds a definition by reference.
 * Multipart submissions pass their text fields and files separately.
 */
export function readSubmission(
  body: unknown,
  at: string,
  lookup: (ref: string | number) => { definition: DefinitionRow; resolved: ResolvedDefinition } | undefined,
  storages: Storages,
  errors: FieldError[],
  form?: { files: Map<string, File>; texts: Map<string, string> },
): Submission | undefined {
  const p = (s: string) => (at ? `${at}.${s}` : s);
  if (!isObject(body)) {
    errors.push({ path: at, message: "a job must be a JSON object" });
    return undefined;
  }
  for (const k of Object.keys(body)) {
    if (!SUBMISSION_FIELDS.has(k) && !form) errors.push({ path: p(k), message: `unknown field; known: ${[...SUBMISSION_FIELDS].join(", ")}` });
  }
  const ref = body.process_definition;
  if (ref === undefined || ref === null || ref === "") {
    errors.push({ path: p("process_definition"), message: "is required: an id, a name or a resource_uri" });
    return undefined;
  }
  if (typeof ref !== "string" && typeof ref !== "number") {
    errors.push({ path: p("process_definition"), message: "must be an id, a name or a resource_uri" });
    return undefined;
  }
  const found = lookup(ref);
  if (!found) {
    const what = `process definition ${JSON.stringify(String(ref))}`;
    throw new AppError(404, "not_found", `${what} not found`, [{ path: p("process_definition"), message: "no such definition" }]);
  }
  const { definition, resolved } = found;

  const state = body.state ?? "QUEUED";
  if (state !== "QUEUED" && state !== "NEW") errors.push({ path: p("state"), message: 'must be "QUEUED" or "NEW"' });

  let givenParams = body.parameters;
  if (form) {
    // Form fields that are not inputs are parameters, given as text.
    const fromFields: Record<string, unknown> = {};
    for (const [name, text] of form.texts) if (!resolved.inputs.some((b) => b.name === name)) fromFields[name] = text;
    givenParams = { ...(isObject(givenParams) ? givenParams : {}), ...fromFields };
  }
  const params = checkJobParameters(resolved.parameters, givenParams, p("parameters"), form !== undefined);
  errors.push(...params.errors);

  const inputs: Record<string, InputGiven> = {};
  const names = resolved.inputs.map((b) => b.name);
  const given = body.inputs;
  if (given !== undefined && !isObject(given)) errors.push({ path: p("inputs"), message: "must be an object keyed by input name" });
  for (const [name, value] of Object.entries(isObject(given) ? given : {})) {
    if (!names.includes(name)) {
      errors.push({ path: p(`inputs.${name}`), message: names.length ? `unknown input; this definition takes: ${names.join(", ")}` : "this definition takes no inputs" });
      continue;
    }
    const input = readInputJson(value, p(`inputs.${name}`), storages, errors);
    if (input) inputs[name] = input;
  }
  if (form) {
    for (const [name, file] of form.files) {
      if (!names.includes(name)) errors.push({ path: name, message: names.length ? `unknown input; this definition takes: ${names.join(", ")}` : "this definition takes no inputs" });
      else inputs[name] = readInputUpload(file);
    }
    for (const [name, text] of form.texts) {
      if (names.includes(name) && !inputs[name]) {
        const bytes = new TextEncoder().encode(text);
        inputs[name] = { meta: { source: "inline", size: bytes.length }, data: { bytes } };
      }
    }
  }
  // An input given but not valid has its error already; it is not missing too.
  if (state === "QUEUED") errors.push(...missingInputs(resolved, { ...(isObject(given) ? given : {}), ...inputs }, p("inputs")));
  const outputs = readOutputTargets(body.outputs, p("outputs"), resolved, storages, errors);
  return { definition, resolved, parameters: params.values, inputs, outputs, state: state as "NEW" | "QUEUED" };
}

/** A job may be queued only once every input it declares is given. */
export function missingInputs(resolved: ResolvedDefinition, inputs: Record<string, unknown>, at: string): FieldError[] {
  return resolved.inputs
    .filter((b) => !Object.hasOwn(inputs, b.name))
    .map((b) => ({ path: `${at}.${b.name}`, message: "is required to queue the job" }));
}

export function throwIfAny(errors: FieldError[], message = "the job is not valid"): void {
  if (errors.length) throw invalid(message, errors);
}
