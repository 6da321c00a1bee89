"""The Celery application: ``celery -A worker worker`` and ``celery -A worker beat``.

The Flask app is created on first access to ``worker.app`` (what ``celery -A worker``
looks up), so that every task runs in its app context (``celery_init_app``), and so that
importing :mod:`worker.schedule` — where the beat schedule lives — creates nothing.
"""

from __future__ import annotations

from functools import cache


@cache
def _build():
    from grants import create_app
    from worker.schedule import BEAT_SCHEDULE

    flask_app = create_app()
    celery_app = flask_app.extensions["celery"]
    celery_app.conf.beat_schedule = BEAT_SCHEDULE
    return flask_app, celery_app


def __getattr__(name: str):
    if name == "flask_app":
        return _build()[0]
    if name in {"app", "celery_app", "celery"}:
        return _build()[1]
    raise AttributeError(name)
