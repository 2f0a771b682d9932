/**
 * fast-check arbitraries for valid process definitions in canonical spelling,
 * and a way to rewrite one in the seed's alternative spellings.
 */
import fc from "fast-check";

type Json = Record<string, any>;

// Prefixes keep parameter, input and output names apart, so a generated
// definition never collides with itself or with a built-in variable.
const paramName = fc.stringMatching(/^p_[a-z0-9_]{0,6}$/);
const envName = fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,7}$/);
const plain = fc.string({ maxLength: 10 }).map((s) => s.replaceAll("$", ""));

const stringParam = fc.oneof(
  fc.record(
    { type: fc.constant("string"), default: plain, required: fc.boolean(), secret: fc.boolean(), description: plain },
    { requiredKeys: [] },
  ),
  fc.uniqueArray(plain, { minLength: 1, maxLength: 4 }).chain((values) =>
    fc.record({ type: fc.constant("string"), enum: fc.constant(values), default: fc.constantFrom(...values) }, { requiredKeys: ["enum"] }),
  ),
  fc.record({ pattern: fc.constant("[a-z]+"), default: fc.stringMatching(/^[a-z]{1,6}$/) }, { requiredKeys: ["pattern"] }),
);
const integerParam = fc.oneof(
  fc.record({ type: fc.constant("integer"), default: fc.integer(), required: fc.boolean() }, { requiredKeys: ["type"] }),
  fc.uniqueArray(fc.integer({ min: -5, max: 5 }), { minLength: 1, maxLength: 4 }).chain((values) =>
    fc.record({ type: fc.constant("integer"), enum: fc.constant(values), default: fc.constantFrom(...values) }, { requiredKeys: ["type", "enum"] }),
  ),
);
const numberParam = fc.record({ type: fc.constant("number"), default: fc.double({ noNaN: true, noDefaultInfinity: true }) }, { requiredKeys: ["type"] });
const booleanParam = fc.record({ type: fc.constant("boolean"), default: fc.boolean() }, { requiredKeys: ["type"] });
const parameterSpec = fc.oneof(stringParam, integerParam, numberParam, booleanParam);

const inputAdapter = fc.oneof(
  fc.constant({ name: "input_file", adapter: { input_type: "file", input_parameters: { file_type: "stream", stream_name: "STDIN" } } }),
  fc.constant({ name: "input_file", adapter: { input_type: "file", input_parameters: { file_path: "${input_file}" } } }),
  fc.constant({ name: "in_src", adapter: { input_type: "file", input_parameters: { file_path: "${in_src}", file_name: "src.txt" } } }),
  fc.constant({ name: "input_file", adapter: { input_type: "file", input_parameters: { file_type: "path", file_path: "in.dat" } } }),
);
const outputAdapter = fc.oneof(
  fc.constantFrom("STDOUT", "STDERR").map((stream) => ({
    name: "output_file",
    adapter: { output_type: "file", output_parameters: { file_type: "stream", stream_name: stream } },
  })),
  fc.constant({ name: "output_file", adapter: { output_type: "file", output_parameters: { file_path: "${output_file}" } } }),
  fc.constant({ name: "out_dst", adapter: { output_type: "file", output_parameters: { file_path: "${out_dst}" } } }),
  fc.constant({ name: "output_file", adapter: { output_type: "file", output_parameters: { file_path: "${workdir}/result-${job_id}.txt" } } }),
);

/** A template over the given names: literal text, references and `$${` escapes. */
export const templateOver = (names: string[]) =>
  fc
    .array(fc.oneof(plain, fc.constantFrom(...names).map((n) => `\${${n}}`), fc.constant("$${")), { maxLength: 4 })
    .map((parts) => parts.join(""));

/** A valid definition in canonical spelling. */
export const validDefinition: fc.Arbitrary<Json> = fc
  .record({
    params: fc.dictionary(paramName, parameterSpec, { maxKeys: 4 }),
    input: fc.option(inputAdapter, { nil: undefined }),
    output: fc.option(outputAdapter, { nil: undefined }),
  })
  .chain(({ params, input, output }) => {
    const names = ["job_id", "workdir", "attempt", ...Object.keys(params), ...(input ? [input.name] : []), ...(output ? [output.name] : [])];
    const t = templateOver(names);
    return fc
      .record(
        {
          exec: fc.constantFrom("/usr/bin/tr", "someproc", "/usr/local/bin/ffmpeg", "/bin/echo"),
          name: fc.stringMatching(/^[a-z][a-z0-9_.-]{0,20}$/),
          description: plain,
          application: plain,
          process_type: fc.constantFrom("single", "service"),
          timeout: fc.oneof(fc.constant(null), fc.integer({ min: 1, max: 86400 }), fc.double({ min: 0.001, max: 3600, noNaN: true })),
          cwd: t,
          environment: fc.dictionary(envName, t, { maxKeys: 3 }),
          argv: fc.array(fc.oneof(t, fc.integer({ min: 0, max: 99 }).map(String)), { maxLength: 6 }),
          retries: fc.record(
            { count: fc.integer({ min: 0, max: 100 }), backoff: fc.double({ min: 0, max: 60, noNaN: true }), factor: fc.double({ min: 1, max: 10, noNaN: true }) },
            { requiredKeys: ["count"] },
          ),
          limits: fc.record(
            {
              memory: fc.oneof(fc.integer({ min: 1024 ** 2, max: 2 ** 40 }), fc.constantFrom("64MiB", "1GB", "1.5GiB")),
              cpu_time: fc.integer({ min: 1, max: 86400 }),
              open_files: fc.integer({ min: 1, max: 65536 }),
              processes: fc.integer({ min: 1, max: 4096 }),
              output_bytes: fc.oneof(fc.integer({ min: 1, max: 2 ** 40 }), fc.constantFrom("1000", "10KB", "512MiB")),
            },
            { requiredKeys: [] },
          ),
        },
        { requiredKeys: ["exec"] },
      )
      .map((d: Json) => {
        if (Object.keys(params).length) d.parameters = params;
        if (input) d.input_adapter = input.adapter;
        if (output) d.output_adapter = output.adapter;
        return d;
      });
  });

/** Picks, key by key, the seed's other spelling of a canonical definition. */
export const respelled = (d: Json): fc.Arbitrary<Json> =>
  fc.record({ args: fc.boolean(), inParams: fc.boolean(), outParams: fc.boolean(), numbers: fc.boolean(), retriesAsCount: fc.boolean() }).map((pick) => {
    const out: Json = structuredClone(d);
    if (pick.args && out.argv) {
      out.args = pick.numbers ? out.argv.map((a: string) => (/^(0|[1-9]\d*)$/.test(a) ? Number(a) : a)) : out.argv;
      delete out.argv;
    }
    if (pick.inParams && out.input_adapter) {
      out.input_adapter.input_params = out.input_adapter.input_parameters;
      delete out.input_adapter.input_parameters;
    }
    if (pick.outParams && out.output_adapter) {
      out.output_adapter.output_params = out.output_adapter.output_parameters;
      delete out.output_adapter.output_parameters;
    }
    if (pick.retriesAsCount && out.retries && Object.keys(out.retries).length === 1) out.retries = out.retries.count;
    return out;
  });
