/** The process registry: create, read, update (a new version), delete. */
import { AppError, invalid, notFound, validateDefinition, type AdapterBinder, type Definition } from "../domain/index.ts";
import type { DefinitionRow, Store } from "../store/index.ts";
import { checkExec, type ExecPolicy } from "../executor/index.ts";
import { requireAdmin, type Actor } from "./actor.ts";
import type { Fleet } from "../cluster/record.ts";

/** NATS away: a definition cannot change, since every instance must learn of it. */
const fleetAway = (e: unknown) =>
  new AppError(503, "fleet_unavailable", `the fleet's NATS cannot be reached, so definitions cannot change now (${(e as Error).message}); try again`);

export class DefinitionService {
  /** `bind` validates adapters' parameters against the loaded plugins. */
  constructor(
    private readonly store: Store,
    private readonly bind: AdapterBinder,
    private readonly execPolicy: ExecPolicy = { allow: [], deny: [] },
    /** The fleet, once joined: definitions get fleet-wide ids and are shared. */
    private readonly fleet: () => Fleet | undefined = () => undefined,
  ) {}

  list(limit: number, offset: number, search?: string) {
    return this.store.definitions.list(limit, offset, search);
  }

  /** By id, name or resource URI. */
  get(ref: string | number): DefinitionRow {
    const row = this.store.definitions.find(parseRef(ref));
    if (!row) throw notFound(`process definition ${JSON.stringify(String(ref))}`);
    return row;
  }

  /** Validates `{"definition": {...}}` as the seed registry's clients send it. */
  private parse(body: unknown, exceptId?: number): Definition {
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw invalid("the body must be a JSON object", [{ path: "", message: 'expected {"definition": {...}}' }]);
    }
    const raw = (body as Record<string, unknown>).definition;
    if (raw === undefined) throw invalid("definition is required", [{ path: "definition", message: "is required" }]);
    const result = validateDefinition(raw, this.bind);
    if (!result.definition) throw invalid("the definition is not valid", result.errors);
    const d = result.definition;
    const path = d.environment?.PATH?.includes("${") ? undefined : d.environment?.PATH;
    const refused = checkExec(d.exec, this.execPolicy, path);
    if (refused) throw invalid(`exec: ${refused}`, [{ path: "definition.exec", message: refused }]);
    const name = result.definition.name;
    if (name !== undefined && this.store.definitions.nameTaken(name, exceptId)) {
      throw new AppError(409, "conflict", `a definition named "${name}" exists already`, [
        { path: "definition.name", message: `"${name}" is taken` },
      ]);
    }
    return result.definition;
  }

  async create(body: unknown, actor: Actor): Promise<DefinitionRow> {
    requireAdmin(actor, "change process definitions");
    const definition = this.parse(body);
    const fleet = this.fleet();
    const id = fleet ? await fleet.newDefinitionId().catch((e) => Promise.reject(fleetAway(e))) : undefined;
    const row = this.store.definitions.create(definition, actor.username, id);
    await fleet?.shareDefinition(row).catch((e) => Promise.reject(fleetAway(e)));
    this.store.audit.record(actor, "definition.create", definitionTarget(row), { name: row.name, version: row.version });
    return row;
  }

  async update(ref: string | number, body: unknown, actor: Actor): Promise<DefinitionRow> {
    requireAdmin(actor, "change process definitions");
    const row = this.get(ref);
    const updated = this.store.definitions.update(row.id, this.parse(body, row.id));
    await this.fleet()?.shareDefinition(updated).catch((e) => Promise.reject(fleetAway(e)));
    this.store.audit.record(actor, "definition.update", definitionTarget(updated), { name: updated.name, version: updated.version });
    return updated;
  }

  async delete(ref: string | number, actor: Actor): Promise<void> {
    requireAdmin(actor, "change process definitions");
    const row = this.get(ref);
    this.store.definitions.delete(row.id);
    await this.fleet()?.unshareDefinition(row.id).catch((e) => Promise.reject(fleetAway(e)));
    this.store.audit.record(actor, "definition.delete", definitionTarget(row), { name: row.name });
  }

  versions(ref: string | number) {
    return this.store.definitions.versions(this.get(ref).id);
  }
}

/** How the audit log names a definition. */
const definitionTarget = (row: DefinitionRow) => `/api/process_definition/${row.id}/`;

/** "3", 3, "tr" and "/api/process_definition/3/" all name a definition. */
export function parseRef(ref: string | number): string | number {
  if (typeof ref === "number") return ref;
  const m = /^\/api\/process_definition\/([^/]+)\/?$/.exec(ref);
  if (!m) return ref;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return m[1]; // malformed %-escapes name no definition; let the lookup say so
  }
}
