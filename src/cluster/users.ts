/**
 * Users and API tokens across the fleet: bucket `flue_users`.
 *
 * - `user.<base64url of the name>`: the user, with its password hash and
 *   role. Users are known by name: their numeric ids are each database's own.
 * - `token.<sha256 of the secret>`: the token's hash, owner's name, role
 *   and expiry; revoking deletes the key.
 *
 * Every change made on this instance (API, UI, the first admin) is put
 * into the bucket; every instance mirrors the bucket into its tables, so a
 * user or token made on one signs in on all. Browser sessions stay with
 * the instance that made them.
 */
import type { KV, Kvm, KvWatchEntry } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { SharedToken, SharedUser, Store, TokenRow, UserChange, UserRow } from "../store/index.ts";
import { BucketMirror } from "./mirror.ts";

export const USERS_BUCKET = "flue_users";

const userKey = (username: string) => `user.${Buffer.from(username).toString("base64url")}`;
const tokenKey = (hash: string) => `token.${hash}`;

const sharedUser = (u: UserRow): SharedUser => ({ username: u.username, passwordHash: u.passwordHash, role: u.role, seesAllJobs: u.seesAllJobs, createdAt: u.createdAt });
const sharedToken = (t: TokenRow, username: string): SharedToken => ({
  username,
  name: t.name,
  tokenHash: t.tokenHash,
  role: t.role,
  createdAt: t.createdAt,
  expiresAt: t.expiresAt,
});

export class SharedUsers {
  private constructor(
    private readonly kv: KV,
    private readonly store: Store,
    private readonly mirror: BucketMirror,
  ) {}

  static async start(nc: NatsConnection, kvm: Kvm, store: Store): Promise<SharedUsers> {
    const kv = await kvm.create(USERS_BUCKET, { history: 1 });
    const repo = store.users;
    const mirror = new BucketMirror(nc, kv, "user", (e: KvWatchEntry) => {
      if (e.key.startsWith("user.")) {
        if (e.operation === "PUT") repo.applyUser(e.json<SharedUser>());
        else repo.applyUserDeleted(Buffer.from(e.key.slice(5), "base64url").toString());
      } else if (e.key.startsWith("token.")) {
        if (e.operation === "PUT") repo.applyToken(e.json<SharedToken>());
        else repo.applyTokenDeleted(e.key.slice(6));
      }
    });
    await mirror.start();
    const shared = new SharedUsers(kv, store, mirror);
    await shared.shareOwn();
    repo.onChange = (change) => void shared.share(change);
    return shared;
  }

  /**
   * Users and tokens this instance had before it joined (made with `flue
   * user add` before the first start, say) that the fleet never knew: a key
   * deleted in the fleet stays deleted.
   */
  private async shareOwn(): Promise<void> {
    const { users, tokens } = this.store.users.everything();
    for (const u of users) if (!(await this.kv.get(userKey(u.username)))) await this.kv.put(userKey(u.username), JSON.stringify(sharedUser(u)));
    for (const t of tokens) if (!(await this.kv.get(tokenKey(t.tokenHash)))) await this.kv.put(tokenKey(t.tokenHash), JSON.stringify(sharedToken(t, t.username)));
  }

  private async share(change: UserChange): Promise<void> {
    try {
      switch (change.kind) {
        case "user":
          await this.kv.put(userKey(change.user.username), JSON.stringify(sharedUser(change.user)));
          break;
        case "user.deleted":
          await this.kv.delete(userKey(change.username));
          break;
        case "token":
          await this.kv.put(tokenKey(change.token.tokenHash), JSON.stringify(sharedToken(change.token, change.username)));
          break;
        case "token.deleted":
          await this.kv.delete(tokenKey(change.tokenHash));
          break;
      }
    } catch (e) {
      console.error(`flue: could not share a change of users with the fleet (${change.kind}): ${(e as Error).message}`);
    }
  }

  stop(): void {
    this.store.users.onChange = undefined;
    this.mirror.stop();
  }
}
