/**
 * Users and credentials: the first admin, Basic auth (argon2id hashes, with
 * a short-lived cache of verified credentials so a request does not pay
 * ~50 ms of hashing, nor a read while no user changes), and API tokens
 * (random, stored as SHA-256 only).
 */
import { AppError } from "../domain/index.ts";
import type { Role, Store, UserRow } from "../store/index.ts";
import { lowerRole, roleAtMost, type Actor } from "../service/index.ts";
import { Throttle, type ThrottleOptions } from "./throttle.ts";

export { Throttle, type ThrottleOptions } from "./throttle.ts";

const CACHE_MS = 5 * 60_000;
/** A browser session ends after this long unused, and after SESSION_MAX_S whatever happens. */
const SESSION_IDLE_S = 12 * 3600;
const SESSION_MAX_S = 7 * 24 * 3600;

/**
 * OWASP's argon2id setting (19 MiB, 2 passes). Bun's default takes 64 MiB a
 * hash, which a server keeps as resident memory long after signing in.
 */
const ARGON2 = { algorithm: "argon2id", memoryCost: 19_456, timeCost: 2 } as const;

export interface FirstAdmin {
  username: string;
  /** Set when flue generated the password; shown once. */
  generatedPassword?: string;
}

const sha256 = (text: string) => new Bun.CryptoHasher("sha256").update(text).digest("hex");

export function generateSecret(bytes = 18): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("base64url");
}

const toActor = (u: UserRow, role: Role = u.role): Actor => ({ userId: u.id, username: u.username, role, seesAllJobs: u.seesAllJobs });

/** Too many failed sign-ins for a username from an address, or from an address; `retryAfter` is in seconds. */
export class ThrottledError extends AppError {
  constructor(readonly retryAfter: number) {
    super(429, "too_many_attempts", `too many failed sign-ins; try again in ${retryAfter} s`);
  }
}

/**
 * What a failed sign-in counts against, with how many times the throttle's
 * allowance each may fail: the name from this address (a guesser), and the
 * address across all names (a sprayer), which gets ten times as many so that
 * users behind one proxy do not lock each other out. Never the name alone:
 * anyone could then lock the admin out from anywhere.
 */
function throttleKeys(username: string, remote: string | null): [string, number][] {
  const from = remote ?? "-";
  return [[`user:${username}@${from}`, 1], [`addr:${from}`, 10]];
}

export interface AuthOptions {
  throttle?: ThrottleOptions;
}

export class Auth {
  /**
   * sha256(username:password) → the password hash it was verified against,
   * until when, and the actor it signed in as while the users were at
   * `version`. While no user has changed since, a hit is that actor, read
   * from nowhere. After any change the row is read again, and a hit counts
   * only while the user's stored hash is the same one: a new password, a
   * new role or a deleted user takes effect on the next request.
   */
  private readonly verified = new Map<string, { hash: string; until: number; version: string; actor: Actor }>();
  private readonly throttle: Throttle;
  /** While the first admin is being made. */
  private firstAdmin: Promise<unknown> | undefined;

  constructor(
    private readonly store: Store,
    opts: AuthOptions = {},
  ) {
    this.throttle = new Throttle(opts.throttle);
  }

  private decoy: Promise<string> | undefined;
  private decoyHash(): Promise<string> {
    return (this.decoy ??= this.hashPassword(generateSecret()));
  }

  hashPassword(password: string): Promise<string> {
    return Bun.password.hash(password, ARGON2);
  }

  /**
   * On an empty store, creates the first admin from the given credentials or
   * a generated password. Sign-ins that arrive meanwhile (flue listens
   * before the hash is done) wait for it, rather than fail and count
   * towards the throttle.
   */
  ensureAdmin(username: string | undefined, password: string | undefined): Promise<FirstAdmin | undefined> {
    if (this.store.users.count() > 0) return Promise.resolve(undefined);
    const name = username || "admin";
    const generated = password ? undefined : generateSecret(15);
    const made = this.hashPassword(password || generated!).then((hash) => {
      // In a fleet, another instance's first admin may have arrived while this one hashed: it is the fleet's.
      if (this.store.users.count() > 0) return undefined;
      this.store.users.create(name, hash, "admin");
      return { username: name, generatedPassword: generated };
    });
    this.firstAdmin = made.finally(() => (this.firstAdmin = undefined));
    return made;
  }

  async createUser(username: string, password: string, role: Role): Promise<UserRow> {
    return this.store.users.create(username, await this.hashPassword(password), role);
  }

  /**
   * The actor an Authorization header names, or undefined. Throws
   * ThrottledError while the username from `remote`, or `remote` itself, has failed too often.
   */
  async authenticate(header: string | undefined, remote: string | null = null): Promise<Actor | undefined> {
    if (!header) return undefined;
    if (this.firstAdmin) await this.firstAdmin.catch(() => {});
    const space = header.indexOf(" ");
    const scheme = header.slice(0, space).toLowerCase();
    const value = header.slice(space + 1).trim();
    if (scheme === "bearer") return this.byToken(value);
    if (scheme !== "basic") return undefined;
    let decoded: string;
    try {
      decoded = Buffer.from(value, "base64").toString("utf8");
    } catch {
      return undefined;
    }
    const colon = decoded.indexOf(":");
    if (colon < 0) return undefined;
    return this.signIn(decoded.slice(0, colon), decoded.slice(colon + 1), remote);
  }

