"""The Celery application: ``celery -A worker worker`` and ``celery -A worker beat``.

The Flask app is created here so that every task runs in its app context
(``celery_init_app``); the beat schedule lives in :mod:`worker.schedule`.
"""

from grants import create_app
from worker.schedule import BEAT_SCHEDULE

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
celery_app.conf.beat_schedule = BEAT_SCHEDULE
app = celery_app
