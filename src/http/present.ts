/**
 * How resources look over HTTP: the seed registry's list envelope, every
 * object with its resource_uri, times as ISO 8601 in UTC.
 */
import { inputsShown, invalid, maskSecrets, withoutCredentials, type ParameterSpec, type ParameterValue } from "../domain/index.ts";
import type { DefinitionRow, JobMessage, JobRow } from "../store/index.ts";
import type { App } from "./env.ts";

export const iso = (t: number | null | undefined) => (t === null || t === undefined ? null : new Date(t * 1000).toISOString());

export function definitionUri(id: number) {
  return `/api/process_definition/${id}/`;
}

export function presentDefinition(row: DefinitionRow) {
  return {
    definition: row.definition,
    id: row.id,
    resource_uri: definitionUri(row.id),
    name: row.name,
    version: row.version,
    created_at: iso(row.createdAt),
    updated_at: iso(row.updatedAt),
  };
}

export function jobUri(id: string) {
  return `/api/job/${id}/`;
}

export function presentJob(row: JobRow, declared: Record<string, ParameterSpec> = {}) {
  const uri = jobUri(row.id);
  const outputs: Record<string, unknown> = {};
  for (const [name, meta] of Object.entries(row.outputs as Record<string, { size?: number; file_name?: string; uri?: string }>)) {
    // Before stage-out an output sent to a storage is only where it will go.
    const target = meta.uri && withoutCredentials(meta.uri);
    outputs[name] = meta.size === undefined ? { uri: target } : { size: meta.size, file_name: meta.file_name, ...(target ? { uri: target } : {}), resource_uri: `${uri}outputs/${name}` };
  }
  return {
    id: row.id,
    resource_uri: uri,
    process_definition: definitionUri(row.definitionId),
    process_definition_name: row.definitionName,
    definition_version: row.definitionVersion,
    state: row.state,
    parameters: maskSecrets(declared, row.parameters as Record<string, ParameterValue>),
    inputs: inputsShown(row.inputs),
    exit_status: row.exitStatus,
    created_at: iso(row.createdAt),
    queued_at: iso(row.queuedAt),
    started_at: iso(row.startedAt),
    finished_at: iso(row.finishedAt),
    attempts: row.attempts,
    max_attempts: row.maxAttempts,
    instance: row.instance,
    owner: row.owner,
    messages: (row.messages as JobMessage[]).map((m) => ({ time: iso(m.at), level: m.level, text: m.text })),
    outputs,
    metrics: row.metrics,
    stdout: `${uri}stdout`,
    stderr: `${uri}stderr`,
    events: `${uri}events/`,
  };
}

/** Reads ?limit= and ?offset=; a bad value is a 400 naming the parameter. */
export function paging(query: (k: string) => string | undefined, defaultLimit = 20, maxLimit = 1000) {
  const read = (key: string, fallback: number, max: number) => {
    const text = query(key);
    if (text === undefined || text === "") return fallback;
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0 || n > max) throw invalid(`${key} must be a whole number from 0 to ${max}`, [{ path: key, message: `must be a whole number from 0 to ${max}` }]);
    return n;
  };
  return { limit: read("limit", defaultLimit, maxLimit), offset: read("offset", 0, 1e12) };
}

/**
 * The seed's envelope: {"meta": {limit, next, offset, previous, total_count}, "objects": [...]}.
 * With `nextCursor` (the last object's id), `next` also carries `before=` so
 * that following it costs the same however deep the page.
 */
export function envelope(url: URL, limit: number, offset: number, total: number, objects: unknown[], nextCursor?: string) {
  const link = (o: number, before?: string) => {
    const params = new URLSearchParams(url.search);
    params.set("limit", String(limit));
    params.set("offset", String(o));
    if (before) params.set("before", before);
    else params.delete("before");
    return `${url.pathname}?${params}`;
  };
  return {
    meta: {
      limit,
      next: offset + limit < total ? link(offset + limit, nextCursor) : null,
      offset,
      previous: offset > 0 ? link(Math.max(0, offset - limit)) : null,
      total_count: total,
    },
    objects,
  };
}

/**
 * An event as a caller sees it: the `parameters` of a `created` or `updated`
 * event with every secret masked, by the job's definition version.
 */
export function presentEvent<E extends { id?: string; parameters?: unknown; inputs?: unknown; outputs?: unknown }>(app: App, e: E): E {
  // Credentials in input and output URIs are never shown (`created`, `updated`, `stage-out.finished` carry them).
  if (e.inputs !== undefined || e.outputs !== undefined) e = { ...e, ...(e.inputs !== undefined ? { inputs: inputsShown(e.inputs) } : {}), ...(e.outputs !== undefined ? { outputs: inputsShown(e.outputs) } : {}) };
  if (e.parameters === undefined || e.id === undefined) return e;
  const values = e.parameters as Record<string, ParameterValue>;
  const job = app.store.jobs.get(e.id);
  const declared = job && app.store.definitions.resolved(job.definitionId, job.definitionVersion)?.parameters;
  // A job that is gone: its definition's secrets are unknown, so nothing is shown.
  if (!declared) return { ...e, parameters: Object.fromEntries(Object.keys(values).map((k) => [k, "********"])) };
  return { ...e, parameters: maskSecrets(declared, values) };
}

/** A yes/no query parameter: "1", "true" or "yes" is yes. */
export const queryFlag = (value: string | undefined) => value === "1" || value === "true" || value === "yes";
