"""The real worker computes and stores the schedules (issue 5, point 2): idempotent when the
task is sent twice, and when its worker is killed in the middle of a run.

The worker of this module runs every schedule task slowly (``GRANTS_SCHEDULE_TEST_DELAY``,
set before the ``celery_worker`` fixture starts it), so that a test can kill it while the
run is « running ». Runs on the embedded default (SQLite, filesystem broker) and on
PostgreSQL + Redis when TEST_DATABASE_URL / TEST_REDIS_URL are set.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.fixtures.funding import SEED_TRANCHES
from tests.fixtures.services import ROOT, WORKER_START_TIMEOUT, read_file_sink, wait_until

pytestmark = pytest.mark.integration

#: seconds each schedule task sleeps once its run is claimed (in this module's worker)
DELAY = "3"
TASK_DONE = re.compile(
    r"Task grants\.funding\.compute_schedules\[[0-9a-f-]+\] succeeded in [0-9.e-]+s: '([\w-]+)'"
)


@pytest.fixture(scope="module", autouse=True)
def _slow_schedule_tasks():
    """Before the module's worker starts (autouse fixtures come first): slow tasks."""
    previous = os.environ.get("GRANTS_SCHEDULE_TEST_DELAY")
    os.environ["GRANTS_SCHEDULE_TEST_DELAY"] = DELAY
    yield
    if previous is None:
        os.environ.pop("GRANTS_SCHEDULE_TEST_DELAY", None)
    else:
        os.environ["GRANTS_SCHEDULE_TEST_DELAY"] = previous


@pytest.fixture(autouse=True)
def _no_delay_in_this_process(monkeypatch):
    """The test process itself never sleeps (only the worker reads the variable)."""
    monkeypatch.delenv("GRANTS_SCHEDULE_TEST_DELAY", raising=False)


def _read(app, fn):
    from grants.extensions import db

    with app.app_context():
        try:
            return fn(db.session)
        finally:
            db.session.remove()


def _run(app, run_id):
    from grants.funding.models import ScheduleRun

    def _get(session):
        run = session.get(ScheduleRun, run_id)
        return (run.status.value, run.progress, run.total, run.result)

    return _read(app, _get)


def _tranches(app, call_id):
    from grants.applications.models import Application
    from grants.funding.models import Award, Tranche
    from grants.organisations.models import Organisation

    def _get(session):
        rows = session.execute(
            sa.select(Organisation.name, Tranche.year, Tranche.amount)
            .join(Award, Award.id == Tranche.award_id)
            .join(Application, Application.id == Award.application_id)
            .join(Organisation, Organisation.id == Application.organisation_id)
            .where(Award.call_id == call_id)
            .order_by(Organisation.name, Tranche.year)
        ).all()
        result: dict = {}
        for name, _year, amount in rows:
            result.setdefault(name, []).append(int(amount))
        return {name: tuple(v) for name, v in result.items()}

    return _read(app, _get)


def _notified(app):
    from grants.accounts.models import User
    from grants.notifications.models import Notification

    return _read(
        app,
        lambda s: sorted(
            s.scalars(
                sa.select(User.email)
                .join(Notification, Notification.recipient_id == User.id)
                .where(Notification.event == "award.schedule_ready")
            ).all()
        ),
    )


def _schedule_mails(worker, address):
    return [
        m for m in worker.mails() if address in str(m["To"]) and "échéancier" in str(m["Subject"])
    ]


def _request(app, call):
    """Ask for the schedules as staff do: the task is sent when the request commits."""
    from grants.accounts.models import User
    from grants.calls.models import Call
    from grants.extensions import db
    from grants.funding.operations import request_schedule

    with app.app_context():
        run = request_schedule(
            db.session.get(Call, call.call_id), db.session.get(User, call.staff_id)
        )
        db.session.commit()
        run_id = run.id
        db.session.remove()
    return run_id


def _wait_done(app, worker, run_id, timeout=60.0, log_path=None):
    done = wait_until(lambda: _run(app, run_id)[0] == "done", timeout)
    if not done:
        log = worker.log_tail() if worker else log_path.read_text()[-6000:]
        pytest.fail(
            f"run {run_id} not done after {timeout} s: {_run(app, run_id)[:3]}; worker log:\n{log}"
        )


def _assert_one_set_and_one_notice(app, worker, call):
    assert _tranches(app, call.call_id) == SEED_TRANCHES
    assert _notified(app) == sorted(f.member_email for f in call.files)
    # The worker delivers the six e-mails, once each (left a moment for duplicates).
    for file in call.files:
        worker.wait_for_mail(file.member_email, timeout=30)
    time.sleep(1.5)
    for file in call.files:
        assert len(_schedule_mails(worker, file.member_email)) == 1, file.member_email


def _start_worker(app, node: str, log_path: Path) -> subprocess.Popen:
    """A worker started like the ``celery_worker`` fixture's (same queue, database, broker),
    its mail to the file sink of the test app."""
    celery = app.extensions["celery"]
    env = dict(os.environ)
    env.update(
        {
            "GRANTS_INSTANCE_PATH": app.config["INSTANCE_PATH"],
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "SECRET_KEY": app.config["SECRET_KEY"],
            "CELERY_QUEUE": celery.conf.task_default_queue,
            "MAIL_BACKEND": "file",
            "MAIL_SINK_PATH": app.config["MAIL_SINK_PATH"],
            "PYTHONUNBUFFERED": "1",
            "GRANTS_SCHEDULE_TEST_DELAY": DELAY,
        }
    )
    env.pop("MAIL_SERVER", None)
    if celery.conf.broker_url.startswith("redis"):
        env["CELERY_BROKER_URL"] = celery.conf.broker_url
    else:
        env.pop("CELERY_BROKER_URL", None)
    cmd = [
        sys.executable, "-m", "celery", "-A", "worker", "worker", "--loglevel=INFO",
        "--concurrency=2", "-Q", celery.conf.task_default_queue, "-n", node,
        "--without-gossip", "--without-mingle",
    ]  # fmt: skip
    with log_path.open("ab") as log:
        return subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _kill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)  # the main process and its pool
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


