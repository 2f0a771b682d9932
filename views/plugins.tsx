/** The loaded plugins: adapters by type, storages by scheme, each with its source and parameters. */
import type { PluginInfo } from "../src/adapters/describe.ts";
import type { PageContext } from "./layout.tsx";
import { page } from "./layout.tsx";

/** The names of a JSON Schema's top-level properties, or a dash. */
function fields(schema: object | undefined): string {
  const props = (schema as { properties?: Record<string, unknown> } | undefined)?.properties;
  return props && Object.keys(props).length ? Object.keys(props).join(", ") : "–";
}

function PluginRow({ p }: { p: PluginInfo }) {
  return (
    <tr>
      <td>{p.kind}</td>
      <td>
        <code>{p.kind === "adapter" ? p.type : p.schemes!.map((s) => `${s}://`).join(" ")}</code>
      </td>
      <td>{p.version}</td>
      <td>{p.description}</td>
      <td>{p.kind === "adapter" ? p.directions!.join(", ") : "–"}</td>
      <td>
        <details>
          <summary>{fields(p.parameters ?? p.settings)}</summary>
          <pre>{JSON.stringify(p.parameters ?? p.settings, null, 2)}</pre>
        </details>
      </td>
      <td>{p.source === "built-in" ? "built-in" : <code>{p.source}</code>}</td>
    </tr>
  );
}

/** The Plugins page: what GET /api/plugins/ lists, as a table. */
export function pluginsPage(ctx: PageContext, plugins: PluginInfo[]): string {
  return page(
    ctx,
    "Plugins",
    <>
      <h1>Plugins</h1>
      <p class="muted">Adapters move bytes into and out of a process; storages hold them by URI scheme. Load more with flue serve --plugins DIR.</p>
      <table class="plugins">
        <thead>
          <tr>
            <th scope="col">Kind</th>
            <th scope="col">Type or schemes</th>
            <th scope="col">Version</th>
            <th scope="col">Description</th>
            <th scope="col">Directions</th>
            <th scope="col">Parameters or settings</th>
            <th scope="col">Source</th>
          </tr>
        </thead>
        <tbody>
          {plugins.map((p) => (
            <PluginRow p={p} />
          ))}
        </tbody>
      </table>
    </>,
  );
}
