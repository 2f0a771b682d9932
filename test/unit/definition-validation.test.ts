import { describe, expect, test } from "bun:test";
import { validateDefinition } from "../helpers/file-binder.ts";

const file = (dir: "input" | "output", params: Record<string, unknown>) => ({ [`${dir}_type`]: "file", [`${dir}_parameters`]: params });
const KNOWN = "known: job_id, workdir, attempt";

/**
 * Each case lists every error it must produce, as [path, message or part of
 * it]; validation must report all of them at once and nothing else.
 */
const cases: [string, unknown, [string, string][]][] = [
  ["not an object", "exec", [["definition", "definition must be an object"]]],
  ["a list", [{ exec: "x" }], [["definition", "definition must be an object"]]],
  ["no exec", {}, [["definition.exec", "exec is required"]]],
  [
    "several schema problems at once",
    { exec: "", bogus: 1, timeout: 0, argv: ["a", "b", {}], process_type: "batch" },
    [
      ["definition.exec", "exec must not be empty"],
      ["definition.bogus", 'unknown field "bogus"'],
      ["definition.timeout", "timeout must be more than 0"],
      ["definition.argv.2", "an argument must be a string"],
      ["definition.process_type", "process_type must be single or service"],
    ],
  ],
  [
    "wrong types everywhere",
    { exec: 5, argv: "a", timeout: "60", input_adapter: "x", description: 1, application: 2, cwd: 3 },
    [
      ["definition.exec", "exec must be a string"],
      ["definition.argv", "argv must be a list of strings"],
      ["definition.timeout", "timeout must be a number of seconds"],
      ["definition.input_adapter", "input_adapter must be an object"],
      ["definition.description", "description must be a string"],
      ["definition.application", "application must be a string"],
      ["definition.cwd", "cwd must be a string"],
    ],
  ],
  ["a timeout over a year", { exec: "x", timeout: 1e9 }, [["definition.timeout", "at most a year"]]],
  ["a template in exec", { exec: "/opt/${tool}/bin/run" }, [["definition.exec", "templates are not allowed"]]],
  [
    "unknown template variables, wherever templates are",
    { exec: "x", argv: ["${nope}", "ok", "x${job_id}${other}"], cwd: "${where}", environment: { A: "${a}", B: "${workdir}" } },
    [
      ["definition.argv.0", `unknown variable "\${nope}"; ${KNOWN}`],
      ["definition.argv.2", 'unknown variable "${other}"'],
      ["definition.cwd", 'unknown variable "${where}"'],
      ["definition.environment.A", 'unknown variable "${a}"'],
    ],
  ],
  [
    "bad template syntax",
    { exec: "x", argv: ["ok", "${"], cwd: "${1x}", environment: { A: "${a b}" } },
    [
      ["definition.argv.1", 'unclosed "${"'],
      ["definition.cwd", '"${1x}" is not a valid variable name'],
      ["definition.environment.A", '"${a b}" is not a valid variable name'],
    ],
  ],
  [
    "schema problems and template problems together",
    { exec: "x", timeout: -1, argv: ["${nope}"] },
    [
      ["definition.timeout", "timeout must be more than 0"],
      ["definition.argv.0", 'unknown variable "${nope}"'],
    ],
  ],
  [
    "bad parameter declarations",
    {
      exec: "x",
      argv: ["${q}"],
      parameters: {
        q: { type: "integer", default: "a", enum: [1, "b"] },
        r: { pattern: "(" },
        s: { type: "integer", pattern: "x" },
        "9x": {},
        t: { enum: ["a", "b"], default: "c" },
        u: { type: "float" },
        w: { extra: 1 },
        x: "text",
        y: { pattern: "[a-z]+", default: "abc1" },
        z: { enum: [] },
      },
    },
    [
      ["definition.parameters.q.enum.1", 'enum value "b" must be a whole number'],
      ["definition.parameters.q.default", "default must be a whole number"],
      ["definition.parameters.r.pattern", "pattern is not a valid regular expression"],
      ["definition.parameters.s.pattern", "pattern applies only to string parameters"],
      ["definition.parameters.9x", "does not start with a digit"],
      ["definition.parameters.t.default", 'default must be one of "a", "b"'],
      ["definition.parameters.u.type", "type must be one of string, integer, number, boolean"],
      ["definition.parameters.w.extra", 'unknown field "extra"'],
      ["definition.parameters.x", "x must be an object"],
      ["definition.parameters.y.default", "default must match the pattern [a-z]+"],
      ["definition.parameters.z.enum", "enum must not be empty"],
    ],
  ],
  [
    "parameters named like a built-in or an input",
    { exec: "x", input_adapter: file("input", { file_path: "${input_file}" }), parameters: { input_file: {}, job_id: {}, ok: {} } },
    [
      ["definition.parameters.input_file", 'parameter "input_file" has the same name as an input'],
      ["definition.parameters.job_id", 'parameter "job_id" has the same name as a built-in variable'],
    ],
  ],
  [
    "unknown adapter types, with the known ones listed",
    { exec: "x", input_adapter: { input_type: "intype" }, output_adapter: { output_type: "tcp", output_parameters: {} } },
    [
      ["definition.input_adapter.input_type", 'unknown input_type "intype"; known: file'],
      ["definition.output_adapter.output_type", 'unknown output_type "tcp"; known: file'],
    ],
  ],
  [
    "an invalid adapter does not also make its variable unknown",
    { exec: "x", argv: ["${input_file}", "${output_file}"], input_adapter: { input_type: "ftp" }, output_adapter: file("output", { stream_name: "STDIN" }) },
    [
      ["definition.input_adapter.input_type", 'unknown input_type "ftp"'],
      ["definition.output_adapter.output_parameters.stream_name", "stream_name must be STDOUT or STDERR for an output"],
    ],
  ],
  [
    "bad stream names",
    { exec: "x", input_adapter: file("input", { file_type: "stream", stream_name: "STDOUT" }), output_adapter: file("output", { file_type: "stream" }) },
    [
      ["definition.input_adapter.input_parameters.stream_name", "stream_name must be STDIN for an input"],
      ["definition.output_adapter.output_parameters.stream_name", "stream_name must be STDOUT or STDERR for an output"],
    ],
  ],
  [
    "bad file adapter parameters",
    {
      exec: "x",
      input_adapter: { input_parameters: {} },
      output_adapter: file("output", { file_type: "pipe", chunk_size: "10KB", file_path: "", file_name: "../x" }),
    },
    [
      ["definition.input_adapter.input_type", "input_type is required"],
      ["definition.output_adapter.output_parameters.file_type", 'file_type must be "stream" or "path"'],
      ["definition.output_adapter.output_parameters.file_path", "file_path must not be empty"],
      ["definition.output_adapter.output_parameters.chunk_size", 'unknown field "chunk_size"'],
      ["definition.output_adapter.output_parameters.file_name", "file_name must be a plain file name"],
    ],
  ],
  ["a file adapter that says neither path nor stream", { exec: "x", input_adapter: file("input", {}) }, [["definition.input_adapter.input_parameters", "give either file_path or file_type"]]],
  [
    "a stream with a file_path",
    { exec: "x", input_adapter: file("input", { file_type: "stream", stream_name: "STDIN", file_path: "a" }) },
    [["definition.input_adapter.input_parameters.file_path", "file_path does not apply to a stream"]],
  ],
  ["a path without file_path", { exec: "x", output_adapter: file("output", { file_type: "path" }) }, [["definition.output_adapter.output_parameters.file_path", "file_path is required"]]],
  ["a name that is not the path's variable", { exec: "x", input_adapter: file("input", { file_path: "${a}", name: "b" }) }, [["definition.input_adapter.input_parameters.name", 'name "b" differs']]],
  [
    "an output named like the input",
    { exec: "x", input_adapter: file("input", { file_path: "${input_file}" }), output_adapter: file("output", { file_path: "${input_file}" }) },
    [["definition.output_adapter", 'output "input_file" has the same name as an input']],
  ],
  [
    "a file path built from another file's path or an unknown name",
    { exec: "x", input_adapter: file("input", { file_path: "${workdir}/${output_file}/${nope}" }), output_adapter: file("output", { file_path: "${output_file}" }) },
    [
      ["definition.input_adapter.input_parameters.file_path", 'unknown variable "${output_file}"'],
      ["definition.input_adapter.input_parameters.file_path", 'unknown variable "${nope}"'],
    ],
  ],
  ["a name of only digits", { exec: "x", name: "123" }, [["definition.name", "name must not be only digits"]]],
  ["a name with a bad first character", { exec: "x", name: "-x" }, [["definition.name", "name must start with a letter or digit"]]],
  ["a name too long", { exec: "x", name: "a".repeat(101) }, [["definition.name", "(at most 100)"]]],
  [
    "invalid environment names and values",
    { exec: "x", environment: { "1BAD": "x", "A-B": "y", OK: {}, "": "z" } },
    [
      ["definition.environment.1BAD", "environment names use letters, digits and '_'"],
      ["definition.environment.A-B", "environment names use letters, digits and '_'"],
      ["definition.environment.OK", "an environment value must be a string"],
      ["definition.environment.", "environment names use letters, digits and '_'"],
    ],
  ],
  [
    "bad retries",
    { exec: "x", retries: { count: -1, backoff: -1, factor: 0.5, extra: 1 } },
    [
      ["definition.retries.count", "count must be 0 or more"],
      ["definition.retries.backoff", "backoff must be 0 or more"],
      ["definition.retries.factor", "factor must be 1 or more"],
      ["definition.retries.extra", 'unknown field "extra"'],
    ],
  ],
  ["a fractional retry count", { exec: "x", retries: 1.5 }, [["definition.retries.count", "count must be a whole number"]]],
  ["retries without a count", { exec: "x", retries: { backoff: 2 } }, [["definition.retries.count", "count is required"]]],
  [
    "both spellings with different values",
    {
      exec: "x",
      args: ["a"],
      argv: ["b"],
      input_adapter: { input_type: "file", input_params: { file_path: "a" }, input_parameters: { file_path: "b" } },
      output_adapter: { output_type: "file", output_params: { file_path: "a" }, output_parameters: { file_path: "b" } },
    },
    [
      ["definition.args", "give either argv or args, not both"],
      ["definition.input_adapter.input_params", "give either input_parameters or input_params, not both"],
      ["definition.output_adapter.output_params", "give either output_parameters or output_params, not both"],
    ],
  ],
];

