CREATE INDEX `jobs_definition_state_seq` ON `jobs` (`definition_id`,`state`,`seq`);--> statement-breakpoint
CREATE INDEX `jobs_owner_seq` ON `jobs` (`owner`,`seq`);--> statement-breakpoint
CREATE INDEX `jobs_seq` ON `jobs` (`seq`);