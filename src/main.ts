#!/usr/bin/env bun
/**
 * flue's command line: parses arguments and calls the services. Thin by
 * design; everything it does is reachable from the API as well.
 */
import { App } from "./app.ts";
import { runCli } from "./cli/index.ts";
import { existsSync } from "node:fs";
import { ConfigError, flagHelp, loadConfig, storageEnv, type Config } from "./config.ts";
import { createHttp } from "./http/index.ts";
import { startCertProxy, type CertProxy } from "./http/cert-proxy.ts";
import { DataDirLockedError, SchemaTooNewError } from "./store/index.ts";
import { loadPlugins } from "./adapters/loader.ts";
import { PluginLoadError } from "./adapters/registry.ts";
import { VERSION } from "./version.ts";

const HELP = `flue ${VERSION} — a remote process execution engine in one file

Usage:
  flue serve [flags]     run flue: the API, the executor, the admin UI
  flue user add|list|set|remove ...
                         manage users in the data dir (see flue user --help)
  flue token create|list|revoke ...
                         manage API tokens in the data dir (see flue token --help)
  flue --version         print the version
  flue --help            print this help

Flags of serve (each also from the environment variable shown):
${flagHelp()}

On an empty data dir the first admin is FLUE_ADMIN_USER (default admin) with
FLUE_ADMIN_PASSWORD, or a generated password printed once, unless users
exist already (e.g. made with flue user add before the first start).
`;

/** How long requests in flight get to finish once the jobs have settled on shutdown. */
const DRAIN_MS = 500;

function fail(message: string, code = 2): never {
  console.error(`flue: ${message}`);
  process.exit(code);
}

/**
 * HTTPS from --tls-cert/--tls-key. With --tls-client-ca the handshake itself
 * refuses a client without a certificate that CA signed: no request reaches flue.
 */
function tlsOptions(config: Config): Bun.TLSOptions | undefined {
  if (!config.tlsCert || !config.tlsKey) return undefined;
  for (const path of [config.tlsCert, config.tlsKey, config.tlsClientCa]) {
    if (path && !existsSync(path)) fail(`cannot read the TLS file ${path}`);
  }
  const tls: Bun.TLSOptions = { cert: Bun.file(config.tlsCert), key: Bun.file(config.tlsKey) };
  if (config.tlsClientCa) Object.assign(tls, { ca: Bun.file(config.tlsClientCa), requestCert: true, rejectUnauthorized: true });
  return tls;
}

/**
 * Joins the fleet before listening: a flue that cannot join (NATS away, a
 * protocol it may not speak) exits 1 without ever answering as if alone.
 * A single flue skips this entirely and never loads the NATS client.
 */
async function joinFleet(app: App): Promise<void> {
  const cluster = await import("./cluster/index.ts");
  try {
    app.fleet = await cluster.joinFleet(app.config, () => app.selfRecord(), app.store, (request) => app.jobs.handleControl(request), app.executor);
  } catch (e) {
    app.close();
    fail(e instanceof cluster.FleetJoinError ? e.message : `cannot join the fleet: ${(e as Error).message}`, 1);
  }
}

