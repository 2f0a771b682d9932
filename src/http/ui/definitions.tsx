/**
 * Definition pages and the run form: list and search, one definition with
 * every version, create / edit (admins), delete (admins), run (submitters
 * and admins). Each form posts through htmx; a validation error answers 422
 * with the same form, values kept and each error beside its field.
 */
import { Hono, type Context } from "hono";
import { AppError, type Definition } from "../../domain/index.ts";
import { canSubmit, isAdmin, requireAdmin, type Actor } from "../../service/index.ts";
import type { DefinitionRow } from "../../store/index.ts";
import type { App } from "../env.ts";
import type { UiEnv } from "./env.ts";
import { page } from "../../../views/layout.tsx";
import { DefinitionList, DefinitionView, definitionLabel, type DefinitionItem } from "../../../views/definitions.tsx";
import {
  DefinitionFormView,
  emptyForm,
  errorsByField,
  formFromBody,
  formFromDefinition,
  toDefinition,
  type DefinitionForm,
  type FormErrors,
} from "../../../views/definition-form.tsx";
import { RunForm, defaultValues, runErrors, type InputMode, type RunErrors, type RunValues } from "../../../views/run.tsx";

const PAGE_SIZE = 25;
const isHtmx = (c: Context) => c.req.header("hx-request") === "true";
const ctxOf = (c: Context<UiEnv>) => ({ actor: c.get("actor"), csrf: c.get("csrf"), path: c.req.path });
const item = (row: DefinitionRow) => ({ ...row, definition: row.definition as Definition }) as DefinitionItem;

/** After a change: htmx follows HX-Redirect, a plain form a 303. */
function land(c: Context<UiEnv>, to: string): Response {
  if (isHtmx(c)) {
    c.header("HX-Redirect", to);
    return c.body(null, 200);
  }
  return c.redirect(to, 303);
}

/** The service's validation errors, or rethrown: a refusal (403) or a missing definition is the page's error. */
function fieldErrors(e: unknown): AppError {
  if (e instanceof AppError && (e.status === 400 || e.status === 409 || e.status === 422) ) return e;
  throw e;
}