  /**
   * Checks a username and password under the throttle: the actor, or
   * undefined when they are wrong. Throws ThrottledError while the name
   * from `remote`, or `remote` itself, has failed too often.
   */
  async signIn(username: string, password: string, remote: string | null): Promise<Actor | undefined> {
    const keys = throttleKeys(username, remote);
    const wait = Math.max(...keys.map(([k, times]) => this.throttle.retryAfter(k, times)));
    if (wait > 0) throw new ThrottledError(wait);
    const actor = await this.byPassword(username, password);
    for (const [k] of keys) actor ? this.throttle.succeed(k) : this.throttle.fail(k);
    return actor;
  }

  /** A new browser session for a signed-in actor: the cookie's secret (shown once) and its CSRF token. */
  startSession(actor: Actor): { secret: string; csrf: string } {
    const secret = generateSecret(32);
    const csrf = generateSecret(24);
    const now = Date.now() / 1000;
    this.store.sessions.create({
      idHash: sha256(secret),
      userId: actor.userId,
      csrf,
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + SESSION_IDLE_S,
      remote: actor.remote ?? null,
    });
    return { secret, csrf };
  }

  /**
   * The actor and CSRF token of a session cookie, or undefined when it is
   * unknown or expired. Idle sessions end after 12 hours, any after 7 days;
   * the user's role is read afresh each time.
   */
  session(secret: string | undefined): { actor: Actor; csrf: string } | undefined {
    if (!secret) return undefined;
    const hash = sha256(secret);
    const found = this.store.sessions.find(hash);
    if (!found) return undefined;
    const now = Date.now() / 1000;
    if (found.session.expiresAt < now) {
      this.store.sessions.remove(hash);
      return undefined;
    }
    // Extend at most once a minute: a page with live parts should not write on every request.
    if (now - found.session.lastSeenAt > 60) {
      this.store.sessions.touch(hash, now, Math.min(found.session.createdAt + SESSION_MAX_S, now + SESSION_IDLE_S));
    }
    return { actor: toActor(found.user), csrf: found.session.csrf };
  }

  endSession(secret: string | undefined): void {
    if (secret) this.store.sessions.remove(sha256(secret));
  }

  /** The user a verified client certificate names (--tls-client-user), read afresh like any sign-in. */
  byCertificate(username: string): Actor | undefined {
    const user = this.store.users.find(username);
    return user ? toActor(user) : undefined;
  }

  async byPassword(username: string, password: string): Promise<Actor | undefined> {
    const key = sha256(`${username}:${password}`);
    // Read before anything else: a change while the hash below is checked must make this entry stale.
    const version = this.store.users.version();
    const hit = this.verified.get(key);
    const live = hit !== undefined && hit.until > Date.now();
    if (live && hit.version === version) return hit.actor;
    const user = this.store.users.find(username);
    if (!user) {
      // As slow as a wrong password: the answer's time must not tell which names exist.
      await Bun.password.verify(password, await this.decoyHash());
      return undefined;
    }
    const actor = toActor(user);
    if (live && hit.hash === user.passwordHash) {
      hit.version = version;
      hit.actor = actor;
      return actor;
    }
    if (!(await Bun.password.verify(password, user.passwordHash))) return undefined;
    if (this.verified.size >= 10_000) this.verified.clear();
    this.verified.set(key, { hash: user.passwordHash, until: Date.now() + CACHE_MS, version, actor });
    return actor;
  }

  byToken(token: string): Actor | undefined {
    const found = this.store.users.findToken(sha256(token));
    if (!found) return undefined;
    if (found.token.expiresAt !== null && found.token.expiresAt * 1000 < Date.now()) return undefined;
    // Record use at most once a minute: a busy client should not write on every request.
    if (found.token.lastUsedAt === null || Date.now() / 1000 - found.token.lastUsedAt > 60) this.store.users.touchToken(found.token.id);
    // The token's role caps the user's, and the user's caps the token's: a demoted user's tokens follow.
    return toActor(found.user, lowerRole(found.token.role ?? found.user.role, found.user.role));
  }

  /**
   * A new token for a user; the secret is returned once and stored only as
   * a hash. `role` may not exceed the actor's own (null: the user's role).
   */
  createToken(actor: Actor, name: string, expiresAt: number | null, role: Role | null = null) {
    if (role !== null && !roleAtMost(role, actor.role)) {
      throw new AppError(403, "forbidden", `a ${actor.role} cannot make a token with the role ${role}`, [{ path: "role", message: `at most ${actor.role}` }]);
    }
    const secret = `flue_${generateSecret(24)}`;
    // Stored explicitly: a token made with a capped token must not grow to the user's full role.
    const row = this.store.users.createToken(actor.userId, name, sha256(secret), expiresAt, role ?? actor.role);
    return { row, secret };
  }
}
