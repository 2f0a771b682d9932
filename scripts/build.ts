/**
 * Compiles flue into one executable, dist/flue: the runtime, the code, the
 * migrations, the views and their static assets. Nothing beside it is read
 * at run time (no .env, no bunfig.toml, no package.json from the cwd).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../src/store/db.ts";
import { renderMigrations } from "./gen-migrations.ts";

const root = join(import.meta.dir, "..");
const outfile = process.argv[2] ?? join(root, "dist/flue");

if ((await Bun.file(join(root, "src/store/migrations.gen.ts")).text()) !== renderMigrations()) {
  console.error("build: src/store/migrations.gen.ts is stale; run `bun run db:generate`");
  process.exit(1);
}
mkdirSync(join(outfile, ".."), { recursive: true });
const began = performance.now();

/** A new data dir's database, made by the migrations themselves (see src/store/empty-db.ts). */
function emptyDatabase(): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), "flue-build-"));
  try {
    openDatabase(join(dir, "flue.db")).$client.close(); // the last close folds the WAL in
    return readFileSync(join(dir, "flue.db"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const emptyDb = Buffer.from(emptyDatabase()).toString("base64");
const result = await Bun.build({
  // A worker's code must be an entrypoint of its own (Bun does not follow `new Worker(url)`).
  entrypoints: [join(root, "src/main.ts"), join(root, "src/store/checkpointer.ts")],
  compile: {
    outfile,
    autoloadDotenv: false,
    autoloadBunfig: false,
    autoloadTsconfig: false,
    autoloadPackageJson: false,
  },
  format: "esm",
  bytecode: true,
  plugins: [
    {
      name: "empty-database",
      setup(b) {
        b.onLoad({ filter: /src\/store\/empty-db\.ts$/ }, () => ({
          contents: `export const emptyDatabase = Uint8Array.fromBase64(${JSON.stringify(emptyDb)});`,
          loader: "ts",
        }));
      },
    },
  ],
  minify: true,
});
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}
const size = Bun.file(outfile).size;
console.log(`build: ${outfile} (${(size / 1e6).toFixed(1)} MB) in ${((performance.now() - began) / 1000).toFixed(1)} s`);
