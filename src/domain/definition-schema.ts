/**
 * The canonical shape of a process definition, as valibot schemas.
 *
 * The shape is the seed registry's (`exec`, `application`, `process_type`,
 * `timeout`, `cwd`, `environment`, `argv`, `input_adapter`, `output_adapter`)
 * plus flue's `input_adapters`, `output_adapters`, `name`, `description`, `parameters`, `retries` and `limits`. Alternative
 * spellings are mapped before these schemas run (see definition.ts).
 */
import * as v from "valibot";
import { sizeInBytes } from "./size.ts";

export const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const DEFINITION_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

const text = (what: string) => v.string(`${what} must be a string`);
const nonEmpty = (what: string) => v.pipe(text(what), v.minLength(1, `${what} must not be empty`));

/** Variables every definition may use besides its parameters, inputs and outputs. */
export const BUILTIN_VARIABLES = ["job_id", "workdir", "attempt"] as const;

export const PARAMETER_TYPES = ["string", "integer", "number", "boolean"] as const;
export type ParameterType = (typeof PARAMETER_TYPES)[number];

const scalar = v.union(
  [v.string(), v.number(), v.boolean()],
  "must be a string, a number or a boolean",
);

export const ParameterSchema = v.strictObject({
  type: v.optional(v.picklist(PARAMETER_TYPES, `type must be one of ${PARAMETER_TYPES.join(", ")}`)),
  description: v.optional(text("description")),
  default: v.optional(scalar),
  required: v.optional(v.boolean("required must be true or false")),
  enum: v.optional(v.pipe(v.array(scalar, "enum must be a list"), v.minLength(1, "enum must not be empty"))),
  pattern: v.optional(text("pattern")),
  secret: v.optional(v.boolean("secret must be true or false")),
  /** false: a value may not start with "-", so it cannot pass for an option of the program. */
  options: v.optional(v.boolean("options must be true or false")),
});
export type ParameterSpec = v.InferOutput<typeof ParameterSchema>;

export const RetriesSchema = v.strictObject({
  count: v.pipe(
    v.number("count must be a number"),
    v.integer("count must be a whole number"),
    v.minValue(0, "count must be 0 or more"),
    v.maxValue(100, "count must be at most 100"),
  ),
  backoff: v.optional(
    v.pipe(v.number("backoff must be a number of seconds"), v.minValue(0, "backoff must be 0 or more"), v.maxValue(86400, "backoff must be at most 86400 seconds")),
  ),
  factor: v.optional(v.pipe(v.number("factor must be a number"), v.minValue(1, "factor must be 1 or more"), v.maxValue(10, "factor must be at most 10"))),
});
export type RetriesSpec = v.InferOutput<typeof RetriesSchema>;

/** A whole number from `min` to `max`, for a limit the kernel counts. */
const count = (what: string, min: number, max: number, unit = "") =>
  v.pipe(
    v.number(`${what} must be a number${unit}`),
    v.integer(`${what} must be a whole number${unit}`),
    v.minValue(min, `${what} must be at least ${min}`),
    v.maxValue(max, `${what} must be at most ${max}`),
  );

/** Bytes, as a number or a size such as "512MiB"; stored as written. */
const size = (what: string, min: number, minText: string) =>
  v.pipe(
    v.union([v.number(), v.string()], `${what} must be a number of bytes or a size such as 512MiB`),
    v.check((x) => sizeInBytes(x) !== undefined, `${what} must be a whole number of bytes or a size such as 512MiB`),
    v.check((x) => (sizeInBytes(x) ?? min) >= min, `${what} must be at least ${minText}`),
    v.check((x) => (sizeInBytes(x) ?? 0) <= Number.MAX_SAFE_INTEGER, `${what} is too large`),
  );

/** What one run of the definition may use; the kernel enforces each (prlimit), flue the output. */
export const LimitsSchema = v.strictObject({
  /** Address space (virtual memory) of each process, and the leader's resident set. */
  memory: v.optional(size("memory", 1024 ** 2, "1MiB")),
  /** CPU seconds of each process (RLIMIT_CPU: SIGXCPU, then SIGKILL a second later). */
  cpu_time: v.optional(count("cpu_time", 1, 31_536_000, " of seconds")),
  open_files: v.optional(count("open_files", 1, 1_048_576)),
  /** Processes of the job's user (RLIMIT_NPROC counts per uid, not per job). */
  processes: v.optional(count("processes", 1, 4_194_304)),
  /** Bytes stdout and stderr may each reach; the lower of this and --max-output applies. */
  output_bytes: v.optional(size("output_bytes", 1, "1 byte")),
});
export type LimitsSpec = v.InferOutput<typeof LimitsSchema>;

const adapterParams = v.record(v.string(), v.unknown(), "must be an object");

export const InputAdapterSchema = v.strictObject({
  input_type: nonEmpty("input_type"),
  input_parameters: v.optional(adapterParams),
});
export const OutputAdapterSchema = v.strictObject({
  output_type: nonEmpty("output_type"),
  output_parameters: v.optional(adapterParams),
});

export const DefinitionSchema = v.strictObject({
  name: v.optional(
    v.pipe(
      text("name"),
      v.regex(DEFINITION_NAME, "name must start with a letter or digit and use only letters, digits, '_', '.', '-' (at most 100)"),
      v.check((s) => !/^\d+$/.test(s), "name must not be only digits (it would read as an id)"),
    ),
  ),
  description: v.optional(text("description")),
  exec: nonEmpty("exec"),
  application: v.optional(text("application")),
  process_type: v.optional(v.picklist(["single", "service"], "process_type must be single or service")),
  timeout: v.optional(
    v.nullable(v.pipe(v.number("timeout must be a number of seconds"), v.gtValue(0, "timeout must be more than 0"), v.maxValue(31_536_000, "timeout must be at most a year"))),
  ),
  cwd: v.optional(text("cwd")),
  environment: v.optional(
    v.pipe(
      v.record(v.pipe(v.string(), v.regex(ENV_NAME, "environment names use letters, digits and '_' and do not start with a digit")), text("an environment value"), "environment must be an object of strings"),
    ),
  ),
  argv: v.optional(v.array(text("an argument"), "argv must be a list of strings")),
  input_adapter: v.optional(InputAdapterSchema),
  output_adapter: v.optional(OutputAdapterSchema),
  /** Several inputs or outputs; the single `input_adapter`/`output_adapter` is the seed's shorthand for one. */
  input_adapters: v.optional(v.array(InputAdapterSchema, "input_adapters must be a list")),
  output_adapters: v.optional(v.array(OutputAdapterSchema, "output_adapters must be a list")),
  parameters: v.optional(v.record(v.string(), ParameterSchema, "parameters must be an object")),
  retries: v.optional(RetriesSchema),
  limits: v.optional(LimitsSchema),
});

/** A definition in canonical form, as stored and as returned by the API. */
export type Definition = v.InferOutput<typeof DefinitionSchema>;
