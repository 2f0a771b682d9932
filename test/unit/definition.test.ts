import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { canonicalize, type Definition } from "../../src/domain/definition.ts";
import { resolveDefinition, validateDefinition } from "../helpers/file-binder.ts";
import { respelled, validDefinition } from "./definition-arbitraries.ts";

/** Raw objects that use the keys canonicalize rewrites, with junk around them. */
const rawish = fc.dictionary(
  fc.constantFrom("exec", "args", "argv", "environment", "retries", "input_adapter", "output_adapter", "timeout", "other"),
  fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.array(fc.oneof(fc.string(), fc.integer()), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 3 }), fc.oneof(fc.string(), fc.integer()), { maxKeys: 3 }),
    fc.record({ input_type: fc.string(), input_params: fc.jsonValue({ maxDepth: 1 }), input_parameters: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: [] }),
    fc.record({ output_type: fc.string(), output_params: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: [] }),
  ),
);

describe("canonicalize", () => {
  test("is idempotent", () => {
    fc.assert(
      fc.property(fc.oneof(rawish, validDefinition.chain(respelled)), (raw) => {
        const once = canonicalize(raw).value;
        const twice = canonicalize(once);
        expect(twice.value).toEqual(once);
        expect(twice.errors).toEqual([]);
      }),
    );
  });

  test("never mutates its input", () => {
    fc.assert(
      fc.property(fc.oneof(rawish, validDefinition.chain(respelled)), (raw) => {
        const before = structuredClone(raw);
        canonicalize(raw);
        validateDefinition(raw);
        expect(raw).toEqual(before);
      }),
    );
  });

  test("maps the seed's spellings and writes numbers as text", () => {
    const raw = {
      exec: "x",
      args: ["-q:a", 2],
      environment: { N: 3, S: "s" },
      retries: 2,
      input_adapter: { input_type: "file", input_params: { file_path: "${input_file}" } },
      output_adapter: { output_type: "file", output_params: { file_type: "stream", stream_name: "STDOUT" } },
    };
    expect(canonicalize(raw)).toEqual({
      errors: [],
      value: {
        exec: "x",
        argv: ["-q:a", "2"],
        environment: { N: "3", S: "s" },
        retries: { count: 2 },
        input_adapter: { input_type: "file", input_parameters: { file_path: "${input_file}" } },
        output_adapter: { output_type: "file", output_parameters: { file_type: "stream", stream_name: "STDOUT" } },
      },
    });
  });

  test("both spellings with equal values are one value; with different values an error naming the path", () => {
    expect(canonicalize({ exec: "x", args: ["a"], argv: ["a"] })).toEqual({ errors: [], value: { exec: "x", argv: ["a"] } });
    const r = canonicalize({
      exec: "x",
      args: ["a"],
      argv: ["b"],
      input_adapter: { input_type: "file", input_params: { file_path: "a" }, input_parameters: { file_path: "b" } },
      output_adapter: { output_type: "file", output_params: {}, output_parameters: { file_path: "b" } },
    });
    expect(r.errors).toEqual([
      { path: "definition.args", message: "give either argv or args, not both" },
      { path: "definition.input_adapter.input_params", message: "give either input_parameters or input_params, not both" },
      { path: "definition.output_adapter.output_params", message: "give either output_parameters or output_params, not both" },
    ]);
    expect(canonicalize({ exec: "x", args: [], argv: ["b"] }, "objects.0").errors[0].path).toBe("objects.0.args");
  });

  test("leaves what is not an object alone", () => {
    for (const raw of [null, "x", 3, [1, 2]]) expect(canonicalize(raw)).toEqual({ value: raw, errors: [] });
  });
});

