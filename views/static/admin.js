// Behaviour of the admin pages (none yet).
