"""Benchmark of the degressive schedules (issue 5, point 6). Not a test: it prints times.

    .venv/bin/python bench/schedules.py [--awards 10000] [--repeat 5]

1. **Pure computation** (target: under 1 s): ``compute_schedule`` for a call of 10,000
   awards over 3 years (2016-18, envelopes in the seeds' 60:55:50 proportions), once
   when the table fits, once when the first year is short (the overflow report and both
   alternative tables are computed too). Best and median of ``--repeat`` runs.
2. **Stored path through the worker** (target: under 30 s): a decided call of 10,000
   accepted files in a scratch database (SQLite in a temporary folder, or the scratch
   PostgreSQL of ``BENCH_DATABASE_URL`` with the Redis of ``BENCH_REDIS_URL``), a real
   ``celery -A worker worker`` process, and the time from the staff's request until the
   run is done: awards synced, the whole table computed, 30,000 tranches upserted,
   10,000 laureates notified (see ``bench_stored_path``). ``--no-stored`` skips it.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grants.calls.rules import default_profile  # noqa: E402
from grants.funding.rules import ScheduleAward, compute_schedule  # noqa: E402

YEARS = (2016, 2017, 2018)
SHARES = (60, 55, 50)  # the seeds' 60,000 / 55,000 / 50,000


def make_call(count: int, seed: int = 2016) -> tuple[dict[int, Decimal], list[ScheduleAward]]:
    """``count`` awards of 1,000 to 30,000 EUR, ranks with ties, envelopes just enough."""
    rng = random.Random(seed)
    awards = [
        ScheduleAward(
            f"award-{n:05d}", Decimal(rng.randrange(1000, 30001)), rng.randrange(1, count)
        )
        for n in range(count)
    ]
    asked = sum(a.amount for a in awards)
    envelopes = {
        year: (asked * share / sum(SHARES)).quantize(Decimal(1)) + 1
        for year, share in zip(YEARS, SHARES, strict=True)
    }
    return envelopes, awards


def timed(repeat: int, run) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return times


def report(label: str, times: list[float], target: float | None = None) -> None:
    best, median = min(times), statistics.median(times)
    verdict = ""
    if target is not None:
        verdict = f"  (target < {target:g} s: {'met' if best < target else 'NOT met'})"
    print(f"{label}: best {best:.3f} s, median {median:.3f} s over {len(times)} runs{verdict}")


def bench_pure(count: int, repeat: int) -> None:
    envelopes, awards = make_call(count)
    result = compute_schedule(envelopes, awards)
    assert result.fits and not result.errors, "the benchmark call should fit"
    report(
        f"pure computation, {count} awards x {len(YEARS)} years (fits)",
        timed(repeat, lambda: compute_schedule(envelopes, awards)),
        target=1.0,
    )

    profile = default_profile(list(envelopes.values()))
    short = {**envelopes, YEARS[0]: (envelopes[YEARS[0]] / 2).quantize(Decimal(1))}
    result = compute_schedule(short, awards, profile=profile)
    assert not result.fits and result.alternatives is not None
    report(
        f"pure computation, {count} awards x {len(YEARS)} years "
        "(first year short: overflow + both alternatives)",
        timed(repeat, lambda: compute_schedule(short, awards, profile=profile)),
    )


# --- STORED PATH (issue 5, point 2) --------------------------------------------------------
#
# A scratch instance (never the developer's instance/): SQLite in a temporary folder and the
# filesystem broker under it, or the PostgreSQL database of BENCH_DATABASE_URL (its schema is
# dropped and recreated: give it a scratch database) with the Redis of BENCH_REDIS_URL. A
# decided call of ``count`` accepted files (one organisation and one member each, committee
# decisions) is inserted in bulk; a real ``celery -A worker worker`` process is started on
# the scratch instance; then the clock runs from the staff's request (awards synced, the
# run committed, the message sent) until the run is ``done`` with every tranche committed
# and every laureate notified (the e-mails themselves are sent afterwards, not timed).


def _scratch_env(folder: Path) -> dict[str, str]:
    env = {
        "GRANTS_INSTANCE_PATH": str(folder),
        "SECRET_KEY": "bench-not-secret",
        "CELERY_QUEUE": f"bench-schedules-{os.getpid()}",
        "MAIL_BACKEND": "file",
        "MAIL_SINK_PATH": str(folder / "mail"),
        "RATELIMIT_STORAGE_URI": "memory://",
        "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL")
        or f"sqlite:///{folder / 'bench.sqlite'}",
    }
    if os.environ.get("BENCH_REDIS_URL"):
        env["CELERY_BROKER_URL"] = os.environ["BENCH_REDIS_URL"]
    return env


def _fill(app, count: int, seed: int = 2016) -> tuple[int, int]:
    """Insert a closed call with ``count`` accepted, decided files; (call id, staff id)."""
    import sqlalchemy as sa

    from grants.accounts.models import User, UserRole
    from grants.applications.models import Application, ApplicationStatus
    from grants.calls.models import Call, CallKind, CallStatus, CallYear
    from grants.core.db import utcnow
    from grants.core.enums import Role
    from grants.core.models import default_funder
    from grants.decisions.models import CommitteeSession, Decision, Outcome
    from grants.extensions import db
    from grants.organisations.models import LegalForm, Membership, Organisation

    envelopes, awards = make_call(count, seed)
    now = utcnow()
    funder = default_funder()
    call = Call(
        funder_id=funder.id,
        kind=CallKind.project_call,
        status=CallStatus.closed,
        title="Appel à projets (banc d'essai)",
        reference_prefix="BENCH",
        opens_at=now - timedelta(days=60),
        closes_at=now - timedelta(days=30),
        published_at=now - timedelta(days=61),
        reviews_required=1,
    )
    call.years = [CallYear(year=y, envelope=e) for y, e in envelopes.items()]
    staff = User(email="agent@bench.example", full_name="Agent", password_hash="!")  # noqa: S106
    staff.role_rows = [UserRole(role=Role.staff)]
    db.session.add_all([call, staff])
    db.session.flush()
    session = CommitteeSession(call_id=call.id, held_on=now.date(), members_present=["X"])
    db.session.add(session)
    db.session.flush()
    rows = range(count)
    db.session.execute(
        sa.insert(User),
        [
            {"email": f"laureat{n}@bench.example", "full_name": f"L {n}", "password_hash": "x"}
            for n in rows
        ],
    )
    users = dict(
        db.session.execute(sa.select(User.email, User.id).where(User.email.like("laureat%"))).all()
    )
    db.session.execute(
        sa.insert(Organisation),
        [
            {"name": f"Structure {n:05d}", "legal_form": LegalForm.scop, "siret": f"{n:014d}"}
            for n in rows
        ],
    )
    orgs = dict(db.session.execute(sa.select(Organisation.name, Organisation.id)).all())
    db.session.execute(
        sa.insert(Membership),
        [
            {
                "organisation_id": orgs[f"Structure {n:05d}"],
                "user_id": users[f"laureat{n}@bench.example"],
            }
            for n in rows
        ],
    )
    db.session.execute(
        sa.insert(Application),
        [
            {
                "call_id": call.id,
                "organisation_id": orgs[f"Structure {n:05d}"],
                "status": ApplicationStatus.accepted,
                "title": f"Projet {n}",
                "sequence": n + 1,
                "reference": f"BENCH-{n + 1:05d}",
                "submitted_at": now - timedelta(days=40),
                "decided_at": now - timedelta(days=1),
            }
            for n in rows
        ],
    )
    applications = dict(
        db.session.execute(
            sa.select(Application.reference, Application.id).where(Application.call_id == call.id)
        ).all()
    )
    db.session.execute(
        sa.insert(Decision),
        [
            {
                "application_id": applications[f"BENCH-{n + 1:05d}"],
                "session_id": session.id,
                "outcome": Outcome.accepted,
                "awarded_total": award.amount,
                "decided_at": now - timedelta(days=1),
            }
            for n, award in enumerate(awards)
        ],
    )
    call.awarded_total = sum((a.amount for a in awards), Decimal(0))
    db.session.commit()
    return call.id, staff.id


def celery_broker(app) -> str:
    return app.extensions["celery"].conf.broker_url.split(":", 1)[0]


def _start_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    cmd = [
        sys.executable, "-m", "celery", "-A", "worker", "worker", "--loglevel=WARNING",
        "--concurrency=2", "-Q", env["CELERY_QUEUE"], "-n", f"bench-{os.getpid()}@%h",
        "--without-gossip", "--without-mingle",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        return subprocess.Popen(
            cmd,
            cwd=ROOT,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop_worker(process: subprocess.Popen) -> None:
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


def bench_stored_path(count: int) -> float | None:
    """The stored path through a real worker process: seconds from the staff's request to
    the run done (every tranche and notification committed)."""
    import sqlalchemy as sa

    with tempfile.TemporaryDirectory(prefix="bench-schedules-") as tmp:
        folder = Path(tmp)
        env = _scratch_env(folder)
        os.environ.update(env)
        if "CELERY_BROKER_URL" not in env:
            os.environ.pop("CELERY_BROKER_URL", None)  # the scratch filesystem broker
        from flask_migrate import upgrade

        from grants import create_app
        from grants.accounts.models import User
        from grants.calls.models import Call
        from grants.extensions import db
        from grants.funding.models import RunStatus, ScheduleRun, Tranche
        from grants.funding.operations import request_schedule

        app = create_app({"TESTING": False})
        with app.app_context():
            if db.engine.dialect.name == "postgresql":
                with db.engine.begin() as conn:
                    conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            upgrade()
            start = time.perf_counter()
            call_id, staff_id = _fill(app, count)
            setup = time.perf_counter() - start
            print(f"  (setup: {count} decided files inserted in {setup:.1f} s, database "
                  f"{db.engine.dialect.name}, broker {celery_broker(app)})")  # fmt: skip
            db.session.remove()

        log_path = folder / "worker.log"
        worker = _start_worker(env, log_path)
        try:
            celery = app.extensions["celery"]
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if celery.control.ping(timeout=1.0):
                        break
                except Exception:  # noqa: BLE001 (broker not ready yet)
                    time.sleep(0.2)
            else:
                print("  the worker did not answer; its log:\n" + log_path.read_text()[-3000:])
                return None
            with app.app_context():
                start = time.perf_counter()
                call = db.session.get(Call, call_id)
                run = request_schedule(call, db.session.get(User, staff_id))
                db.session.commit()  # the message is sent here
                run_id = run.id
                db.session.remove()
                seen: list[int] = []
                while True:
                    row = db.session.get(ScheduleRun, run_id)
                    status, progress = row.status, row.progress
                    db.session.remove()
                    if status in (RunStatus.done, RunStatus.failed):
                        break
                    if status == RunStatus.running and (not seen or progress != seen[-1]):
                        seen.append(progress)
                    if time.perf_counter() - start > 600:
                        print("  gave up after 600 s; worker log:\n" + log_path.read_text()[-3000:])
                        return None
                    time.sleep(0.1)
                elapsed = time.perf_counter() - start
                run = db.session.get(ScheduleRun, run_id)
                tranches = db.session.scalar(sa.select(sa.func.count(Tranche.id)))
                result = run.result or {}
                print(
                    f"  (run {run.status.value}: {run.progress}/{run.total} awards, {tranches} "
                    f"tranches, {result.get('notified')} notifications, stored: "
                    f"{result.get('stored')}; progress seen while running: "
                    f"{' → '.join(map(str, seen)) or '—'}; through a real worker process)"
                )
                db.session.remove()
                if run.status != RunStatus.done or not result.get("stored"):
                    return None
            return elapsed
        finally:
            _stop_worker(worker)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--awards", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-stored", action="store_true", help="skip the stored path")
    args = parser.parse_args(argv)

    bench_pure(args.awards, args.repeat)
    if args.no_stored:
        return 0
    stored = bench_stored_path(args.awards)
    if stored is None:
        print(f"stored path through the worker, {args.awards} awards: not measured (see above)")
    else:
        verdict = "met" if stored < 30 else "NOT met"
        print(
            f"stored path through the worker, {args.awards} awards: {stored:.1f} s "
            f"(target < 30 s: {verdict})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
