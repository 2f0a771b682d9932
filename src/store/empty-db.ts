/**
 * A new data dir's database, every migration applied, as bytes. scripts/build.ts
 * replaces this module in the compiled binary with one that carries them (made
 * by running the migrations at build time), so a first start writes one file
 * instead of running the schema's 28 statements (~5-8 ms). Run from source,
 * there are none, and the migrations run as usual. Its flue_migrations rows
 * carry the build's time as applied_at: that is when they were applied.
 */
export const emptyDatabase: Uint8Array | undefined = undefined;
