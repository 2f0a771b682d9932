/**
 * Flags and environment → one validated Config. Every flag `--some-flag`
 * may also come from `FLUE_SOME_FLAG`; a flag wins over the environment.
 */
import { accessSync, constants } from "node:fs";
import { resolve } from "node:path";
import { parseSizeText } from "./domain/index.ts";
import { hostAccounts, resolveRunAs, type RunAs } from "./executor/index.ts";

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  slots: number;
  killGraceMs: number;
  shutdownGraceMs: number;
  maxOutputBytes: number;
  maxBodyBytes: number;
  allowDirs: string[];
  allowExec: string[];
  denyExec: string[];
  containment: "auto" | "process-group";
  /** Whom jobs run as; as root, `nobody` unless --run-as says otherwise. */
  runAs: RunAs;
  /** PEM files; with both, flue serves HTTPS. With a client CA, only clients holding a certificate it signed connect. */
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
  /** "cn": a client certificate's subject CN names the flue user it signs in as. */
  tlsClientUser: "none" | "cn";
  adminUser?: string;
  adminPassword?: string;
  /** A directory of plugin files (--plugins) loaded at start, after the built-ins. */
  pluginsDir?: string;
  /** What this instance provides: the `application` labels of the definitions it may run. */
  labels: string[];
  /** NATS servers of the fleet; none: flue is a single instance and never loads the NATS client. */
  nats: string[];
  natsUser?: string;
  natsPassword?: string;
  natsToken?: string;
  /** A .creds file (JWT and nkey seed), or an nkey seed file. */
  natsCreds?: string;
  natsNkey?: string;
  /** PEM CA file: talk TLS to NATS and trust servers it signed. */
  natsTlsCa?: string;
  /** Copies a NATS cluster keeps of each of the fleet's streams and buckets; none: as they were made (one). */
  natsReplicas?: number;
  /** How often this instance tells the fleet it is alive. */
  heartbeatMs: number;
  /** Silence after which peers call an instance LOST; 0: three heartbeats and a second. */
  lostAfterMs: number;
  /** How long a running job's message stays unacknowledged before the fleet redelivers it (ack_wait). */
  failoverAfterMs: number;
  /** How long the fleet's events stream keeps events (an instance away longer misses what is older). */
  eventsMaxAgeMs: number;
}

export class ConfigError extends Error {}

interface FlagSpec {
  key: keyof Config;
  help: string;
  default: string;
  parse: (text: string, flag: string) => Config[keyof Config];
}

const TIME_UNITS: Record<string, number> = { "": 1000, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function integer(min: number, max: number) {
  return (text: string, flag: string) => {
    // Number() reads "" and " " as 0 and takes "0x1F40" and "1e3"; only plain digits are a port or a count.
    const n = /^\d+$/.test(text.trim()) ? Number(text) : Number.NaN;
    if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${flag} must be a whole number from ${min} to ${max}, not "${text}"`);
    return n;
  };
}

/** "512MiB", "1GB", "1048576" → bytes. */
export function parseSize(text: string, flag: string): number {
  const bytes = parseSizeText(text);
  if (bytes === undefined) throw new ConfigError(`${flag} must be a size such as 512MiB or 1GB, not "${text}"`);
  return bytes;
}

/** "30s", "2m", "500ms", "5" (seconds) → milliseconds. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = m ? TIME_UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new ConfigError(`${flag} must be a duration such as 30s, 2m or 500ms, not "${text}"`);
  return Math.round(Number(m[1]) * unit);
}

const optionalPath = (text: string) => (text.trim() === "" ? undefined : resolve(text.trim()));
/** A comma-separated list, as written. */
const names = (text: string) => text.split(",").map((s) => s.trim()).filter(Boolean);
const list = (text: string) => names(text).map((p) => resolve(p));
const optionalText = (text: string) => (text === "" ? undefined : text);

/** A label becomes a NATS subject token when jobs are queued by label: no dots, spaces or wildcards. */
function labels(text: string, flag: string): string[] {
  const bad = names(text).find((l) => !/^[A-Za-z0-9_+-]{1,64}$/.test(l));
  if (bad !== undefined) throw new ConfigError(`${flag}: "${bad}" is not a label: 1 to 64 letters, digits, '_', '+', '-'`);
  return [...new Set(names(text))];
}

/** nats://host:port, tls://host:port or host:port, comma-separated. */
function natsUrls(text: string, flag: string): string[] {
  for (const url of names(text)) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(url.includes("://") ? url : `nats://${url}`);
    } catch {}
    if (!parsed || !["nats:", "tls:"].includes(parsed.protocol) || !parsed.hostname) {
      throw new ConfigError(`${flag}: "${url}" is not a NATS server URL such as nats://127.0.0.1:4222`);
    }
  }
  return names(text);
}

/** A file flue must read at start, checked now so a typo is a configuration error, not a failed connection. */
function readableFile(text: string, flag: string): string | undefined {
  const path = optionalPath(text);
  if (path === undefined) return undefined;
  try {
    accessSync(path, constants.R_OK);
  } catch {
    throw new ConfigError(`${flag}: cannot read ${path}`);
  }
  return path;
}

