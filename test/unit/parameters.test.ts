import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { ParameterSpec } from "../../src/domain/definition-schema.ts";
import { checkJobParameters, checkParameterSpec, maskSecrets } from "../../src/domain/parameters.ts";

const one = (spec: ParameterSpec, value: unknown, fromText = false) => checkJobParameters({ p: spec }, { p: value }, "parameters", fromText);

describe("checkJobParameters: types", () => {
  const cases: [string, ParameterSpec, unknown, string | undefined][] = [
    ["a string", {}, "text", undefined],
    ["a number for a string", {}, 5, "must be a string"],
    ["an integer", { type: "integer" }, -7, undefined],
    ["a fraction for an integer", { type: "integer" }, 1.5, "must be a whole number"],
    ["an unsafe integer", { type: "integer" }, 2 ** 53, "must be a whole number"],
    ["text for an integer", { type: "integer" }, "3", "must be a whole number"],
    ["a number", { type: "number" }, 0.25, undefined],
    ["text for a number", { type: "number" }, "0.25", "must be a number"],
    ["a boolean", { type: "boolean" }, false, undefined],
    ["text for a boolean", { type: "boolean" }, "true", "must be true or false"],
    ["a NUL byte", {}, "a\0b", "must not contain a NUL byte"],
    ["an object", {}, { a: 1 }, "must be a string"],
  ];
  test.each(cases)("%s", (_, spec, value, why) => {
    const r = one(spec, value);
    if (why === undefined) {
      expect(r).toEqual({ values: { p: value as string }, errors: [] });
    } else {
      expect(r).toEqual({ values: {}, errors: [{ path: "parameters.p", message: why }] });
    }
  });
});

describe("checkJobParameters: from text", () => {
  const cases: [ParameterSpec, string, unknown][] = [
    [{ type: "integer" }, "42", 42],
    [{ type: "integer" }, "-3", -3],
    [{ type: "number" }, "2.5", 2.5],
    [{ type: "boolean" }, "true", true],
    [{ type: "boolean" }, "false", false],
    [{ type: "string" }, "42", "42"],
    [{}, " padded ", " padded "],
  ];
  test.each(cases)("%j reads %j as %j", (spec, text, value) => {
    expect(one(spec, text, true)).toEqual({ values: { p: value as string }, errors: [] });
  });

  test.each([
    [{ type: "integer" }, "4.5", "must be a whole number"],
    [{ type: "integer" }, "", "must be a whole number"],
    [{ type: "integer" }, "  ", "must be a whole number"],
    [{ type: "number" }, "Infinity", "must be a number"],
    [{ type: "number" }, "abc", "must be a number"],
    [{ type: "boolean" }, "yes", "must be true or false"],
    [{ type: "boolean" }, "TRUE", "must be true or false"],
  ] as [ParameterSpec, string, string][])("%j rejects %j", (spec, text, why) => {
    expect(one(spec, text, true).errors).toEqual([{ path: "parameters.p", message: why }]);
  });

  test("any safe integer written as text reads back as itself", () => {
    fc.assert(fc.property(fc.maxSafeInteger(), (n) => expect(one({ type: "integer" }, String(n), true).values.p).toBe(n)));
  });

  test("without fromText, text is never read as a number", () => {
    fc.assert(fc.property(fc.integer(), (n) => expect(one({ type: "integer" }, String(n)).errors).toHaveLength(1)));
  });
});

describe("checkJobParameters: enum and pattern", () => {
  test("enum admits exactly its values", () => {
    const spec: ParameterSpec = { type: "integer", enum: [1, 2, 3] };
    expect(one(spec, 2).values).toEqual({ p: 2 });
    expect(one(spec, 4).errors).toEqual([{ path: "parameters.p", message: "must be one of 1, 2, 3" }]);
    expect(one(spec, "2", true).values).toEqual({ p: 2 });
    expect(one({ enum: ["a", "b"] }, "A").errors[0].message).toBe('must be one of "a", "b"');
  });

  test("a pattern must match the whole value", () => {
    const spec: ParameterSpec = { pattern: "[a-z]+" };
    expect(one(spec, "abc").errors).toEqual([]);
    for (const bad of ["abc1", "1abc", "", "ab c"]) {
      expect(one(spec, bad).errors).toEqual([{ path: "parameters.p", message: "must match the pattern [a-z]+" }]);
    }
  });

  test("an alternation in a pattern is anchored as a whole", () => {
    const spec: ParameterSpec = { pattern: "a|b" };
    expect(one(spec, "a").errors).toEqual([]);
    expect(one(spec, "b").errors).toEqual([]);
    expect(one(spec, "ab").errors).toHaveLength(1);
    expect(one(spec, "xa").errors).toHaveLength(1);
    expect(one(spec, "bx").errors).toHaveLength(1);
  });

  test("a pattern holds for generated values exactly when the full-match regex does", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-c]{0,4}$/), (value) => {
        expect(one({ pattern: "a+b?" }, value).errors.length === 0).toBe(/^(?:a+b?)$/.test(value));
      }),
    );
  });
});

