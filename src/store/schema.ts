/**
 * The SQLite schema. Change it here, then `bun run db:generate` writes the
 * migration SQL and the embedded migrations module.
 */
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const meta = sqliteTable("meta", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
});

export const users = sqliteTable("users", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  username: text("username").notNull().unique(),
  passwordHash: text("password_hash").notNull(),
  role: text("role", { enum: ["admin", "submitter", "viewer"] }).notNull(),
  createdAt: real("created_at").notNull(),
  /** A viewer or submitter granted sight of every job (admins see them all anyway). */
  seesAllJobs: integer("sees_all_jobs", { mode: "boolean" }).notNull().default(false),
});

export const tokens = sqliteTable("tokens", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  userId: integer("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
  name: text("name").notNull(),
  tokenHash: text("token_hash").notNull().unique(),
  /** At most the user's role; null means the user's role, whatever it is at the time. */
  role: text("role", { enum: ["admin", "submitter", "viewer"] }),
  createdAt: real("created_at").notNull(),
  expiresAt: real("expires_at"),
  lastUsedAt: real("last_used_at"),
});

export const definitions = sqliteTable("definitions", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").unique(),
  version: integer("version").notNull(),
  definition: text("definition", { mode: "json" }).notNull(),
  owner: text("owner"),
  createdAt: real("created_at").notNull(),
  updatedAt: real("updated_at").notNull(),
});

/** Every version of every definition, kept after the definition is deleted: jobs pin them. */
export const definitionVersions = sqliteTable(
  "definition_versions",
  {
    definitionId: integer("definition_id").notNull(),
    version: integer("version").notNull(),
    definition: text("definition", { mode: "json" }).notNull(),
    createdAt: real("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.definitionId, t.version] })],
);

export const jobs = sqliteTable(
  "jobs",
  {
    seq: integer("seq").primaryKey({ autoIncrement: true }),
    id: text("id").notNull(),
    definitionId: integer("definition_id").notNull(),
    definitionVersion: integer("definition_version").notNull(),
    definitionName: text("definition_name"),
    state: text("state").notNull(),
    owner: text("owner"),
    parameters: text("parameters", { mode: "json" }).notNull(),
    inputs: text("inputs", { mode: "json" }).notNull(),
    exitStatus: integer("exit_status"),
    createdAt: real("created_at").notNull(),
    queuedAt: real("queued_at"),
    startedAt: real("started_at"),
    finishedAt: real("finished_at"),
    attempts: integer("attempts").notNull().default(0),
    maxAttempts: integer("max_attempts").notNull().default(1),
    instance: text("instance"),
    thread: integer("thread"),
    pid: integer("pid"),
    pidStart: text("pid_start"),
    notBefore: real("not_before"),
    messages: text("messages", { mode: "json" }).notNull().default([]),
    outputs: text("outputs", { mode: "json" }).notNull().default({}),
    metrics: text("metrics", { mode: "json" }),
  },
  (t) => [
    uniqueIndex("jobs_id").on(t.id),
    index("jobs_state_seq").on(t.state, t.seq),
    index("jobs_definition_seq").on(t.definitionId, t.seq),
    index("jobs_definition_state_seq").on(t.definitionId, t.state, t.seq),
    index("jobs_owner_seq").on(t.owner, t.seq),
    // seq is the rowid; this index holds it densely, so paging deep into
    // the list walks a few thousand index pages instead of every row.
    index("jobs_seq").on(t.seq),
  ],
);

/** Jobs per definition and state, kept by the projection so totals never scan the jobs table. */
export const jobCounts = sqliteTable(
  "job_counts",
  {
    definitionId: integer("definition_id").notNull(),
    state: text("state").notNull(),
    n: integer("n").notNull(),
  },
  (t) => [primaryKey({ columns: [t.definitionId, t.state] })],
);

/** Jobs per owner and state ('' for a job without owner), kept by the projection: a user's totals never scan their jobs. */
export const jobOwnerCounts = sqliteTable(
  "job_owner_counts",
  {
    owner: text("owner").notNull(),
    state: text("state").notNull(),
    n: integer("n").notNull(),
  },
  (t) => [primaryKey({ columns: [t.owner, t.state] })],
);

/**
 * Jobs that reached a final state, per minute (UNIX seconds / 60), owner
 * and state, kept by the projection for the dashboard's chart; a week is kept.
 */
export const jobMinutes = sqliteTable(
  "job_minutes",
  {
    minute: integer("minute").notNull(),
    owner: text("owner").notNull(),
    state: text("state").notNull(),
    n: integer("n").notNull(),
  },
  (t) => [primaryKey({ columns: [t.minute, t.owner, t.state] })],
);

/** The event log. `job_seq` points at jobs.seq; the job id is there. */
export const events = sqliteTable(
  "events",
  {
    seq: integer("seq").primaryKey({ autoIncrement: true }),
    jobSeq: integer("job_seq"),
    type: text("type").notNull(),
    timestamp: real("timestamp").notNull(),
    executor: text("executor").notNull(),
    thread: integer("thread"),
    data: text("data", { mode: "json" }),
  },
  (t) => [index("events_job").on(t.jobSeq, t.seq)],
);

/**
 * In a fleet: this instance's own events not yet published to NATS, and
 * the work messages its `queued` events send, in order. Written in the
 * events' transaction, removed once the stream acknowledged them; `seq`
 * (never reused) names an event in its Nats-Msg-Id, `msg_id` a work message
 * (`<job>.<attempts>`, the same id whichever instance sends it).
 */
export const outbox = sqliteTable("outbox", {
  seq: integer("seq").primaryKey({ autoIncrement: true }),
  subject: text("subject").notNull(),
  payload: text("payload").notNull(),
  msgId: text("msg_id"),
});

/** Who changed what, and from where. Kept after the thing it names is gone. */
export const audit = sqliteTable(
  "audit",
  {
    seq: integer("seq").primaryKey({ autoIncrement: true }),
    at: real("at").notNull(),
    actor: text("actor").notNull(),
    action: text("action").notNull(),
    target: text("target"),
    remote: text("remote"),
    details: text("details", { mode: "json" }),
  },
  (t) => [index("audit_action_seq").on(t.action, t.seq), index("audit_actor_seq").on(t.actor, t.seq)],
);

/**
 * Browser sessions of the admin UI. The cookie holds a random secret; only
 * its SHA-256 is stored, so a copy of the database signs nobody in. `csrf`
 * is the token every state-changing form and htmx request must echo.
 */
export const sessions = sqliteTable(
  "sessions",
  {
    idHash: text("id_hash").primaryKey(),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    csrf: text("csrf").notNull(),
    createdAt: real("created_at").notNull(),
    lastSeenAt: real("last_seen_at").notNull(),
    expiresAt: real("expires_at").notNull(),
    remote: text("remote"),
  },
  (t) => [index("sessions_user").on(t.userId)],
);

export type UserRow = typeof users.$inferSelect;
export type AuditRow = typeof audit.$inferSelect;
export type TokenRow = typeof tokens.$inferSelect;
export type SessionRow = typeof sessions.$inferSelect;
export type DefinitionRow = typeof definitions.$inferSelect;
export type JobRow = typeof jobs.$inferSelect;
export type EventRow = typeof events.$inferSelect;
