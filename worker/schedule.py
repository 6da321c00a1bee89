"""The periodic tasks, declared in one place (DESIGN §7, convention 8)."""

BEAT_SCHEDULE: dict = {}
