import * as v from "valibot";
import type { FieldError } from "./errors.ts";

/** Turns valibot issues into field errors with dotted paths under `prefix`. */
export function issuesToFields(issues: readonly v.BaseIssue<unknown>[], prefix: string): FieldError[] {
  return issues.map((issue) => {
    const dot = v.getDotPath(issue);
    let message = issue.message;
    // valibot names an unknown key in `input` of a strict object's issue.
    if (issue.kind === "schema" && issue.type === "strict_object" && issue.expected === "never") {
      message = `unknown field "${issue.path?.at(-1)?.key as string}"`;
    }
    return { path: join(prefix, dot ?? ""), message };
  });
}

export function join(prefix: string, path: string | number): string {
  if (path === "") return prefix;
  return prefix ? `${prefix}.${path}` : String(path);
}
