/** Users as the API takes them: who they are, how they sign in, what they may do. */
import * as v from "valibot";
import { invalid } from "./errors.ts";
import { issuesToFields } from "./issues.ts";

export const ROLES = ["admin", "submitter", "viewer"] as const;
export type UserRole = (typeof ROLES)[number];

const username = v.pipe(
  v.string("username must be a string"),
  v.regex(/^[A-Za-z0-9_.@-]{1,64}$/, "1 to 64 letters, digits, '_', '.', '@', '-'"),
);
const password = v.pipe(v.string("password must be a string"), v.minLength(8, "at least 8 characters"), v.maxLength(1024, "at most 1024 characters"));
const role = v.picklist(ROLES, `role must be one of ${ROLES.join(", ")}`);
const seesAllJobs = v.boolean("sees_all_jobs must be true or false");

export const NewUserSchema = v.strictObject({ username, password, role, sees_all_jobs: v.optional(seesAllJobs) });
export const UserPatchSchema = v.strictObject({ password: v.optional(password), role: v.optional(role), sees_all_jobs: v.optional(seesAllJobs) });

export type NewUser = v.InferOutput<typeof NewUserSchema>;
export type UserPatch = v.InferOutput<typeof UserPatchSchema>;

/** Parses a body with a schema, or throws a 400 naming every bad field. */
export function parseBody<S extends v.GenericSchema>(schema: S, body: unknown, what: string): v.InferOutput<S> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw invalid("the body must be a JSON object", [{ path: "", message: "expected an object" }]);
  const parsed = v.safeParse(schema, body, { abortEarly: false });
  if (!parsed.success) throw invalid(`the ${what} is not valid`, issuesToFields(parsed.issues, ""));
  return parsed.output;
}
