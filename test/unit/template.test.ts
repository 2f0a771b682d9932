import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { parseTemplate, renderTemplate, soleVariable, templateVariables } from "../../src/domain/template.ts";

const name = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,7}$/);

/** Text that contains no "$", so it can never start a reference. */
const plain = fc.string({ maxLength: 12 }).map((s) => s.replaceAll("$", ""));

/** Values a job may pass, chosen to break anything that re-parses or splits them. */
const hostile = fc.oneof(
  fc.string(),
  fc.string({ unit: "binary" }),
  fc.constantFrom(
    "a b  c",
    "'single'",
    '"double"',
    "; rm -rf /",
    "$(id)",
    "`id`",
    "line\nbreak",
    "-rf",
    "--output=/etc/passwd",
    "${workdir}",
    "$${x}",
    "${",
    "",
  ),
);

type Part = { text: string } | { name: string } | { escape: true };

/** A template built from parts, with the names it uses. */
const template = (names: fc.Arbitrary<string>) =>
  fc.array(fc.oneof(plain.map((text) => ({ text })), names.map((n) => ({ name: n })), fc.constant({ escape: true as const })), { maxLength: 8 }).map(
    (parts: Part[]) => ({
      parts,
      source: parts.map((p) => ("text" in p ? p.text : "name" in p ? `\${${p.name}}` : "$${")).join(""),
    }),
  );

const expected = (parts: Part[], vars: Record<string, string>) =>
  parts.map((p) => ("text" in p ? p.text : "name" in p ? vars[p.name] : "${")).join("");

describe("renderTemplate", () => {
  test("renders each part once: values are never scanned again", () => {
    const setup = fc.uniqueArray(name, { minLength: 1, maxLength: 4 }).chain((names) =>
      fc.tuple(fc.array(hostile, { minLength: names.length, maxLength: names.length }), template(fc.constantFrom(...names))).map(
        ([values, t]) => ({ vars: Object.fromEntries(names.map((n, i) => [n, values[i]])), ...t }),
      ),
    );
    fc.assert(fc.property(setup, ({ vars, parts, source }) => expect(renderTemplate(source, vars)).toBe(expected(parts, vars))));
  });

  test("a value holding ${x} stays literal even when x is defined", () => {
    fc.assert(
      fc.property(plain, plain, (before, after) => {
        const value = `${before}\${x}${after}`;
        expect(renderTemplate("${v}", { v: value, x: "EXPANDED" })).toBe(value);
        expect(renderTemplate("<${v}>", { v: "${v}" })).toBe("<${v}>");
      }),
    );
  });

  test("text without '$' renders unchanged, and so does text without '{'", () => {
    fc.assert(fc.property(plain, (s) => expect(renderTemplate(s, {})).toBe(s)));
    fc.assert(fc.property(fc.string().map((s) => s.replaceAll("{", "")), (s) => expect(renderTemplate(s, {})).toBe(s)));
  });

  test("$${ writes a literal ${", () => {
    expect(renderTemplate("$${x}", { x: "no" })).toBe("${x}");
    expect(renderTemplate("a$${b}${c}", { b: "no", c: "C" })).toBe("a${b}C");
    expect(renderTemplate("$${", {})).toBe("${");
    fc.assert(fc.property(plain, plain, (a, b) => expect(renderTemplate(`${a}$\${${b}`, {})).toBe(`${a}\${${b}`)));
  });

  test("an argv array renders to the same number of string elements, whatever the values", () => {
    const names = ["input_file", "q", "job_id"];
    fc.assert(
      fc.property(fc.array(template(fc.constantFrom(...names)), { maxLength: 10 }), fc.array(hostile, { minLength: 3, maxLength: 3 }), (argv, values) => {
        const vars = Object.fromEntries(names.map((n, i) => [n, values[i]]));
        const out = argv.map((a) => renderTemplate(a.source, vars));
        expect(out).toHaveLength(argv.length);
        out.forEach((arg, i) => {
          expect(typeof arg).toBe("string");
          expect(arg).toBe(expected(argv[i].parts, vars));
        });
      }),
    );
  });

  test("a whole-argument reference yields exactly the value, spaces and quotes included", () => {
    fc.assert(fc.property(hostile, (value) => expect(renderTemplate("${q}", { q: value })).toBe(value)));
  });

  test("an unknown variable is an error naming it", () => {
    fc.assert(
      fc.property(name, plain, (n, text) => {
        expect(() => renderTemplate(`${text}\${${n}}`, { [`${n}_other`]: "x" })).toThrow(`unknown variable "\${${n}}"`);
      }),
    );
  });

  test("a variable named like an Object property is still unknown", () => {
    expect(() => renderTemplate("${constructor}", {})).toThrow('unknown variable "${constructor}"');
    expect(() => renderTemplate("${toString}", {})).toThrow("toString");
  });
});

describe("parseTemplate", () => {
  test.each([
    ["${", 'unclosed "${" at position 0'],
    ["ab${cd", 'unclosed "${" at position 2'],
    ["${}", '"${}" is not a valid variable name'],
    ["${1a}", '"${1a}" is not a valid variable name'],
    ["${a b}", '"${a b}" is not a valid variable name'],
    ["${a-b}", '"${a-b}" is not a valid variable name'],
  ])("%p is rejected with %p", (source, message) => {
    expect(() => parseTemplate(source)).toThrow(message);
  });

  test("splits text and names, merging escapes into the text", () => {
    expect(parseTemplate("-i ${input_file}.wav$${x}")).toEqual([{ text: "-i " }, { name: "input_file" }, { text: ".wav${x}" }]);
    expect(parseTemplate("")).toEqual([]);
    expect(parseTemplate("cost: $5")).toEqual([{ text: "cost: $5" }]);
  });
});

describe("templateVariables", () => {
  test("finds exactly the names used, in order of first use, each once", () => {
    fc.assert(
      fc.property(template(name), ({ parts, source }) => {
        const used = [...new Set(parts.flatMap((p) => ("name" in p ? [p.name] : [])))];
        expect(templateVariables(source)).toEqual(used);
      }),
    );
  });

  test("an escaped reference is not a variable", () => {
    expect(templateVariables("$${a}${b}$${c}")).toEqual(["b"]);
  });
});

describe("soleVariable", () => {
  test.each([
    ["${input_file}", "input_file"],
    ["${a}${b}", undefined],
    ["x${a}", undefined],
    ["${a}.wav", undefined],
    ["$${a}", undefined],
    ["plain", undefined],
    ["", undefined],
  ])("%p → %p", (source, sole) => {
    expect(soleVariable(source)).toBe(sole);
  });
});