describe("checkJobParameters: names, required and defaults", () => {
  const declared: Record<string, ParameterSpec> = {
    q: { type: "integer", default: 5 },
    name: { required: true },
    mode: { enum: ["fast", "slow"], default: "fast" },
    opt: {},
  };

  test("fills defaults and leaves out optional ones with none", () => {
    expect(checkJobParameters(declared, { name: "n" })).toEqual({ values: { q: 5, name: "n", mode: "fast" }, errors: [] });
  });

  test("a given value wins over the default; null counts as not given", () => {
    expect(checkJobParameters(declared, { name: "n", q: 7, mode: null }).values).toEqual({ q: 7, name: "n", mode: "fast" });
  });

  test("reports every problem at once, unknown names with the declared ones", () => {
    const r = checkJobParameters(declared, { q: "x", colour: "red", mode: "medium" }, "objects.1.parameters");
    expect(r.errors).toEqual([
      { path: "objects.1.parameters.colour", message: "unknown parameter; declared: q, name, mode, opt" },
      { path: "objects.1.parameters.q", message: "must be a whole number" },
      { path: "objects.1.parameters.name", message: "is required" },
      { path: "objects.1.parameters.mode", message: 'must be one of "fast", "slow"' },
    ]);
  });

  test("a definition without parameters says so", () => {
    expect(checkJobParameters({}, { x: 1 }).errors).toEqual([{ path: "parameters.x", message: "unknown parameter; this definition declares none" }]);
    expect(checkJobParameters({}, undefined)).toEqual({ values: {}, errors: [] });
  });

  test("an inherited property name is not a declared parameter", () => {
    expect(checkJobParameters({}, JSON.parse('{"toString": "x", "__proto__": "y"}')).errors.map((e) => e.path)).toEqual([
      "parameters.toString",
      "parameters.__proto__",
    ]);
  });

  test.each([["text"], [[1, 2]], [5]])("parameters that are not an object: %p", (given) => {
    expect(checkJobParameters(declared, given)).toEqual({ values: {}, errors: [{ path: "parameters", message: "parameters must be an object" }] });
  });
});

describe("checkParameterSpec", () => {
  test("a sound declaration has no problems", () => {
    expect(checkParameterSpec({ pattern: "[a-z]+", enum: ["ab", "cd"], default: "ab" }, "p")).toEqual([]);
  });

  test("collects each problem under its path", () => {
    expect(checkParameterSpec({ type: "boolean", enum: [true, "no"], default: 1 }, "definition.parameters.b")).toEqual([
      { path: "definition.parameters.b.enum.1", message: 'enum value "no" must be true or false' },
      { path: "definition.parameters.b.default", message: "default must be true or false" },
    ]);
    expect(checkParameterSpec({ pattern: "[a-z]+", enum: ["ok", "NO"] }, "p")).toEqual([
      { path: "p.enum.1", message: 'enum value "NO" must match the pattern [a-z]+' },
    ]);
  });
});

describe("maskSecrets", () => {
  test("masks secret values only, without touching the input", () => {
    const values = { token: "s3cret", user: "ann", n: 3 };
    const masked = maskSecrets({ token: { secret: true }, user: {}, n: { type: "integer", secret: false } }, values);
    expect(masked).toEqual({ token: "********", user: "ann", n: 3 });
    expect(values.token).toBe("s3cret");
  });

  test("a secret that was not given stays absent", () => {
    expect(maskSecrets({ token: { secret: true } }, { user: "ann" })).toEqual({ user: "ann" });
  });

  test("no secret value survives, whatever the values", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.stringMatching(/^[a-z]{1,5}$/), fc.tuple(fc.string({ minLength: 1 }), fc.boolean())), (given) => {
        const declared = Object.fromEntries(Object.entries(given).map(([k, [, secret]]) => [k, { secret }]));
        const values = Object.fromEntries(Object.entries(given).map(([k, [value]]) => [k, value]));
        const masked = maskSecrets(declared, values);
        for (const [k, [value, secret]] of Object.entries(given)) expect(masked[k]).toBe(secret ? "********" : value);
      }),
    );
  });
});

describe("checkJobParameters: options: false", () => {
  test("a value that would read as an option is refused; a dash inside is fine", () => {
    const declared = { w: { options: false }, n: { type: "integer" as const, options: false }, free: {} };
    expect(checkJobParameters(declared, { w: "-rf", n: -3, free: "-x" }).errors.map((e) => e.path)).toEqual(["parameters.w", "parameters.n"]);
    expect(checkJobParameters(declared, { w: "a-b", n: 3 }).errors).toEqual([]);
  });
});
