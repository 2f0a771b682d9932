/**
 * `${name}` templates in argv, cwd and environment values.
 *
 * A template is rendered in one pass: a substituted value is never scanned
 * again, so a parameter holding "${workdir}" stays that literal text. Each
 * argv element renders to exactly one argv element; nothing is ever split
 * or handed to a shell. `$${` writes a literal `${`.
 */
const TOKEN = /\$\$\{|\$\{([^}]*)\}|\$\{/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export type TemplatePart = { text: string } | { name: string };

/** Splits a template into literal text and variable references; throws a message on bad syntax. */
export function parseTemplate(source: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let text = "";
  let last = 0;
  for (const m of source.matchAll(TOKEN)) {
    text += source.slice(last, m.index);
    last = m.index + m[0].length;
    if (m[0] === "$${") {
      text += "${";
      continue;
    }
    if (m[1] === undefined) throw new Error(`unclosed "\${" at position ${m.index}`);
    if (!NAME.test(m[1])) throw new Error(`"\${${m[1]}}" is not a valid variable name`);
    if (text) parts.push({ text });
    text = "";
    parts.push({ name: m[1] });
  }
  text += source.slice(last);
  if (text) parts.push({ text });
  return parts;
}

/** The variable names a template refers to, in order of first use. */
export function templateVariables(source: string): string[] {
  const names = new Set<string>();
  for (const part of parseTemplate(source)) if ("name" in part) names.add(part.name);
  return [...names];
}

/** Renders a template; an unknown variable is an error naming it. */
export function renderTemplate(source: string, vars: Readonly<Record<string, string>>): string {
  if (!source.includes("$")) return source;
  let out = "";
  for (const part of parseTemplate(source)) {
    if ("text" in part) out += part.text;
    else if (Object.hasOwn(vars, part.name)) out += vars[part.name];
    else throw new Error(`unknown variable "\${${part.name}}"`);
  }
  return out;
}

/** If the whole template is exactly one variable ("${input_file}"), its name. */
export function soleVariable(source: string): string | undefined {
  const parts = parseTemplate(source);
  return parts.length === 1 && "name" in parts[0] ? parts[0].name : undefined;
}
