"""The periodic tasks, declared in one place (DESIGN §7, convention 8).

Beat only *finds* work from dates in the database; every task it fires is idempotent (the
mail ledger's claims, the notification ledger's unique key) and holds a lease against
overlapping runs (``grants.core.locks``), so a beat that fires twice, or two overlapping
runs, change nothing more than one. ``expires`` drops a message that waited longer than
the period (a stopped worker must not find a pile of identical runs when it comes back).
"""

from celery.schedules import crontab

BEAT_SCHEDULE: dict = {
    # Mail ledger: claims of dead workers released, rows whose task was lost re-enqueued.
    "mail-sweep": {
        "task": "grants.mail.sweep",
        "schedule": crontab(minute="*/2"),
        "options": {"expires": 110},
    },
    # PDF receipts whose task was lost.
    "receipt-sweep": {
        "task": "grants.applications.sweep_receipts",
        "schedule": crontab(minute="*/5"),
        "options": {"expires": 280},
    },
    # Drafts on calls closing within 48 hours (one reminder per closing time).
    "remind-drafts": {
        "task": "grants.notifications.remind_drafts",
        "schedule": crontab(minute="*/15"),
        "options": {"expires": 840},
    },
    # Reviews due in 3 days, then overdue (one reminder per due date). Hourly, so that a
    # beat or worker down at one hour only delays the reminder.
    "remind-reviews-due": {
        "task": "grants.notifications.remind_reviews_due",
        "schedule": crontab(minute=5),
        "options": {"expires": 3000},
    },
    "remind-reviews-overdue": {
        "task": "grants.notifications.remind_reviews_overdue",
        "schedule": crontab(minute=10),
        "options": {"expires": 3000},
    },
    # Export jobs whose task was lost (still queued after a few minutes).
    "export-sweep": {
        "task": "grants.exports.sweep",
        "schedule": crontab(minute="*/5"),
        "options": {"expires": 280},
    },
    # Annual reports due in 30 days, then overdue (one reminder per due date).
    "remind-reports-due": {
        "task": "grants.reports.remind_reports_due",
        "schedule": crontab(minute=15),
        "options": {"expires": 3000},
    },
    "remind-reports-overdue": {
        "task": "grants.reports.remind_reports_overdue",
        "schedule": crontab(minute=20),
        "options": {"expires": 3000},
    },
    # Schedule computations whose message was lost with a dead worker.
    "schedule-run-sweep": {
        "task": "grants.funding.sweep_schedule_runs",
        "schedule": crontab(minute="*/5"),
        "options": {"expires": 280},
    },
}
