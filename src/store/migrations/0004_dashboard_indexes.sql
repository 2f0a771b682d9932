CREATE INDEX `jobs_finished_state_owner` ON `jobs` (`finished_at`,`state`,`owner`);--> statement-breakpoint
CREATE INDEX `jobs_owner_state` ON `jobs` (`owner`,`state`);