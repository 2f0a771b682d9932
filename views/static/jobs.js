// Behaviour of the jobs pages (none yet).
