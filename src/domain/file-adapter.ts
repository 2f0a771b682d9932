/**
 * The seed's `file` adapter: bytes reach the process on a standard stream or
 * as a file whose path is in argv, and leave it the same ways.
 *
 *   {"input_type": "file", "input_parameters": {"file_type": "stream", "stream_name": "STDIN"}}
 *   {"input_type": "file", "input_parameters": {"file_path": "${input_file}"}}
 */
import * as v from "valibot";
import { IDENT } from "./definition-schema.ts";
import type { FieldError } from "./errors.ts";
import { issuesToFields, join } from "./issues.ts";
import { parseTemplate, soleVariable } from "./template.ts";

export type Direction = "input" | "output";

/** How one input or output is bound to the process, after validation. */
export type Binding =
  | { name: string; mode: "stream"; stream: "STDIN" | "STDOUT" | "STDERR" }
  | { name: string; mode: "path"; path: string; fileName?: string };

const FILE_NAME = /^[^/\0]{1,255}$/;

const FileParams = v.strictObject({
  file_type: v.optional(v.picklist(["stream", "path"], 'file_type must be "stream" or "path"')),
  stream_name: v.optional(v.string("stream_name must be a string")),
  file_path: v.optional(v.pipe(v.string("file_path must be a string"), v.minLength(1, "file_path must not be empty"))),
  file_name: v.optional(
    v.pipe(
      v.string("file_name must be a string"),
      v.regex(FILE_NAME, "file_name must be a plain file name without '/'"),
      v.check((s) => s !== "." && s !== "..", "file_name must be a plain file name"),
    ),
  ),
  name: v.optional(v.pipe(v.string("name must be a string"), v.regex(IDENT, "name must be an identifier (letters, digits, '_')"))),
});

const STREAMS: Record<Direction, readonly string[]> = { input: ["STDIN"], output: ["STDOUT", "STDERR"] };

export const ADAPTER_TYPES = ["file"] as const;

/**
 * Validates the parameters of a `file` adapter and returns its binding, or
 * every problem found, each with its path under `at`.
 */
export function bindFileAdapter(
  direction: Direction,
  params: unknown,
  at: string,
): { binding?: Binding; errors: FieldError[] } {
  const parsed = v.safeParse(FileParams, params ?? {}, { abortEarly: false });
  if (!parsed.success) return { errors: issuesToFields(parsed.issues, at) };
  const p = parsed.output;
  const fileType = p.file_type ?? (p.file_path !== undefined ? "path" : p.stream_name !== undefined ? "stream" : undefined);
  const fallbackName = direction === "input" ? "input_file" : "output_file";
  if (fileType === undefined) {
    return { errors: [{ path: at, message: `give either file_path or file_type "stream" with stream_name (${STREAMS[direction].join(" or ")})` }] };
  }
  if (fileType === "stream") {
    const stream = (p.stream_name ?? "").toUpperCase();
    if (!STREAMS[direction].includes(stream)) {
      return { errors: [{ path: join(at, "stream_name"), message: `stream_name must be ${STREAMS[direction].join(" or ")} for an ${direction}` }] };
    }
    if (p.file_path !== undefined) {
      return { errors: [{ path: join(at, "file_path"), message: "file_path does not apply to a stream" }] };
    }
    return { errors: [], binding: { name: p.name ?? fallbackName, mode: "stream", stream: stream as "STDIN" } };
  }
  if (p.file_path === undefined) return { errors: [{ path: join(at, "file_path"), message: "file_path is required when file_type is path" }] };
  try {
    parseTemplate(p.file_path);
  } catch (e) {
    return { errors: [{ path: join(at, "file_path"), message: (e as Error).message }] };
  }
  const sole = soleVariable(p.file_path);
  if (p.name !== undefined && sole !== undefined && sole !== p.name) {
    return { errors: [{ path: join(at, "name"), message: `name "${p.name}" differs from the file_path variable "${sole}"` }] };
  }
  const binding: Binding = { name: p.name ?? sole ?? fallbackName, mode: "path", path: p.file_path };
  if (p.file_name !== undefined) binding.fileName = p.file_name;
  return { errors: [], binding };
}
