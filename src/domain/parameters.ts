/**
 * Declared job parameters: checking a declaration, and checking the values
 * a job gives against it.
 */
import type { ParameterSpec, ParameterType } from "./definition-schema.ts";
import type { FieldError } from "./errors.ts";
import { join } from "./issues.ts";

export type ParameterValue = string | number | boolean;

function compilePattern(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`, "u");
}

function typeOf(spec: ParameterSpec): ParameterType {
  return spec.type ?? "string";
}

/** Why a value does not fit a parameter, or undefined when it does. */
function misfit(spec: ParameterSpec, value: unknown): string | undefined {
  const type = typeOf(spec);
  switch (type) {
    case "string":
      if (typeof value !== "string") return "must be a string";
      break;
    case "integer":
      if (typeof value !== "number" || !Number.isSafeInteger(value)) return "must be a whole number";
      break;
    case "number":
      if (typeof value !== "number" || !Number.isFinite(value)) return "must be a number";
      break;
    case "boolean":
      if (typeof value !== "boolean") return "must be true or false";
      break;
  }
  if (spec.enum && !spec.enum.includes(value as ParameterValue)) {
    return `must be one of ${spec.enum.map((e) => JSON.stringify(e)).join(", ")}`;
  }
  if (spec.pattern !== undefined && typeof value === "string" && !compilePattern(spec.pattern).test(value)) {
    return `must match the pattern ${spec.pattern}`;
  }
  if (typeof value === "string" && value.includes("\0")) return "must not contain a NUL byte";
  // A negative number would read as an option just the same.
  if (spec.options === false && (typeof value === "string" || typeof value === "number") && String(value).startsWith("-")) {
    return 'must not start with "-" (the parameter declares options: false)';
  }
  return undefined;
}

/** Problems in a parameter declaration itself. */
export function checkParameterSpec(spec: ParameterSpec, at: string): FieldError[] {
  const errors: FieldError[] = [];
  if (spec.pattern !== undefined) {
    if (typeOf(spec) !== "string") errors.push({ path: join(at, "pattern"), message: "pattern applies only to string parameters" });
    try {
      compilePattern(spec.pattern);
    } catch (e) {
      errors.push({ path: join(at, "pattern"), message: `pattern is not a valid regular expression: ${(e as Error).message}` });
      return errors;
    }
  }
  spec.enum?.forEach((value, i) => {
    const why = misfit({ ...spec, enum: undefined }, value);
    if (why) errors.push({ path: join(at, `enum.${i}`), message: `enum value ${JSON.stringify(value)} ${why}` });
  });
  if (spec.default !== undefined) {
    const why = misfit(spec, spec.default);
    if (why) errors.push({ path: join(at, "default"), message: `default ${why}` });
  }
  return errors;
}

/** Reads a form field's text as the parameter's type, when it reads cleanly. */
function coerce(spec: ParameterSpec, value: unknown): unknown {
  if (typeof value !== "string") return value;
  const type = typeOf(spec);
  if ((type === "integer" || type === "number") && value.trim() !== "" && Number.isFinite(Number(value))) return Number(value);
  if (type === "boolean" && (value === "true" || value === "false")) return value === "true";
  return value;
}

/**
 * Checks a job's parameters against the declaration: unknown names, missing
 * required ones, types, enums and patterns. Fills defaults. With `fromText`,
 * values given as text (form fields) are read as their declared type.
 */
export function checkJobParameters(
  declared: Record<string, ParameterSpec>,
  given: unknown,
  at = "parameters",
  fromText = false,
): { values: Record<string, ParameterValue>; errors: FieldError[] } {
  const values: Record<string, ParameterValue> = {};
  const errors: FieldError[] = [];
  if (given !== undefined && given !== null && (typeof given !== "object" || Array.isArray(given))) {
    return { values, errors: [{ path: at, message: "parameters must be an object" }] };
  }
  const input = (given ?? {}) as Record<string, unknown>;
  for (const name of Object.keys(input)) {
    if (!Object.hasOwn(declared, name)) {
      const names = Object.keys(declared);
      errors.push({ path: join(at, name), message: `unknown parameter; ${names.length ? `declared: ${names.join(", ")}` : "this definition declares none"}` });
    }
  }
  for (const [name, spec] of Object.entries(declared)) {
    let value = input[name];
    if (value === undefined || value === null) {
      if (spec.default !== undefined) values[name] = spec.default;
      else if (spec.required) errors.push({ path: join(at, name), message: "is required" });
      continue;
    }
    if (fromText) value = coerce(spec, value);
    const why = misfit(spec, value);
    if (why) errors.push({ path: join(at, name), message: why });
    else values[name] = value as ParameterValue;
  }
  return { values, errors };
}

/** A copy with every secret parameter's value masked, for display. */
export function maskSecrets(
  declared: Record<string, ParameterSpec>,
  values: Record<string, ParameterValue>,
): Record<string, ParameterValue> {
  let masked: Record<string, ParameterValue> | undefined;
  for (const [name, spec] of Object.entries(declared)) {
    if (spec.secret && Object.hasOwn(values, name)) {
      masked ??= { ...values };
      masked[name] = "********";
    }
  }
  return masked ?? values;
}
