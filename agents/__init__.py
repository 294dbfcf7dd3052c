"""arenax.agents: learners and hand-written policies."""
