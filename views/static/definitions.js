// Behaviour of the definitions pages (none yet).
