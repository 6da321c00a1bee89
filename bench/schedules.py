"""Benchmark of the degressive schedules (issue 5, point 6). Not a test: it prints times.

    .venv/bin/python bench/schedules.py [--awards 10000] [--repeat 5]

1. **Pure computation** (target: under 1 s): ``compute_schedule`` for a call of 10,000
   awards over 3 years (2016-18, envelopes in the seeds' 60:55:50 proportions), once
   when the table fits, once when the first year is short (the overflow report and both
   alternative tables are computed too). Best and median of ``--repeat`` runs.
2. **Stored path through the worker** (target: under 30 s): see ``bench_stored_path``
   below — to be written once the worker task that stores the tranches exists. Until
   then nothing is measured and nothing is printed as a figure.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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


# --- STORED PATH (issue 5, point 2) — TO BE WRITTEN --------------------------------------
#
# To measure, once the worker task exists: create a decided call of 10,000 accepted awards
# in a scratch database (never the real one), send the schedule task to a real worker
# (``celery -A worker worker``), wait until the tranches are stored, and time the whole
# path (task sent → every tranche row committed). Target: under 30 s. Return the seconds
# measured, or None when not measured; never print a figure that was not measured.


def bench_stored_path(count: int) -> float | None:
    """The stored path through the worker: NOT IMPLEMENTED YET (returns None)."""
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--awards", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    bench_pure(args.awards, args.repeat)
    stored = bench_stored_path(args.awards)
    if stored is None:
        print(
            f"stored path through the worker, {args.awards} awards: not measured "
            "(the worker task is not written yet)"
        )
    else:
        verdict = "met" if stored < 30 else "NOT met"
        print(
            f"stored path through the worker, {args.awards} awards: {stored:.1f} s "
            f"(target < 30 s: {verdict})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
