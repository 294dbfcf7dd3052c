"""arenax.search: foundation-model self-play (programs, sandbox, FM clients, archives, loops)."""