def _ping(app, node: str) -> bool:
    try:
        replies = app.extensions["celery"].control.ping(destination=[node], timeout=1.0)
    except Exception:  # noqa: BLE001 (broker hiccup: not an answer)
        return False
    return any(node in reply for reply in replies)


class _Sink:
    """What ``_assert_one_set_and_one_notice`` needs of a worker: its delivered mails."""

    def __init__(self, app):
        self.app = app

    def mails(self):
        return read_file_sink(self.app.config["MAIL_SINK_PATH"])

    def wait_for_mail(self, to: str, timeout: float = 20.0):
        found = wait_until(lambda: [m for m in self.mails() if to in str(m["To"])], timeout)
        assert found, f"no mail to {to} after {timeout} s"
        return found[0]


def test_a_run_lost_with_its_whole_worker_completes_once_on_a_new_worker(
    app, laureates_call, tmp_path
):
    """SIGKILL a whole worker (main process and pool) in the middle of a run: the
    filesystem broker has dropped the message with it, Redis keeps it until its visibility
    timeout; the sweep sends the run again and a new worker completes it once.

    First in the module, with workers of its own: the module's ``celery_worker`` (started
    by the next tests) must not be there to take the messages."""
    from grants.funding.tasks import sweep_schedule_runs
    from tests.fixtures.core import RUN_ID
    from tests.fixtures.services import purge_queue

    celery = app.extensions["celery"]
    celery.set_default()
    purge_queue(app)
    log_path = tmp_path / "workers.log"
    node = f"grants-schedules-{RUN_ID}@{socket.gethostname()}"
    call = laureates_call()
    first = _start_worker(app, node, log_path)
    second = None
    try:
        assert wait_until(lambda: _ping(app, node), WORKER_START_TIMEOUT), log_path.read_text()
        run_id = _request(app, call)
        running = wait_until(lambda: _run(app, run_id)[0] == "running", 30, interval=0.05)
        assert running, log_path.read_text()
        _kill(first)
        time.sleep(1)
        assert _run(app, run_id)[0] == "running"  # left behind by the dead worker

        with app.app_context():
            assert sweep_schedule_runs(queued_seconds=0, running_seconds=0) == 1
        second = _start_worker(app, node, log_path)
        _wait_done(app, None, run_id, log_path=log_path)

        assert "stored" in TASK_DONE.findall(log_path.read_text())
        _assert_one_set_and_one_notice(app, _Sink(app), call)
    finally:
        _kill(first)
        if second is not None:
            second.send_signal(signal.SIGTERM)  # warm shutdown
            try:
                second.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
            _kill(second)


def test_a_schedule_task_sent_twice_leaves_one_set_of_tranches(app, celery_worker, laureates_call):
    from grants.funding.tasks import compute_schedules

    call = laureates_call()
    offset = celery_worker.log_size()
    run_id = _request(app, call)
    compute_schedules.delay(run_id)  # the same message, sent again

    finished = wait_until(lambda: len(TASK_DONE.findall(celery_worker.log_since(offset))) >= 2, 60)
    log = celery_worker.log_since(offset)
    assert finished, f"both deliveries did not finish; worker log:\n{log}"
    # Both may run at once (two pool processes): every write is absolute, so either
    # both store the same rows or the second finds the run finished.
    assert set(TASK_DONE.findall(log)) <= {"stored", "missing-or-finished"}, log
    status, progress, total, result = _run(app, run_id)
    assert (status, progress, total) == ("done", 6, 6)
    assert result["stored"] is True
    _assert_one_set_and_one_notice(app, celery_worker, call)


DELAYED = re.compile(r"schedule run (\d+): test delay of [0-9.]+ s in process (\d+)")


def _process_running(worker, run_id: int, offset: int) -> int | None:
    """The pool process that sleeps in the run (the task logs its pid)."""
    found = [
        int(pid) for run, pid in DELAYED.findall(worker.log_since(offset)) if int(run) == run_id
    ]
    return found[-1] if found else None


def test_a_run_redelivered_after_its_worker_process_is_killed_completes_once(
    app, celery_worker, laureates_call
):
    """SIGKILL the pool process while the task sleeps in its run: the message is given back
    (acks late + reject on worker lost), a new pool process resumes the run.

    Only that process is killed: an idle pool process may hold the pool's queue lock, and
    killing it can hang billiard's pool (a known limit), which is not what is tested."""
    call = laureates_call()
    offset = celery_worker.log_size()
    run_id = _request(app, call)
    pid = wait_until(lambda: _process_running(celery_worker, run_id, offset), 30, interval=0.05)
    assert pid, celery_worker.log_tail()
    assert _run(app, run_id)[0] == "running"
    os.kill(pid, signal.SIGKILL)  # the pool process in the middle of the run

    _wait_done(app, celery_worker, run_id)

    log = celery_worker.log_since(offset)
    assert "WorkerLostError" in log or "exited with" in log or "signal 9" in log, log
    assert TASK_DONE.findall(log)[-1] == "stored", log
    _assert_one_set_and_one_notice(app, celery_worker, call)
    assert celery_worker.alive()
