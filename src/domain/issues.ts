import * as v from "valibot";
import type { FieldError } from "./errors.ts";

/** Turns valibot issues into field errors with dotted paths under `prefix`. */
export function issuesToFields(issues: readonly v.BaseIssue<unknown>[], prefix: string): FieldError[] {
  return issues.map((issue) => {
    const dot = v.getDotPath(issue);
    let message = issue.message;
    // valibot's own strict-object messages ("Invalid key: Expected \"exec\" but
    // received undefined") are not for users; say what is wrong with the field.
    if (issue.kind === "schema" && issue.type === "strict_object") {
      const key = issue.path?.at(-1)?.key as string;
      if (issue.expected === "never") message = `unknown field "${key}"`;
      else if (issue.expected === "Object") message = `${key} must be an object`;
      else if (issue.received === "undefined") message = `${key} is required`;
    }
    return { path: join(prefix, dot ?? ""), message };
  });
}

export function join(prefix: string, path: string | number): string {
  if (path === "") return prefix;
  return prefix ? `${prefix}.${path}` : String(path);
}
