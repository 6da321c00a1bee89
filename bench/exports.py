"""Benchmark of the exports (issue 6): a 100,000-row XLSX export. Not a test: it prints the
time and the peak memory (targets: under 60 s, under 300 MB peak RSS).

    .venv/bin/python bench/exports.py [--rows 100000] [--format xlsx|csv]
    BENCH_DATABASE_URL=postgresql://user@host/db .venv/bin/python bench/exports.py

1. A temporary SQLite database (or the empty PostgreSQL database of BENCH_DATABASE_URL,
   whose tables are dropped and recreated: use a scratch database) is migrated and filled
   with ``--rows`` payments: 1,000 organisations, 1,000 accepted files with their awards
   and conventions, 3 yearly tranches each, and the payments spread over the tranches.
2. The export runs in a **fresh child process**, through the worker's task function
   (``grants.exports.tasks.run``) in-process: an ExportJob of kind ``payments``, streamed
   from the database into an openpyxl write-only workbook, stored with the configured
   storage. The child reports the wall time of the task and its peak RSS
   (``resource.getrusage(RUSAGE_SELF).ru_maxrss``, which includes the interpreter and the
   application: the baseline right before the export is printed too) and its CPU time
   (the wall time depends on what else the machine runs). Filling the database happens
   in the parent, so it does not count.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TIME_TARGET = 60.0
RSS_TARGET_MB = 300.0
FILES = 1000
YEARS = (2016, 2017, 2018)
BATCH = 10_000


def peak_rss_mb() -> float:
    # Linux reports ru_maxrss in kilobytes (macOS in bytes).
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value / (1024 * 1024) if sys.platform == "darwin" else value / 1024


def current_rss_mb() -> float | None:
    """The resident set size now (Linux), to show that it stays flat during the export."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def environment(instance: Path, database_url: str) -> dict:
    env = dict(os.environ)
    for name in ("CELERY_BROKER_URL", "MAIL_SERVER", "STORAGE_BACKEND"):
        env.pop(name, None)
    env.update(
        {
            "GRANTS_INSTANCE_PATH": str(instance),
            "DATABASE_URL": database_url,
            "SECRET_KEY": "bench-not-secret",
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


def fill(rows: int) -> None:
    """Migrate the database of the environment and insert ``rows`` payments."""
    import sqlalchemy as sa
    from flask_migrate import upgrade
    from stdnum import luhn

    from grants import create_app
    from grants.applications.models import Application
    from grants.calls.models import Call, CallYear
    from grants.core.models import default_funder
    from grants.extensions import db
    from grants.funding.models import Award, Tranche
    from grants.organisations.models import Organisation
    from grants.payments.models import Convention, Payment

    app = create_app()
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade(directory=str(ROOT / "migrations"))
        funder_id = default_funder().id
        now = datetime.now(UTC)
        call = Call(
            funder_id=funder_id,
            kind="project_call",
            status="closed",
            title="Appel à projets ESS 2016 (banc d'essai)",
            reference_prefix="AAP-2016",
            opens_at=now - timedelta(days=60),
            closes_at=now - timedelta(days=30),
            published_at=now - timedelta(days=61),
            years=[CallYear(year=y, envelope=Decimal("100000000")) for y in YEARS],
        )
        db.session.add(call)
        db.session.commit()
        call_id = call.id

        def siret(n: int) -> str:
            siren = f"{40000000 + n:08d}"
            siren += luhn.calc_check_digit(siren)
            body = siren + f"{n % 10000:04d}"
            return body + luhn.calc_check_digit(body)

        def insert(model, values):
            db.session.execute(sa.insert(model), values)

        insert(
            Organisation,
            [
                {
                    "id": n,
                    "name": f"Structure solidaire n° {n}",
                    "legal_form": "scop",
                    "siret": siret(n),
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(1, FILES + 1)
            ],
        )
        insert(
            Application,
            [
                {
                    "id": n,
                    "call_id": call_id,
                    "organisation_id": n,
                    "status": "accepted",
                    "reference": f"AAP-2016-{n:04d}",
                    "sequence": n,
                    "title": f"Projet de l'économie sociale n° {n}",
                    "submitted_at": now - timedelta(days=40),
                    "decided_at": now - timedelta(days=20),
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(1, FILES + 1)
            ],
        )
        insert(
            Award,
            [
                {
                    "id": n,
                    "application_id": n,
                    "call_id": call_id,
                    "total": Decimal("3000000"),
                    "rank": n,
                    "status": "in_payment",
                    "allocated_total": Decimal("3000000"),
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(1, FILES + 1)
            ],
        )
        insert(
            Convention,
            [
                {"award_id": n, "reference": f"CONV-AAP-2016-{n:04d}", "created_at": now}
                for n in range(1, FILES + 1)
            ],
        )
        tranche_ids = list(range(1, FILES * len(YEARS) + 1))
        insert(
            Tranche,
            [
                {
                    "id": t,
                    "award_id": (t - 1) // len(YEARS) + 1,
                    "year": YEARS[(t - 1) % len(YEARS)],
                    "amount": Decimal("1000000"),
                    "requested_amount": Decimal("1000000"),
                    "paid_amount": Decimal("1000000"),
                    "status": "paid",
                    "created_at": now,
                    "updated_at": now,
                }
                for t in tranche_ids
            ],
        )
        db.session.commit()
        for start in range(0, rows, BATCH):
            insert(
                Payment,
                [
                    {
                        "tranche_id": tranche_ids[n % len(tranche_ids)],
                        "amount": Decimal("27.50") + n % 100,
                        "status": "paid",
                        "requested_at": now,
                        "validated_at": now,
                        "paid_on": date(2016, 1, 1) + timedelta(days=n % 700),
                        "order_ref": f"MANDAT-{n:06d}",
                        "note": "Versement de la tranche annuelle",
                    }
                    for n in range(start, min(start + BATCH, rows))
                ],
            )
            db.session.commit()
        count = db.session.scalar(sa.select(sa.func.count()).select_from(Payment))
        db.session.remove()
    print(f"database filled: {count} payments ({FILES} files, {len(tranche_ids)} tranches)")


def child(format_: str) -> None:
    """Run the export through the task function; print the figures as JSON."""
    from grants import create_app
    from grants.core.storage import get_storage
    from grants.exports import tasks
    from grants.exports.models import ExportFormat, ExportJob, ExportKind
    from grants.extensions import db

    app = create_app()
    with app.app_context():
        job = ExportJob(kind=ExportKind.payments, format=ExportFormat(format_), params={})
        db.session.add(job)
        db.session.commit()
        job_id = job.id
        db.session.remove()
        samples: list[tuple[int, float]] = []
        write = tasks._write

        def sampling_write(job_id, stamp, **values):
            # every progress write (each 1,000 rows): the RSS at that point
            if "progress" in values and (rss := current_rss_mb()) is not None:
                samples.append((values["progress"], rss))
            return write(job_id, stamp, **values)

        tasks._write = sampling_write
        baseline = peak_rss_mb()
        cpu_start = time.process_time()
        start = time.perf_counter()
        outcome = tasks.run(job_id)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
        job = db.session.get(ExportJob, job_id)
        size = len(get_storage().read(job.file_key)) if job.file_key else 0
        print(
            json.dumps(
                {
                    "outcome": outcome,
                    "error": job.error,
                    "rows": job.total,
                    "progress": job.progress,
                    "seconds": elapsed,
                    "cpu_seconds": cpu,
                    "baseline_mb": baseline,
                    "peak_mb": peak_rss_mb(),
                    "bytes": size,
                    "rss_samples": samples,
                    "database": db.engine.dialect.name,
                }
            )
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--format", choices=["xlsx", "csv"], default="xlsx")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.format)
        return 0

    with tempfile.TemporaryDirectory(prefix="grants-bench-exports-") as folder:
        instance = Path(folder)
        url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{instance / 'bench.sqlite'}"
        env = environment(instance, url)
        os.environ.update(env)
        start = time.perf_counter()
        fill(args.rows)
        print(f"(filling took {time.perf_counter() - start:.1f} s; not measured)")
        result = subprocess.run(
            [sys.executable, __file__, "--child", "--format", args.format],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            print(result.stdout, result.stderr, sep="\n")
            return 1
        figures = json.loads(result.stdout.strip().splitlines()[-1])
    if figures["outcome"] != "done":
        print(f"the export did not finish: {figures}")
        return 1
    time_ok = figures["seconds"] < TIME_TARGET
    rss_ok = figures["peak_mb"] < RSS_TARGET_MB
    print(
        f"{args.format.upper()} export of "
        f"{figures['rows']} payments on {figures['database']}: "
        f"{figures['seconds']:.1f} s (target < {TIME_TARGET:g} s: "
        f"{'met' if time_ok else 'NOT met'}; {figures['cpu_seconds']:.1f} s of CPU), "
        f"peak RSS {figures['peak_mb']:.0f} MB (target < {RSS_TARGET_MB:g} MB: "
        f"{'met' if rss_ok else 'NOT met'}; {figures['baseline_mb']:.0f} MB before the export), "
        f"file {figures['bytes'] / 1e6:.1f} MB"
    )
    samples = figures["rss_samples"]
    if samples:
        first, last = samples[0], samples[-1]
        highest = max(samples, key=lambda s: s[1])
        print(
            f"RSS during the export: {first[1]:.0f} MB at {first[0]} rows, "
            f"{highest[1]:.0f} MB at most (at {highest[0]} rows), {last[1]:.0f} MB at "
            f"{last[0]} rows"
        )
    return 0 if time_ok and rss_ok else 2


if __name__ == "__main__":
    sys.exit(main())
