"""The periodic tasks, declared in one place (DESIGN §7, convention 8).

Beat only *finds* work from dates in the database; every task it fires is idempotent, so a
beat that fires twice, or two overlapping runs, change nothing more than one.
"""

from celery.schedules import crontab

BEAT_SCHEDULE: dict = {
    "mail-sweep": {
        "task": "grants.mail.sweep",
        "schedule": crontab(minute="*/2"),
        "options": {"expires": 110},
    },
    "receipt-sweep": {
        "task": "grants.applications.sweep_receipts",
        "schedule": crontab(minute="*/5"),
        "options": {"expires": 280},
    },
}
