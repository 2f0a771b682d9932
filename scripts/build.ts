/**
 * Compiles flue into one executable, dist/flue: the runtime, the code, the
 * migrations, the views and their static assets. Nothing beside it is read
 * at run time (no .env, no bunfig.toml, no package.json from the cwd).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { renderMigrations } from "./gen-migrations.ts";

const root = join(import.meta.dir, "..");
const outfile = process.argv[2] ?? join(root, "dist/flue");

if ((await Bun.file(join(root, "src/store/migrations.gen.ts")).text()) !== renderMigrations()) {
  console.error("build: src/store/migrations.gen.ts is stale; run `bun run db:generate`");
  process.exit(1);
}
mkdirSync(join(outfile, ".."), { recursive: true });
const began = performance.now();
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
  minify: true,
});
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}
const size = Bun.file(outfile).size;
console.log(`build: ${outfile} (${(size / 1e6).toFixed(1)} MB) in ${((performance.now() - began) / 1000).toFixed(1)} s`);
