CREATE TABLE `job_minutes` (
	`minute` integer NOT NULL,
	`owner` text NOT NULL,
	`state` text NOT NULL,
	`n` integer NOT NULL,
	PRIMARY KEY(`minute`, `owner`, `state`)
);
--> statement-breakpoint
CREATE TABLE `job_owner_counts` (
	`owner` text NOT NULL,
	`state` text NOT NULL,
	`n` integer NOT NULL,
	PRIMARY KEY(`owner`, `state`)
);
--> statement-breakpoint
DROP INDEX `jobs_finished_state_owner`;--> statement-breakpoint
DROP INDEX `jobs_owner_state`;--> statement-breakpoint
INSERT INTO `job_owner_counts` (`owner`, `state`, `n`) SELECT coalesce(`owner`, ''), `state`, count(*) FROM `jobs` GROUP BY 1, 2;--> statement-breakpoint
INSERT INTO `job_minutes` (`minute`, `owner`, `state`, `n`) SELECT CAST(`finished_at` / 60 AS INTEGER), coalesce(`owner`, ''), `state`, count(*) FROM `jobs` WHERE `finished_at` >= CAST(strftime('%s', 'now') AS REAL) - 604800 AND `state` IN ('FINISHED', 'FAILED', 'CANCELLED') GROUP BY 1, 2, 3;