/** One of a few words, as written; anything else names the flag and the words. */
function choice(...words: string[]) {
  return (text: string, flag: string) => {
    if (!words.includes(text)) throw new ConfigError(`${flag} must be ${words.slice(0, -1).join(", ")} or ${words.at(-1)}, not "${text}"`);
    return text as Config[keyof Config];
  };
}

export const FLAGS: Record<string, FlagSpec> = {
  host: { key: "host", help: "address to listen on", default: "127.0.0.1", parse: (t) => t },
  port: { key: "port", help: "port to listen on (0 picks a free one)", default: "8000", parse: integer(0, 65535) },
  "data-dir": { key: "dataDir", help: "where the database and job files live", default: "./flue-data", parse: (t) => resolve(t) },
  slots: { key: "slots", help: "jobs run at once", default: String(navigator.hardwareConcurrency), parse: integer(1, 4096) },
  "kill-grace": { key: "killGraceMs", help: "time between SIGTERM and SIGKILL when a job is stopped", default: "5s", parse: parseDuration },
  "shutdown-grace": { key: "shutdownGraceMs", help: "time running jobs get to finish on SIGTERM/SIGINT", default: "30s", parse: parseDuration },
  "max-output": { key: "maxOutputBytes", help: "bytes a job's stdout or stderr may reach", default: "1GiB", parse: parseSize },
  "max-body": { key: "maxBodyBytes", help: "largest request body accepted", default: "256MiB", parse: parseSize },
  "allow-dir": { key: "allowDirs", help: "comma-separated directories a definition's paths may use besides the job's workdir", default: "", parse: list },
  // Kept as written (a trailing "/" marks a directory); the executor resolves them to real paths.
  "allow-exec": { key: "allowExec", help: "comma-separated executables, and directories ending in /, definitions may run (none: anything)", default: "", parse: names },
  "deny-exec": { key: "denyExec", help: "comma-separated executables and directories (ending in /) definitions may never run, e.g. /bin/sh,/usr/bin/env", default: "", parse: names },
  containment: {
    key: "containment",
    help: "auto: a cgroup per job where cgroup v2 allows, else process groups; process-group: never cgroups",
    default: "auto",
    parse: choice("auto", "process-group"),
  },
  "run-as": {
    key: "runAs",
    help: "user, user:group or uid range (e.g. 61184-61439: one uid per slot) jobs run as; when flue is root: nobody unless given, root only if given",
    default: "",
    parse: (t, flag) => {
      try {
        return resolveRunAs(t, flag, hostAccounts());
      } catch (e) {
        throw new ConfigError((e as Error).message);
      }
    },
  },
  plugins: { key: "pluginsDir", help: "directory whose .ts/.js files (adapters, storages) flue loads at start; any bad one stops it", default: "", parse: optionalPath },
  "tls-cert": { key: "tlsCert", help: "PEM certificate (chain) file; with --tls-key, serve HTTPS", default: "", parse: optionalPath },
  "tls-key": { key: "tlsKey", help: "PEM private key file for --tls-cert", default: "", parse: optionalPath },
  "tls-client-ca": { key: "tlsClientCa", help: "PEM CA file; refuse TLS clients without a certificate it signed", default: "", parse: optionalPath },
  "tls-client-user": {
    key: "tlsClientUser",
    help: "cn: a client certificate signs in as the flue user its subject's CN names; none: users still sign in",
    default: "none",
    parse: choice("cn", "none"),
  },
  labels: { key: "labels", help: "comma-separated application labels this instance provides, e.g. ffmpeg,R", default: "", parse: labels },
  nats: { key: "nats", help: "comma-separated NATS server URLs; with them flue joins the fleet there", default: "", parse: natsUrls },
  "nats-user": { key: "natsUser", help: "user name for NATS (with --nats-password)", default: "", parse: optionalText },
  "nats-password": { key: "natsPassword", help: "password for NATS (with --nats-user)", default: "", parse: optionalText },
  "nats-token": { key: "natsToken", help: "token for NATS", default: "", parse: optionalText },
  "nats-creds": { key: "natsCreds", help: "NATS .creds file (user JWT and nkey seed)", default: "", parse: readableFile },
  "nats-nkey": { key: "natsNkey", help: "file holding an nkey seed for NATS", default: "", parse: readableFile },
  "nats-tls-ca": { key: "natsTlsCa", help: "PEM CA file: connect to NATS over TLS, trusting servers it signed", default: "", parse: readableFile },
  "nats-replicas": {
    key: "natsReplicas",
    help: "copies a NATS cluster keeps of the fleet's streams and buckets (3 on a three-node cluster: the fleet outlives one node)",
    default: "",
    parse: (t, flag) => (t === "" ? undefined : integer(1, 5)(t, flag)),
  },
  heartbeat: { key: "heartbeatMs", help: "how often this instance tells the fleet it is alive", default: "2s", parse: parseDuration },
  "events-max-age": { key: "eventsMaxAgeMs", help: "how long the fleet's event stream keeps events; an instance away longer misses older ones", default: "168h", parse: parseDuration },
  "failover-after": { key: "failoverAfterMs", help: "how long a job's instance may be silent before another instance runs the job again (the work queue's ack_wait)", default: "10s", parse: parseDuration },
  "lost-after": { key: "lostAfterMs", help: "silence after which an instance is LOST (none: 3 heartbeats + 1 s)", default: "", parse: (t, flag) => (t === "" ? 0 : parseDuration(t, flag)) },
};

