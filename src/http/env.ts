import type { App } from "../app.ts";
import type { Actor } from "../service/index.ts";

/** What Bun.serve passes as the env (`fetch: (req, server) => http.fetch(req, { server })`); absent under app.request. */
export type Bindings = {
  server?: { requestIP(req: Request): { address: string } | null };
  /** With --tls-client-user: the username the request's client certificate names, if any. */
  certificateUser?: () => string | null;
};

export type HonoEnv = { Bindings: Bindings; Variables: { actor: Actor } };
export type { App };
