CREATE TABLE `definition_versions` (
	`definition_id` integer NOT NULL,
	`version` integer NOT NULL,
	`definition` text NOT NULL,
	`created_at` real NOT NULL,
	PRIMARY KEY(`definition_id`, `version`)
);
--> statement-breakpoint
CREATE TABLE `definitions` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text,
	`version` integer NOT NULL,
	`definition` text NOT NULL,
	`owner` text,
	`created_at` real NOT NULL,
	`updated_at` real NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `definitions_name_unique` ON `definitions` (`name`);--> statement-breakpoint
CREATE TABLE `events` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`job_seq` integer,
	`type` text NOT NULL,
	`timestamp` real NOT NULL,
	`executor` text NOT NULL,
	`thread` integer,
	`data` text
);
--> statement-breakpoint
CREATE INDEX `events_job` ON `events` (`job_seq`,`seq`);--> statement-breakpoint
CREATE TABLE `job_counts` (
	`definition_id` integer NOT NULL,
	`state` text NOT NULL,
	`n` integer NOT NULL,
	PRIMARY KEY(`definition_id`, `state`)
);
--> statement-breakpoint
CREATE TABLE `jobs` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`id` text NOT NULL,
	`definition_id` integer NOT NULL,
	`definition_version` integer NOT NULL,
	`definition_name` text,
	`state` text NOT NULL,
	`owner` text,
	`parameters` text NOT NULL,
	`inputs` text NOT NULL,
	`exit_status` integer,
	`created_at` real NOT NULL,
	`queued_at` real,
	`started_at` real,
	`finished_at` real,
	`attempts` integer DEFAULT 0 NOT NULL,
	`max_attempts` integer DEFAULT 1 NOT NULL,
	`instance` text,
	`thread` integer,
	`pid` integer,
	`pid_start` text,
	`not_before` real,
	`messages` text DEFAULT '[]' NOT NULL,
	`outputs` text DEFAULT '{}' NOT NULL,
	`metrics` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `jobs_id` ON `jobs` (`id`);--> statement-breakpoint
CREATE INDEX `jobs_state_seq` ON `jobs` (`state`,`seq`);--> statement-breakpoint
CREATE INDEX `jobs_definition_seq` ON `jobs` (`definition_id`,`seq`);--> statement-breakpoint
CREATE TABLE `meta` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `tokens` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`user_id` integer NOT NULL,
	`name` text NOT NULL,
	`token_hash` text NOT NULL,
	`created_at` real NOT NULL,
	`expires_at` real,
	`last_used_at` real,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `tokens_token_hash_unique` ON `tokens` (`token_hash`);--> statement-breakpoint
CREATE TABLE `users` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`username` text NOT NULL,
	`password_hash` text NOT NULL,
	`role` text NOT NULL,
	`created_at` real NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `users_username_unique` ON `users` (`username`);