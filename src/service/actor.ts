import type { Role } from "../store/index.ts";

/** Who is asking: the signed-in user, by API credentials or session. */
export interface Actor {
  userId: number;
  username: string;
  role: Role;
}

/** Whether an actor may see every job, or only its own. */
export const seesAll = (actor: Actor) => actor.role === "admin";
