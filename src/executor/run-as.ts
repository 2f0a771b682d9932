/**
 * Whom jobs run as (--run-as). A flue that runs as root never runs a job as
 * root unless the admin says so: by default jobs run as `nobody`. A range of
 * uids gives every slot its own (slot i runs as uid and gid start+i-1), so
 * two jobs running at once cannot reach each other's workdir or processes.
 *
 * The names come from /etc/passwd and /etc/group, read here: no NSS, no
 * dependency.
 */
import { readFileSync, statSync } from "node:fs";
import { dirname } from "node:path";

export interface RunAs {
  /** The uid and gid of slot 1; with `count` > 1, slot i runs as uid+i-1 and gid+i-1. */
  uid: number;
  gid: number;
  /** How many uids the range holds; 1 for a single user. */
  count: number;
  /** For people: "nobody (65534:65534)". */
  label: string;
}

export interface Identity {
  uid: number;
  gid: number;
}

/** What resolveRunAs reads; tests give their own. */
export interface Accounts {
  euid: number;
  egid: number;
  passwd: string;
  group: string;
}

/** This process's ids and the host's account files. */
export function hostAccounts(): Accounts {
  const read = (path: string) => {
    try {
      return readFileSync(path, "utf8");
    } catch {
      return "";
    }
  };
  return { euid: process.geteuid?.() ?? -1, egid: process.getegid?.() ?? -1, passwd: read("/etc/passwd"), group: read("/etc/group") };
}

const MAX_ID = 4_294_967_294; // (uid_t)-1 means "no change" to the kernel
const NOBODY = 65534;

/** Rows of a colon-separated account file as [name, id, primary gid]. */
function rows(file: string): string[][] {
  return file
    .split("\n")
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => l.split(":"));
}

function lookupUser(accounts: Accounts, who: string): { name: string; uid: number; gid: number } | undefined {
  const numeric = /^\d+$/.test(who);
  const row = rows(accounts.passwd).find((r) => (numeric ? r[2] === who : r[0] === who));
  if (row) return { name: row[0], uid: Number(row[2]), gid: Number(row[3]) };
  // A uid without an account is fine: its group is the number itself.
  return numeric ? { name: who, uid: Number(who), gid: Number(who) } : undefined;
}

function lookupGroup(accounts: Accounts, group: string): number | undefined {
  if (/^\d+$/.test(group)) return Number(group);
  const row = rows(accounts.group).find((r) => r[0] === group);
  return row ? Number(row[2]) : undefined;
}

/**
 * The --run-as text (`user`, `uid`, `user:group`, `root`, a range
 * `61184-61439`, or "" for the default) as a RunAs, or an Error whose
 * message names `flag`.
 */
export function resolveRunAs(text: string, flag: string, accounts: Accounts): RunAs {
  const t = text.trim();
  const self = { uid: accounts.euid, gid: accounts.egid };
  const range = /^(\d+)-(\d+)$/.exec(t);
  let r: RunAs;
  if (t === "") {
    if (accounts.euid !== 0) return { ...self, count: 1, label: `flue's own user (${self.uid}:${self.gid})` };
    const nobody = lookupUser(accounts, "nobody") ?? { name: "nobody", uid: NOBODY, gid: NOBODY };
    r = { uid: nobody.uid, gid: nobody.gid, count: 1, label: `nobody (${nobody.uid}:${nobody.gid})` };
  } else if (range) {
    const [from, to] = [Number(range[1]), Number(range[2])];
    if (from < 1 || to < from || to > MAX_ID) throw new Error(`${flag} must be a range of uids such as 61184-61439 (from 1, first ≤ last), not "${text}"`);
    r = { uid: from, gid: from, count: to - from + 1, label: `uids ${from}-${to} (one per slot)` };
  } else {
    const [who, group, extra] = t.split(":");
    const user = who ? lookupUser(accounts, who) : undefined;
    if (!user) throw new Error(`${flag}: no user "${who}" in /etc/passwd`);
    const gid = group === undefined ? user.gid : lookupGroup(accounts, group);
    if (gid === undefined || extra !== undefined) throw new Error(`${flag}: no group "${group}" in /etc/group`);
    if (user.uid > MAX_ID || gid > MAX_ID) throw new Error(`${flag}: ${t} is out of range`);
    r = { uid: user.uid, gid, count: 1, label: `${user.name} (${user.uid}:${gid})` };
  }
  if (accounts.euid !== 0 && (r.count !== 1 || r.uid !== self.uid || r.gid !== self.gid)) {
    throw new Error(`${flag} needs flue to run as root (it runs as uid ${accounts.euid})`);
  }
  return r;
}

/**
 * Whom slot `slot` (1-based) runs its jobs as, or undefined when that is
 * flue's own user: then nothing is switched or handed over.
 */
export function jobUser(runAs: RunAs, slot: number): Identity | undefined {
  const i = runAs.count > 1 ? slot - 1 : 0;
  const who = { uid: runAs.uid + i, gid: runAs.gid + i };
  return who.uid === own.uid && who.gid === own.gid ? undefined : who;
}

/** flue's own user, asked once: it never changes, and asking costs a system call a job. */
const own = { uid: process.geteuid?.() ?? -1, gid: process.getegid?.() ?? -1 };

/**
 * The first directory above `path` that `who` may not pass through, or
 * undefined when it reaches `path` (supplementary groups aside: jobs have none).
 */
export function blockedAncestor(path: string, who: Identity): string | undefined {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const st = statSync(dir);
    const bit = st.uid === who.uid ? 0o100 : st.gid === who.gid ? 0o010 : 0o001;
    if (who.uid !== 0 && (st.mode & bit) === 0) return dir;
    if (dir === "/") return undefined;
  }
}
