/**
 * Users and credentials: the first admin, Basic auth (argon2id hashes, with
 * a short-lived cache of verified credentials so a request does not pay
 * ~50 ms of hashing), and API tokens (random, stored as SHA-256 only).
 */
import type { Role, Store, UserRow } from "../store/index.ts";
import type { Actor } from "../service/index.ts";

const CACHE_MS = 5 * 60_000;

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

const toActor = (u: UserRow): Actor => ({ userId: u.id, username: u.username, role: u.role });

export class Auth {
  /** sha256(username:password) → actor and when the entry expires. */
  private readonly verified = new Map<string, { actor: Actor; until: number }>();

  constructor(private readonly store: Store) {}

  /** On an empty store, creates the first admin from the given credentials or a generated password. */
  async ensureAdmin(username: string | undefined, password: string | undefined): Promise<FirstAdmin | undefined> {
    if (this.store.users.count() > 0) return undefined;
    const name = username || "admin";
    const generated = password ? undefined : generateSecret(15);
    await this.createUser(name, password || generated!, "admin");
    return { username: name, generatedPassword: generated };
  }

  async createUser(username: string, password: string, role: Role): Promise<UserRow> {
    return this.store.users.create(username, await Bun.password.hash(password, ARGON2), role);
  }

  /** The actor an Authorization header names, or undefined. */
  async authenticate(header: string | undefined): Promise<Actor | undefined> {
    if (!header) return undefined;
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
    return this.byPassword(decoded.slice(0, colon), decoded.slice(colon + 1));
  }

  async byPassword(username: string, password: string): Promise<Actor | undefined> {
    const key = sha256(`${username}:${password}`);
    const hit = this.verified.get(key);
    if (hit && hit.until > Date.now()) return hit.actor;
    const user = this.store.users.find(username);
    if (!user || !(await Bun.password.verify(password, user.passwordHash))) return undefined;
    const actor = toActor(user);
    this.verified.set(key, { actor, until: Date.now() + CACHE_MS });
    return actor;
  }

  byToken(token: string): Actor | undefined {
    const found = this.store.users.findToken(sha256(token));
    if (!found) return undefined;
    if (found.token.expiresAt !== null && found.token.expiresAt * 1000 < Date.now()) return undefined;
    // Record use at most once a minute: a busy client should not write on every request.
    if (found.token.lastUsedAt === null || Date.now() / 1000 - found.token.lastUsedAt > 60) this.store.users.touchToken(found.token.id);
    return toActor(found.user);
  }

  /** A new token for a user; the secret is returned once and stored only as a hash. */
  createToken(actor: Actor, name: string, expiresAt: number | null) {
    const secret = `flue_${generateSecret(24)}`;
    const row = this.store.users.createToken(actor.userId, name, sha256(secret), expiresAt);
    return { row, secret };
  }
}