export function definitionPages(app: App): Hono<UiEnv> {
  const ui = new Hono<UiEnv>({ strict: false });
  const svc = app.definitions;

  ui.get("/definitions", (c) => {
    const search = (c.req.query("q") ?? "").trim();
    const offset = Math.max(0, Math.floor(Number(c.req.query("offset")) || 0));
    const { rows, total } = svc.list(PAGE_SIZE, offset, search || undefined);
    const deleted = c.req.query("deleted");
    const actor = c.get("actor");
    return c.html(
      page(
        ctxOf(c),
        "Definitions",
        <DefinitionList
          rows={rows.map(item)}
          total={total}
          offset={offset}
          limit={PAGE_SIZE}
          search={search}
          isAdmin={isAdmin(actor)}
          notice={deleted ? `Deleted the definition ${deleted}.` : undefined}
        />,
      ),
    );
  });

  // ---- create and edit ----

  const formPage = (c: Context<UiEnv>, title: string, form: DefinitionForm, errors: FormErrors, action: string, cancel: string, status: 200 | 422 = 200) => {
    const view = <DefinitionFormView form={form} errors={errors} action={action} csrf={c.get("csrf")} submitLabel={title.startsWith("New") ? "Create definition" : "Save new version"} cancelHref={cancel} />;
    if (status === 422 && isHtmx(c)) return c.html(view.toString(), 422);
    return c.html(
      page(
        ctxOf(c),
        title,
        <>
          <h1>{title}</h1>
          {view}
        </>,
      ),
      status,
    );
  };

  /** Validates and saves through the service; on a validation error, the form again with each error beside its field. */
  const save = async (c: Context<UiEnv>, title: string, action: string, cancel: string, write: (body: unknown) => Promise<DefinitionRow>) => {
    const form = formFromBody(await c.req.parseBody());
    const parsed = toDefinition(form);
    if (!parsed.body) return formPage(c, title, form, parsed.errors, action, cancel, 422);
    let row: DefinitionRow;
    try {
      row = await write(parsed.body);
    } catch (e) {
      const err = fieldErrors(e);
      return formPage(c, title, form, errorsByField(err.fields, parsed.argvLines, err.message), action, cancel, 422);
    }
    return land(c, `/definitions/${row.id}?saved=${row.version}`);
  };

  ui.get("/definitions/new", (c) => {
    requireAdmin(c.get("actor"), "create process definitions");
    return formPage(c, "New definition", emptyForm(), {}, "/definitions", "/definitions");
  });

  ui.post("/definitions", (c) => save(c, "New definition", "/definitions", "/definitions", (body) => svc.create(body, c.get("actor"))));

  ui.get("/definitions/:id/edit", (c) => {
    requireAdmin(c.get("actor"), "change process definitions");
    const row = svc.get(c.req.param("id"));
    return formPage(c, `Edit ${definitionLabel(row)}`, formFromDefinition(row.definition as Definition), {}, `/definitions/${row.id}`, `/definitions/${row.id}`);
  });

  ui.post("/definitions/:id", (c) => {
    const actor = c.get("actor");
    requireAdmin(actor, "change process definitions");
    const row = svc.get(c.req.param("id"));
    return save(c, `Edit ${definitionLabel(row)}`, `/definitions/${row.id}`, `/definitions/${row.id}`, (body) => svc.update(row.id, body, actor));
  });

  ui.delete("/definitions/:id", async (c) => {
    const row = svc.get(c.req.param("id"));
    await svc.delete(row.id, c.get("actor"));
    return land(c, `/definitions?deleted=${encodeURIComponent(definitionLabel(row))}`);
  });

  // ---- one definition ----

  ui.get("/definitions/:id", (c) => {
    const actor = c.get("actor");
    const row = svc.get(c.req.param("id"));
    const versions = svc.versions(row.id);
    const asked = c.req.query("version");
    const shown = asked === undefined ? versions.find((v) => v.version === row.version) : versions.find((v) => String(v.version) === asked);
    if (!shown) throw new AppError(404, "not_found", `${definitionLabel(row)} has no version ${JSON.stringify(asked)}`);
    const saved = c.req.query("saved");
    return c.html(
      page(
        ctxOf(c),
        definitionLabel(row),
        <DefinitionView
          row={item(row)}
          shown={{ version: shown.version, definition: shown.definition as Definition, createdAt: shown.createdAt }}
          versions={versions}
          canRun={canSubmit(actor)}
          isAdmin={isAdmin(actor)}
          notice={saved ? `Saved as version ${saved}.` : undefined}
        />,
      ),
    );
  });

  // ---- run ----

  const runPage = (c: Context<UiEnv>, row: DefinitionRow, values: RunValues, errors: RunErrors, status: 200 | 422 = 200) => {
    const resolved = app.store.definitions.resolved(row.id, row.version);
    if (!resolved) throw new AppError(404, "not_found", `${definitionLabel(row)} has no runnable version`);
    const form = <RunForm id={row.id} parameters={resolved.parameters} inputs={resolved.inputs} values={values} errors={errors} />;
    if (status === 422 && isHtmx(c)) return c.html(form.toString(), 422);
    const actor = c.get("actor");
    return c.html(
      page(
        ctxOf(c),
        `Run ${definitionLabel(row)}`,
        <>
          <h1>
            Run <a href={`/definitions/${row.id}`}>{definitionLabel(row)}</a> <span class="muted">v{row.version}</span>
          </h1>
          {!canSubmit(actor) && (
            <p class="alert" role="alert">
              You are a viewer: flue will not submit jobs for you. Ask an admin for the submitter role.
            </p>
          )}
          {form}
        </>,
      ),
      status,
    );
  };

  ui.get("/definitions/:id/run", (c) => {
    const row = svc.get(c.req.param("id"));
    const resolved = app.store.definitions.resolved(row.id, row.version);
    return runPage(c, row, defaultValues(resolved?.parameters ?? {}), {});
  });

  ui.post("/definitions/:id/run", async (c) => {
    const actor: Actor = c.get("actor");
    const row = svc.get(c.req.param("id"));
    const resolved = app.store.definitions.resolved(row.id, row.version);
    if (!resolved) throw new AppError(404, "not_found", `${definitionLabel(row)} has no runnable version`);
    const form = await c.req.formData().catch((e) => {
      if (e instanceof AppError) throw e;
      throw new AppError(400, "invalid", "the form could not be read; reload the page and try again");
    });
    const text = (k: string) => {
      const v = form.get(k);
      return typeof v === "string" ? v : "";
    };
    const values: RunValues = { params: {}, modes: {}, texts: {}, uris: {}, state: text("state") === "NEW" ? "NEW" : "QUEUED" };
    const texts = new Map<string, string>();
    const files = new Map<string, File>();
    const inputs: Record<string, { uri: string }> = {};
    for (const [name, spec] of Object.entries(resolved.parameters)) {
      if ((spec.type ?? "string") === "boolean") {
        values.params[name] = form.has(`p.${name}`);
        texts.set(name, String(form.has(`p.${name}`)));
        continue;
      }
      const v = text(`p.${name}`);
      values.params[name] = v;
      // Empty: the default applies, or "is required" says what is missing.
      if (v !== "") texts.set(name, v);
    }
    for (const b of resolved.inputs) {
      const mode = (["file", "text", "uri"].includes(text(`in.${b.name}.mode`)) ? text(`in.${b.name}.mode`) : "file") as InputMode;
      values.modes[b.name] = mode;
      values.texts[b.name] = text(`in.${b.name}.text`);
      values.uris[b.name] = text(`in.${b.name}.uri`);
      const file = form.get(`in.${b.name}.file`);
      // No file chosen: the browser sends an empty part without a file name (Bun reads it as name undefined).
      if (mode === "file" && file instanceof File && (Boolean(file.name) || file.size > 0)) files.set(b.name, file);
      if (mode === "text" && values.texts[b.name] !== "") texts.set(b.name, values.texts[b.name].replace(/\r\n/g, "\n"));
      if (mode === "uri" && values.uris[b.name].trim() !== "") inputs[b.name] = { uri: values.uris[b.name].trim() };
    }
    const body = { process_definition: row.id, state: values.state, ...(Object.keys(inputs).length ? { inputs } : {}) };
    let created;
    try {
      created = await app.jobs.submit(body, actor, { files, texts });
    } catch (e) {
      const err = fieldErrors(e);
      return runPage(c, row, values, runErrors(err.fields, err.message, resolved.inputs.map((b) => b.name)), 422);
    }
    return land(c, `/jobs/${created[0].id}`);
  });

  return ui;
}
