CREATE TABLE `audit` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` real NOT NULL,
	`actor` text NOT NULL,
	`action` text NOT NULL,
	`target` text,
	`remote` text,
	`details` text
);
--> statement-breakpoint
CREATE INDEX `audit_action_seq` ON `audit` (`action`,`seq`);--> statement-breakpoint
CREATE INDEX `audit_actor_seq` ON `audit` (`actor`,`seq`);--> statement-breakpoint
ALTER TABLE `tokens` ADD `role` text;--> statement-breakpoint
ALTER TABLE `users` ADD `sees_all_jobs` integer DEFAULT false NOT NULL;