async function serve(args: string[]): Promise<void> {
  let config;
  try {
    config = loadConfig(args, process.env);
  } catch (e) {
    if (e instanceof ConfigError) fail(e.message);
    throw e;
  }
  // Before anything else: a plugin that cannot load stops flue before it opens the data dir.
  const plugins = await loadPlugins(config.pluginsDir, storageEnv(config, process.env)).catch((e) => fail(e instanceof PluginLoadError ? e.message : `cannot load plugins: ${(e as Error).message}`, 1));
  let app: App;
  try {
    app = new App(config, { plugins });
  } catch (e) {
    if (e instanceof SchemaTooNewError || e instanceof DataDirLockedError) fail(e.message, 1);
    fail(`cannot open the data dir ${config.dataDir}: ${(e as Error).message}`, 1);
  }
  const http = createHttp(app);
  let server: ReturnType<typeof Bun.serve> | undefined;
  let proxy: CertProxy | undefined;
  // Handlers first: a SIGTERM that arrives while flue starts must not kill it uncleanly.
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      console.log(`flue: ${signal} again, stopping running jobs now`);
      await app.stop(0);
      process.exit(130);
    }
    stopping = true;
    const running = app.executor.busy;
    console.log(`flue: ${signal}: no new jobs start; waiting up to ${config.shutdownGraceMs / 1000} s for ${running} running`);
    // Stop listening now, but answer requests in flight while the jobs settle.
    proxy?.stop(false);
    const drained = server?.stop() ?? Promise.resolve();
    await app.executor.shutdown(config.shutdownGraceMs);
    // Long polls (?wait=) on jobs that just ended are being answered; event
    // streams and other long polls never end by themselves: close them.
    await Promise.race([drained, Bun.sleep(DRAIN_MS)]);
    await server?.stop(true);
    proxy?.stop(true);
    await app.stop(0);
    console.log("flue: stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
  if (config.nats.length) await joinFleet(app);

  // With --tls-client-user, the public port is a proxy that knows each connection's certificate.
  const byCertificate = config.tlsClientUser !== "none";
  const tls = tlsOptions(config);
  try {
    server = Bun.serve({
      hostname: byCertificate ? "127.0.0.1" : config.host,
      port: byCertificate ? 0 : config.port,
      // The server goes in as the env so requests know their remote address (audit, throttling).
      fetch: byCertificate
        ? (req, inner) => {
            const peer = proxy?.peer(inner.requestIP(req));
            if (!peer) return new Response("connect through flue's TLS port\n", { status: 421 });
            return http.fetch(req, { server: { requestIP: () => ({ address: peer.address }) }, certificateUser: () => peer.cn });
          }
        : (req, server) => http.fetch(req, { server }),
      // Bodies past --max-body get flue's own 413; this is only the outer bound.
      maxRequestBodySize: config.maxBodyBytes + 1024 * 1024,
      // Long polls (?wait=) and event streams stay open; streams send heartbeats.
      idleTimeout: 0,
      tls: byCertificate ? undefined : tls,
    });
    if (byCertificate) {
      proxy = await startCertProxy({ host: config.host, port: config.port, cert: config.tlsCert!, key: config.tlsKey!, ca: config.tlsClientCa!, innerPort: server.port! });
    }
  } catch (e) {
    server?.stop(true);
    app.close(); // give the data dir back
    fail(`cannot listen on ${config.host}:${config.port}: ${(e as Error).message}`, 1);
  }
  app.start();
  // After listening: the first admin's password hash takes a good part of a second.
  const admin = await app.auth.ensureAdmin(config.adminUser, config.adminPassword);

  const listening = proxy ?? { hostname: server.hostname, port: server.port };
  const shown = listening.hostname?.includes(":") ? `[${listening.hostname}]` : listening.hostname;
  const lines = [
    `flue ${VERSION} listening on ${config.tlsCert ? "https" : "http"}://${shown}:${listening.port}`,
    `  data dir: ${config.dataDir}`,
    `  instance: ${app.instance.id}, ${config.slots} slots`,
    `  containment: ${app.executor.containmentKind}${app.executor.containmentReason ? ` (${app.executor.containmentReason})` : ""}`,
  ];
  if (config.labels.length) lines.push(`  labels: ${config.labels.join(", ")}`);
  if (app.fleet) lines.push(`  fleet: joined on ${app.fleet.description}`);
  if (admin) {
    lines.push(
      admin.generatedPassword
        ? `  admin: ${admin.username} / ${admin.generatedPassword}  (generated; shown only this once)`
        : `  admin: ${admin.username} (password from FLUE_ADMIN_PASSWORD)`,
    );
  }
  console.log(lines.join("\n"));

}

const [command, ...rest] = process.argv.slice(2);
switch (command) {
  case "serve":
    await serve(rest);
    break;
  case "user":
  case "token":
    process.exitCode = await runCli(command, rest);
    break;
  case "--version":
  case "-v":
  case "version":
    console.log(VERSION);
    break;
  case undefined:
  case "--help":
  case "-h":
  case "help":
    console.log(HELP);
    break;
  default:
    fail(`unknown command "${command}"; see flue --help`);
}