describe("validateDefinition over generated definitions", () => {
  test("every generated definition is valid", () => {
    fc.assert(
      fc.property(validDefinition, (d) => {
        expect(validateDefinition(d).errors).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  test("its canonical output is a fixed point", () => {
    fc.assert(
      fc.property(validDefinition.chain(respelled), (raw) => {
        const first = validateDefinition(raw);
        expect(first.errors).toEqual([]);
        const again = validateDefinition(first.definition);
        expect(again.errors).toEqual([]);
        expect(again.definition).toEqual(first.definition!);
        expect(again.resolved).toEqual(first.resolved!);
      }),
      { numRuns: 300 },
    );
  });

  test("the seed's alternative spellings validate to exactly the canonical definition", () => {
    fc.assert(
      fc.property(validDefinition.chain((d) => fc.tuple(fc.constant(d), respelled(d))), ([canonical, alternative]) => {
        const a = validateDefinition(canonical);
        const b = validateDefinition(alternative);
        expect(b.errors).toEqual([]);
        expect(b.definition).toEqual(a.definition!);
        expect(b.resolved).toEqual(a.resolved!);
        expect(a.definition).toEqual(canonicalize(canonical).value as Definition);
      }),
      { numRuns: 300 },
    );
  });

  test("giving both spellings with different values is an error naming the path", () => {
    fc.assert(
      fc.property(validDefinition, fc.array(fc.string(), { minLength: 1, maxLength: 3 }), (d, other) => {
        fc.pre(JSON.stringify(other) !== JSON.stringify(d.argv));
        const r = validateDefinition({ ...d, args: other, argv: d.argv ?? [] });
        expect(r.definition).toBeUndefined();
        expect(r.errors).toContainEqual({ path: "definition.args", message: "give either argv or args, not both" });
      }),
    );
  });
});

// The seed document's own examples, verbatim.
const SEED = {
  list: { exec: "/path/to/executable" },
  stdin: { exec: "someproc", input_adapter: { input_type: "file", input_parameters: { file_type: "stream", stream_name: "STDIN" } } },
  inputArg: {
    exec: "someproc",
    args: ["--quiet", "--input", "${input_file}"],
    input_adapter: { input_type: "file", input_parameters: { file_path: "${input_file}" } },
  },
  stdout: { exec: "someproc", output_adapter: { output_type: "file", output_parameters: { file_type: "stream", stream_name: "STDOUT" } } },
  outputArg: {
    exec: "someproc",
    args: ["--quiet", "${output_file}"],
    output_adapter: { output_type: "file", output_parameters: { file_path: "${output_file}" } },
  },
  tr: {
    exec: "/usr/bin/tr",
    argv: ["-d", "x"],
    input_adapter: { input_type: "file", input_parameters: { file_type: "stream", stream_name: "STDIN" } },
    output_adapter: { output_type: "file", output_parameters: { file_type: "stream", stream_name: "STDOUT" } },
  },
  ffmpeg: {
    exec: "/usr/local/bin/ffmpeg",
    argv: ["-i", "${input_file}", "-q:a", "2", "${output_file}"],
    input_adapter: { input_type: "file", input_parameters: { file_path: "${input_file}" } },
    output_adapter: { output_type: "file", output_parameters: { file_path: "${output_file}" } },
  },
};

describe("the seed's examples", () => {
  // A binding is its name, its adapter type and the parameters as the adapter parsed them.
  const stream = (name: string, stream_name: string) => ({ name, type: "file", params: { file_type: "stream", stream_name } });
  const path = (name: string) => ({ name, type: "file", params: { file_path: `\${${name}}` } });
  const cases: [keyof typeof SEED, string[], unknown[], unknown[]][] = [
    ["list", [], [], []],
    ["stdin", [], [stream("input_file", "STDIN")], []],
    ["inputArg", ["--quiet", "--input", "${input_file}"], [path("input_file")], []],
    ["stdout", [], [], [stream("output_file", "STDOUT")]],
    ["outputArg", ["--quiet", "${output_file}"], [], [path("output_file")]],
    ["tr", ["-d", "x"], [stream("input_file", "STDIN")], [stream("output_file", "STDOUT")]],
    ["ffmpeg", ["-i", "${input_file}", "-q:a", "2", "${output_file}"], [path("input_file")], [path("output_file")]],
  ];
  test.each(cases)("%s validates and resolves its inputs and outputs", (key, argv, inputs, outputs) => {
    const r = validateDefinition(SEED[key]);
    expect(r.errors).toEqual([]);
    expect(r.resolved).toEqual({
      exec: SEED[key].exec,
      argv,
      cwd: undefined,
      environment: {},
      application: undefined,
      processType: "single",
      timeout: null,
      inputs,
      outputs,
      parameters: {},
      retries: { count: 0, backoff: 1, factor: 2 },
      limits: {},
    } as never);
    expect(r.definition).not.toHaveProperty("args");
  });

  test("the seed's full format example fails only on its placeholder adapter types", () => {
    const r = validateDefinition({
      exec: "/path/to/executable",
      application: "referencetodtindtrs",
      process_type: "single",
      timeout: 60,
      cwd: "/path/to/cwd",
      environment: { ENVAR: "val" },
      argv: ["arg1", "arg2"],
      input_adapter: { input_type: "intype", input_params: { chunk_size: "10KB", tcp_port: 8090 } },
      output_adapter: { output_type: "outtype", output_params: { file: "path/to/file" } },
    });
    expect(r.errors).toEqual([
      { path: "definition.input_adapter.input_type", message: 'unknown input_type "intype"; known: file' },
      { path: "definition.output_adapter.output_type", message: 'unknown output_type "outtype"; known: file' },
    ]);
  });
});

describe("resolveDefinition", () => {
  test("fills the defaults the stored form leaves out", () => {
    const r = resolveDefinition({
      exec: "/bin/echo",
      argv: ["${p}"],
      timeout: 5,
      process_type: "service",
      retries: { count: 3, factor: 3 },
      parameters: { p: { default: "x" } },
      input_adapter: { input_type: "file", input_parameters: { file_path: "${src}", file_name: "a.wav" } },
    });
    expect(r.processType).toBe("service");
    expect(r.timeout).toBe(5);
    expect(r.retries).toEqual({ count: 3, backoff: 1, factor: 3 });
    expect(r.inputs).toEqual([{ name: "src", type: "file", params: { file_path: "${src}", file_name: "a.wav" } }]);
  });

  test("throws on a stored definition that is no longer valid, naming the problem", () => {
    expect(() => resolveDefinition({ exec: "/bin/echo", argv: ["${gone}"] })).toThrow('definition.argv.0: unknown variable "${gone}"');
  });
});