describe("validateDefinition rejects", () => {
  test.each(cases)("%s", (_, raw, want) => {
    const r = validateDefinition(raw);
    expect(r.definition).toBeUndefined();
    expect(r.resolved).toBeUndefined();
    const left = [...r.errors];
    for (const [path, message] of want) {
      const i = left.findIndex((e) => e.path === path && e.message.includes(message));
      expect(i, `no error at ${path} saying ${message}; got ${JSON.stringify(r.errors)}`).toBeGreaterThanOrEqual(0);
      left.splice(i, 1);
    }
    expect(left).toEqual([]);
  });

  test("paths sit under the prefix the caller gives", () => {
    const r = validateDefinition({ exec: "", argv: ["${x}"] }, "objects.3.definition");
    expect(r.errors.map((e) => e.path)).toEqual(["objects.3.definition.exec", "objects.3.definition.argv.0"]);
    expect(validateDefinition({ exec: "x", argv: ["${x}"] }, "d").errors.map((e) => e.path)).toEqual(["d.argv.0"]);
  });
});

test("prototype names are refused, not silently dropped", () => {
  const raw = JSON.parse('{"exec": "/x", "environment": {"__proto__": {"A": "1"}}, "parameters": {"constructor": {"type": "string"}}}');
  const r = validateDefinition(raw);
  expect(r.definition).toBeUndefined();
  expect(r.errors).toContainEqual({ path: "definition.environment.__proto__", message: '"__proto__" is not allowed as a name' });
  expect(r.errors).toContainEqual({ path: "definition.parameters.constructor", message: '"constructor" is not allowed as a name' });
});
