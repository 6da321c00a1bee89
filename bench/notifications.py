"""Benchmark (not a test): deliver 10,000 e-mails through real Celery workers on Redis.

    python bench/notifications.py [--mails 10000] [--concurrency 2]

What is timed: from the commit of one ``notify`` to 10,000 users (10,000 ledger rows and
10,000 mail rows, written in one transaction; the batch tasks are enqueued at the commit)
until a local SMTP server (aiosmtpd) has received every message and every row is marked
sent — claims, SMTP and the ``sent`` commits included. Target: under 60 s with 2 worker
processes (``celery worker --concurrency=2``).

Environment: ``REDIS_URL`` (default ``redis://127.0.0.1:6379/12``; the bench uses its own
queue there) and ``DATABASE_URL`` (default: a temporary PostgreSQL database on
``postgresql://postgres@127.0.0.1:5432``, dropped at the end, else SQLite in a temporary
folder). Nothing of the developer's ``instance/`` is used.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_REDIS = "redis://127.0.0.1:6379/12"
DEFAULT_PG_SERVER = "postgresql://postgres@127.0.0.1:5432"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class CountingSink:
    """An aiosmtpd handler that only counts (parsing 10,000 messages is not the point)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.count = 0
        self.recipients: set[str] = set()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd API)
        with self.lock:
            self.count += 1
            self.recipients.update(envelope.rcpt_tos)
        return "250 Message accepted for delivery"


def temporary_database(folder: Path) -> tuple[str, Callable[[], None]]:
    """DATABASE_URL, else a fresh PostgreSQL database, else SQLite; and its cleanup."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url, lambda: None
    try:
        import psycopg

        name = f"grants_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        admin = f"{DEFAULT_PG_SERVER}/postgres"
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

        def _drop():
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        return f"{DEFAULT_PG_SERVER}/{name}", _drop
    except Exception as exc:  # no PostgreSQL here: the embedded default
        print(f"(PostgreSQL unavailable: {exc.__class__.__name__}; using SQLite)")
        return f"sqlite:///{folder / 'bench.sqlite'}", lambda: None


def start_worker(env: dict, queue: str, concurrency: int, log_path: Path) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "worker",
        "worker",
        "--loglevel=WARNING",
        f"--concurrency={concurrency}",
        "-Q",
        queue,
        "-n",
        f"bench-{uuid.uuid4().hex[:6]}@%h",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    log = log_path.open("wb")
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def stop_worker(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()

    from aiosmtpd.controller import Controller

    folder = Path(tempfile.mkdtemp(prefix="grants-bench-"))
    database_url, drop_database = temporary_database(folder)
    redis_url = os.environ.get("REDIS_URL", DEFAULT_REDIS)
    queue = f"grants-bench-{uuid.uuid4().hex[:8]}"
    sink = CountingSink()
    smtp_port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port, ready_timeout=10)
    controller.start()

    env = dict(os.environ)
    for name in ("MAIL_USERNAME", "MAIL_PASSWORD", "MAIL_USE_TLS", "MAIL_USE_SSL"):
        env.pop(name, None)
    env.update(
        {
            "GRANTS_INSTANCE_PATH": str(folder / "instance"),
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": redis_url,
            "CELERY_QUEUE": queue,
            "MAIL_BACKEND": "smtp",
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(smtp_port),
            "SECRET_KEY": "bench-secret-key",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    os.environ.update(env)
    worker = app = None
    try:
        from flask_migrate import upgrade

        from grants import create_app

        app = create_app()
        with app.app_context():
            upgrade()
        celery = app.extensions["celery"]
        with celery.connection_for_write() as conn:
            conn.default_channel.queue_purge(queue)

        worker = start_worker(env, queue, args.concurrency, folder / "worker.log")
        deadline = time.monotonic() + 60
        while not celery.control.ping(timeout=0.5):
            if worker.poll() is not None or time.monotonic() > deadline:
                print((folder / "worker.log").read_text()[-4000:])
                raise SystemExit("the worker did not start")

        import sqlalchemy as sa

        from grants.accounts.models import User
        from grants.core.db import utcnow
        from grants.core.models import MailStatus, OutgoingMail
        from grants.extensions import db
        from grants.notifications.operations import notify

        with app.app_context():
            now = utcnow()
            db.session.execute(
                sa.insert(User),
                [
                    {
                        "email": f"membre{i:05d}@example.org",
                        "full_name": f"Membre {i}",
                        "password_hash": "bench",
                        "session_token": uuid.uuid4().hex,
                        "email_confirmed_at": now,
                    }
                    for i in range(args.mails)
                ],
            )
            db.session.commit()
            users = db.session.scalars(sa.select(User).order_by(User.id)).all()

            started = time.perf_counter()
            notify(
                "bench.delivery",
                users[0],
                users,
                subject="Clôture reportée : Appel à projets ESS 2026",
                template="calls/closing_extended",
                context={
                    "call": {"title": "Appel à projets ESS 2026"},
                    "applications": [],
                    "old_closes": now,
                    "new_closes": now,
                },
                occurrence="bench",
                link="http://127.0.0.1:5000/appels/1",
            )
            recorded = time.perf_counter()
            db.session.commit()  # the batch tasks are published here
            committed = time.perf_counter()
            db.session.remove()

            last_print = 0.0
            while True:
                sent = db.session.scalar(
                    sa.select(sa.func.count())
                    .select_from(OutgoingMail)
                    .where(OutgoingMail.status == MailStatus.sent)
                )
                db.session.remove()
                elapsed = time.perf_counter() - committed
                if sent >= args.mails and sink.count >= args.mails:
                    break
                if elapsed > args.timeout:
                    raise SystemExit(f"timeout: {sent} sent, {sink.count} received")
                if elapsed - last_print >= 5:
                    last_print = elapsed
                    print(f"  {elapsed:5.1f} s: {sink.count} received, {sent} marked sent")
                time.sleep(0.1)
            delivered = time.perf_counter() - committed
            dialect = db.engine.dialect.name

        print(
            f"notify to {args.mails} users: {recorded - started:.1f} s to write the ledger "
            f"and mail rows, {committed - recorded:.1f} s to commit and enqueue"
        )
        print(
            f"delivered {sink.count} e-mails ({len(sink.recipients)} recipients) in "
            f"{delivered:.1f} s = {sink.count / delivered:.0f} e-mails/s — "
            f"{args.concurrency} worker processes, Redis broker, {dialect} database, "
            f"SMTP (aiosmtpd) on 127.0.0.1 (target: < 60 s)"
        )
        return 0 if delivered < 60 else 1
    finally:
        if worker is not None:
            stop_worker(worker)
        controller.stop()
        if app is not None:
            with app.app_context():
                from grants.extensions import db

                db.engine.dispose()  # no connection left open on the database to drop
        drop_database()


if __name__ == "__main__":
    raise SystemExit(main())