/** The NATS flags make sense only together with --nats, and name one way to authenticate. */
function checkFleet(config: Record<string, unknown>): void {
  const natsFlags = Object.keys(FLAGS).filter((f) => f.startsWith("nats-") && config[FLAGS[f].key] !== undefined);
  if (natsFlags.length && !(config.nats as string[]).length) throw new ConfigError(`--${natsFlags[0]} needs --nats: it says how to reach the fleet's NATS`);
  if (!config.natsUser !== !config.natsPassword) throw new ConfigError("--nats-user and --nats-password go together: give both or neither");
  const ways = [config.natsUser && "--nats-user", config.natsToken && "--nats-token", config.natsCreds && "--nats-creds", config.natsNkey && "--nats-nkey"].filter(Boolean);
  if (ways.length > 1) throw new ConfigError(`${ways.join(" and ")}: give one way to authenticate to NATS`);
  if ((config.failoverAfterMs as number) < 1000) throw new ConfigError("--failover-after must be at least 1s");
  if ((config.heartbeatMs as number) < 100) throw new ConfigError(`--heartbeat must be at least 100ms`);
  if (config.lostAfterMs === 0) config.lostAfterMs = 3 * (config.heartbeatMs as number) + 1000;
  else if ((config.lostAfterMs as number) <= (config.heartbeatMs as number)) throw new ConfigError("--lost-after must be longer than --heartbeat: one late heartbeat must not lose an instance");
}

const envName = (flag: string) => `FLUE_${flag.toUpperCase().replace(/-/g, "_")}`;

/** Parses `--flag value` / `--flag=value` pairs over FLUE_* environment variables and defaults. */
export function loadConfig(args: string[], env: Record<string, string | undefined>): Config {
  const given = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith("--")) throw new ConfigError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf("=");
    const flag = arg.slice(2, eq < 0 ? undefined : eq);
    if (!FLAGS[flag]) throw new ConfigError(`unknown flag --${flag}; see flue --help`);
    const value = eq < 0 ? args[++i] : arg.slice(eq + 1);
    if (value === undefined) throw new ConfigError(`--${flag} needs a value`);
    given.set(flag, value);
  }
  const config = {} as Record<string, unknown>;
  for (const [flag, spec] of Object.entries(FLAGS)) {
    const fromEnv = env[envName(flag)];
    const text = given.get(flag) ?? (fromEnv !== undefined && fromEnv !== "" ? fromEnv : spec.default);
    const source = given.has(flag) ? `--${flag}` : fromEnv ? envName(flag) : `--${flag}`;
    config[spec.key] = spec.parse(text, source);
  }
  if (!config.tlsCert !== !config.tlsKey) throw new ConfigError("--tls-cert and --tls-key go together: give both or neither");
  if (config.tlsClientCa && !config.tlsCert) throw new ConfigError("--tls-client-ca needs --tls-cert and --tls-key: client certificates are checked only over TLS");
  if (config.tlsClientUser !== "none" && !config.tlsClientCa) throw new ConfigError("--tls-client-user needs --tls-client-ca: only a certificate that CA signed may name a user");
  checkFleet(config);
  const runAs = config.runAs as RunAs;
  if (runAs.count > 1 && runAs.count < (config.slots as number)) {
    throw new ConfigError(`--run-as ${runAs.label} holds ${runAs.count} uids, fewer than the ${config.slots} slots: every slot needs its own`);
  }
  config.adminUser = env.FLUE_ADMIN_USER || undefined;
  config.adminPassword = env.FLUE_ADMIN_PASSWORD || undefined;
  return config as unknown as Config;
}

export function flagHelp(): string {
  return Object.entries(FLAGS)
    .map(([flag, s]) => `  --${flag.padEnd(16)} ${s.help} (${envName(flag)}, default ${s.default || "none"})`)
    .join("\n");
}

/**
 * The environment storages read their settings from (FLUE_<SCHEME>_<KEY>),
 * with what the flags imply: the file:// storage may use the --allow-dir
 * directories unless FLUE_FILE_ALLOW says otherwise.
 */
export function storageEnv(config: Config, env: Record<string, string | undefined>): Record<string, string | undefined> {
  return env.FLUE_FILE_ALLOW || config.allowDirs.length === 0 ? env : { ...env, FLUE_FILE_ALLOW: config.allowDirs.join(",") };
}
