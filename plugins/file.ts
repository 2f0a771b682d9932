/**
 * The seed's `file` adapter: bytes reach the process on a standard stream or
 * as a file whose path is in argv, and leave it the same ways.
 *
 *   {"input_type": "file", "input_parameters": {"file_type": "stream", "stream_name": "STDIN"}}
 *   {"input_type": "file", "input_parameters": {"file_path": "${input_file}"}}
 *
 * A path that is exactly the binding's own variable (`${input_file}`) is a
 * file of that name (or `file_name`, or the upload's name) in the workdir;
 * any other path is a template rendered at stage-in.
 */
import { copyFileSync, constants as fsc, lstatSync, mkdirSync } from "node:fs";
import { dirname, relative } from "node:path";
import * as v from "valibot";
import { defineAdapter, PluginError, type AdapterContext, type ConformanceFixture, type Direction, type FieldProblem } from "flue/plugin";

const FILE_NAME = /^[^/\0]{1,255}$/;
const SOLE_VARIABLE = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;
const STREAMS: Record<Direction, readonly string[]> = { input: ["STDIN"], output: ["STDOUT", "STDERR"] };

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
  name: v.optional(v.pipe(v.string("name must be a string"), v.regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "name must be an identifier (letters, digits, '_')"))),
});
type FileParams = v.InferOutput<typeof FileParams>;

/** "stream" or "path", as given or implied by which field is there. */
const modeOf = (p: FileParams) => p.file_type ?? (p.file_path !== undefined ? "path" : p.stream_name !== undefined ? "stream" : undefined);

/** The problems of a stream binding, and its name. */
function bindStream(p: FileParams, direction: Direction, fallback: string) {
  const problems: FieldProblem[] = [];
  if (!STREAMS[direction].includes((p.stream_name ?? "").toUpperCase())) {
    problems.push({ path: "stream_name", message: `stream_name must be ${STREAMS[direction].join(" or ")} for an ${direction}` });
  } else if (p.file_path !== undefined) {
    problems.push({ path: "file_path", message: "file_path does not apply to a stream" });
  }
  return { name: p.name ?? fallback, problems };
}

/** The problems of a path binding, its name, and its path as a template when it is more than its own variable. */
function bindPath(p: FileParams, fallback: string) {
  if (p.file_path === undefined) return { problems: [{ path: "file_path", message: "file_path is required when file_type is path" }] };
  const sole = SOLE_VARIABLE.exec(p.file_path)?.[1];
  if (p.name !== undefined && sole !== undefined && sole !== p.name) {
    return { problems: [{ path: "name", message: `name "${p.name}" differs from the file_path variable "${sole}"` }] };
  }
  const name = p.name ?? sole ?? fallback;
  return { name, templates: sole === name ? [] : [{ path: "file_path", template: p.file_path }] };
}

/** Where a path binding's file is, inside the workdir (or an --allow-dir), its directory made. */
function placeOf(p: FileParams, ctx: AdapterContext, fileName: string | undefined): string {
  const sole = SOLE_VARIABLE.exec(p.file_path!)?.[1];
  const to = ctx.resolve(sole === ctx.name ? (p.file_name ?? fileName ?? ctx.name) : ctx.render(p.file_path!));
  if (dirname(to) !== ctx.workdir) mkdirSync(dirname(to), { recursive: true });
  return to;
}

const isPlainFile = (path: string) => {
  try {
    return lstatSync(path).isFile();
  } catch {
    return false;
  }
};

export default defineAdapter({
  kind: "adapter",
  type: "file",
  version: "1.0.0",
  description: "A standard stream (STDIN, STDOUT, STDERR), or a file whose path is in argv",
  parameters: FileParams,
  bind(p, direction) {
    const fallback = direction === "input" ? "input_file" : "output_file";
    const mode = modeOf(p);
    if (mode === "stream") return bindStream(p, direction, fallback);
    if (mode === "path") return bindPath(p, fallback);
    return { problems: [{ path: "", message: `give either file_path or file_type "stream" with stream_name (${STREAMS[direction].join(" or ")})` }] };
  },
  input: {
    stageIn(p, ctx, source) {
      if (modeOf(p) === "stream") return source ? { stdin: source.path } : undefined; // an absent stdin input reads as empty
      if (!source) throw new PluginError(`input ${ctx.name} was not given`);
      const to = placeOf(p, ctx, source.fileName);
      // A copy, not a link: a process that changes its input must not change a retry's.
      copyFileSync(source.path, to, fsc.COPYFILE_FICLONE);
      ctx.vars[ctx.name] = to;
    },
  },
  output: {
    prepare(p, ctx) {
      if (modeOf(p) === "path") ctx.vars[ctx.name] = placeOf(p, ctx, undefined);
    },
    stageOut(p, ctx) {
      if (modeOf(p) === "stream") return { stream: p.stream_name!.toUpperCase() as "STDOUT" | "STDERR" };
      const from = ctx.vars[ctx.name];
      if (!isPlainFile(from)) throw new PluginError(`output ${ctx.name} was not produced: no regular file at ${relative(ctx.workdir, from) || from}`);
      // Again now that the process has run: it may have planted a symlink in the path.
      return { path: ctx.resolve(from) };
    },
  },
});

/** The conformance suite's ways to use this adapter: a copy by paths, and one by streams. */
export const conformance: ConformanceFixture = {
  copies: [
    {
      label: "file_path in, file_path out (cp)",
      definition: {
        exec: "/bin/cp",
        argv: ["${in}", "${out}"],
        input_adapters: [{ input_type: "file", input_parameters: { file_path: "${in}" } }],
        output_adapters: [{ output_type: "file", output_parameters: { file_path: "${out}" } }],
      },
    },
    {
      label: "STDIN in, STDOUT out (cat)",
      definition: {
        exec: "/bin/cat",
        input_adapters: [{ input_type: "file", input_parameters: { file_type: "stream", stream_name: "STDIN", name: "in" } }],
        output_adapters: [{ output_type: "file", output_parameters: { file_type: "stream", stream_name: "STDOUT", name: "out" } }],
      },
    },
  ],
};
