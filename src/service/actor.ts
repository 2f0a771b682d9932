/**
 * Who may do what. An admin does everything; a submitter reads definitions
 * and submits and controls its own jobs; a viewer only reads. Everyone sees
 * their own jobs; admins, and users granted `sees_all_jobs`, see all of them.
 */
import { AppError } from "../domain/index.ts";
import type { Role } from "../store/index.ts";

/** Who is asking: the signed-in user, by API credentials or session. */
export interface Actor {
  userId: number;
  username: string;
  /** The effective role: a token's role caps its user's. */
  role: Role;
  seesAllJobs?: boolean;
  /** The remote address the request came from, when the server knows it. */
  remote?: string | null;
}

const RANK: Record<Role, number> = { viewer: 0, submitter: 1, admin: 2 };

/** The lower of two roles: what a token of role `b` grants a user of role `a`. */
export const lowerRole = (a: Role, b: Role): Role => (RANK[a] <= RANK[b] ? a : b);
export const roleAtMost = (role: Role, limit: Role) => RANK[role] <= RANK[limit];

export const isAdmin = (actor: Actor) => actor.role === "admin";
/** Whether an actor may see every job, or only its own. */
export const seesAll = (actor: Actor) => isAdmin(actor) || actor.seesAllJobs === true;
/** Whether an actor may see a job with this owner; jobs, logs, outputs and event streams all ask this. */
export const maySeeJob = (actor: Actor, owner: string | null) => seesAll(actor) || owner === actor.username;
export const canSubmit = (actor: Actor) => actor.role !== "viewer";
/** Whether an actor may change (patch, queue, cancel, delete) a job it can see. */
export const mayControlJob = (actor: Actor, owner: string | null) => isAdmin(actor) || (canSubmit(actor) && owner === actor.username);

export const forbidden = (message: string) => new AppError(403, "forbidden", message);

export function requireAdmin(actor: Actor, what: string) {
  if (!isAdmin(actor)) throw forbidden(`only an admin may ${what}`);
}
