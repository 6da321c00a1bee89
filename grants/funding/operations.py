"""Schedules: awards from decisions, the worker's computation and storage, staff actions.

Never commits (the worker task in :mod:`grants.funding.tasks` and the views do).

**Awards** (:func:`sync_awards`): one per accepted file, upserted (``INSERT … ON CONFLICT
(application_id) DO NOTHING``) with the committee's amount — for an investment aid,
capped by the call's share of the eligible expenses and by its ceiling (warning). Once
made, an award's total is its own: a new decision on the file resets it to the decided
amount (the decision hook passes the file in ``refresh``), a staff reduction (an applied
alternative) stays, and it never exceeds the decision. Awards whose decision is no longer
an acceptance are removed — unless money moved on them (a validated, paid or requested
tranche, a signed convention): then they are kept and reported.

**The computation** (:func:`prepare`, :func:`store_chunk`, :func:`finish`, driven by the
task): every award of the call at once through
:func:`~grants.funding.investment.compute_for_call` (degressive for a call for projects,
the payment rule for an investment aid), the awards blocked by the de minimis cap left
out. When the table does not fit, **nothing is stored**: the run reports the overflow and
the two alternatives, and staff choose (:func:`apply_alternative`). When it fits, the
tranches are upserted per (award, year) (``INSERT … ON CONFLICT (award_id, year) DO
UPDATE … WHERE`` the stored tranche is neither validated, paid, cancelled nor requested:
the database itself never overwrites money that moved). An award whose stored tranche is
locked and differs from the computed one is not touched at all — the conflict is
reported — so its row always sums to its total; its total and ``allocated_total`` (the
sum of its tranches, written from the exact Decimal sum, CHECK ≤ total) are set in the
same statement. Every write is absolute (never an increment), so a task that runs twice,
or twice at once, leaves the same rows.

**Notifications** (the notification ledger of :mod:`grants.notifications`): each
laureate's members get ``award.schedule_ready`` once per distinct schedule (occurrence = a
hash of the award's tranches: a re-run that finds the same tranches notifies nobody, a
changed schedule notifies again), with its essential e-mail; they are written a chunk at
a time (:func:`_notify_laureates`). The staff member who asked gets an in-app notice of
the run's outcome (occurrence: the run), without e-mail.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from grants.accounts.models import User
from grants.audit.operations import record
from grants.calls.models import Call, CallKind, CallStatus
from grants.core.db import utcnow
from grants.core.mail import SUBJECT_MAX, enqueue_mails, record_mails, render_mail
from grants.core.money import format_money
from grants.core.tasks import enqueue_after_commit
from grants.extensions import db
from grants.funding import queries
from grants.funding.investment import compute_for_call
from grants.funding.models import (
    AWARD_TRANSITIONS,
    Award,
    AwardStatus,
    RunStatus,
    ScheduleRun,
    Tranche,
    TrancheStatus,
)
from grants.funding.rules import (
    ScheduleAward,
    ScheduleInputError,
    ScheduleResult,
    format_amount,
    result_to_json,
)
from grants.notifications.models import Notification

ZERO = Decimal("0")
#: awards stored (and progress committed) per transaction
CHUNK = 500
#: statuses in which a call's schedules may be computed
SCHEDULABLE_CALLS = (CallStatus.closed, CallStatus.decided)
#: awards whose schedule may still change (AWARD_TRANSITIONS → scheduled)
RESCHEDULABLE = {s for s, targets in AWARD_TRANSITIONS.items() if AwardStatus.scheduled in targets}
EVENT_READY = "award.schedule_ready"
EVENT_RUN = "schedule_run.finished"
ALTERNATIVE_LABELS = {
    "proportional": "réduction proportionnelle",
    "by_rank": "financement par rang",
}


class ScheduleError(ValueError):
    """A refused schedule action, in French (``fields``: per input)."""

    def __init__(
        self, message: str = "", fields: dict[str, list[str]] | None = None, status: int = 409
    ):
        self.fields = fields or {}
        self.status = status
        self.message = message or next(
            (msgs[0] for msgs in self.fields.values() if msgs), "Action refusée."
        )
        super().__init__(self.message)


class ConcurrentChange(RuntimeError):
    """A tranche changed between the read and the write (a payment): retry the run."""


def _require_staff(actor: User | None) -> None:
    if not (actor and actor.is_authenticated and actor.is_staff):
        raise ScheduleError("Réservé aux agents du service.", status=403)


def _insert(table):
    dialect = db.session.get_bind().dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


def _money(value: Decimal) -> str:
    return format(Decimal(value).quantize(Decimal("0.01")), "f")


# --- Awards from decisions ------------------------------------------------------------------


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    #: kept although no longer accepted (money moved on them): reference → why
    orphans: dict[str, str] = field(default_factory=dict)
    #: investment caps: reference → warning
    warnings: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "created": len(self.created),
            "changed": self.changed,
            "removed": self.removed,
            "orphans": self.orphans,
        }


def _removable(award: Award) -> bool:
    return award.status in RESCHEDULABLE and not any(queries.is_locked(t) for t in award.tranches)


def sync_awards(
    call: Call, actor: User | None = None, refresh: Iterable[int] = ()
) -> tuple[SyncReport, dict[int, queries.Target]]:
    """Upsert one award per accepted file of ``call`` (module docstring); returns the
    report and the targets. ``refresh``: files whose decision just changed."""
    refresh = set(refresh)
    report = SyncReport()
    targets = queries.award_targets(call)
    unfunded = queries.unfunded_applications(call, targets) - refresh
    awards = {a.application_id: a for a in queries.call_awards(call.id)}
    for target in targets.values():
        if target.warning:
            report.warnings[target.reference] = target.warning

    new = [t for app_id, t in targets.items() if app_id not in awards and app_id not in unfunded]
    if new:
        now = utcnow()
        table = Award.__table__
        db.session.execute(
            _insert(table).on_conflict_do_nothing(index_elements=["application_id"]),
            [
                {
                    "application_id": t.application_id,
                    "call_id": call.id,
                    "total": t.total,
                    "rank": t.rank,
                    "status": AwardStatus.proposed.value,
                    "allocated_total": ZERO,
                    "created_at": now,
                    "updated_at": now,
                }
                for t in new
            ],
        )
        report.created = [t.reference for t in new]

    updates = []
    for application_id, award in awards.items():
        target = targets.get(application_id)
        reference = queries.reference_of(award.application.reference, application_id)
        if target is None or application_id in unfunded:
            if _removable(award):
                db.session.delete(award)
                report.removed.append(reference)
            else:
                report.orphans[reference] = (
                    "Le dossier n'est plus retenu mais des tranches de cette aide sont "
                    "validées, versées ou demandées (ou sa convention est signée) : elle "
                    "est conservée ; régularisez-la (reversement, avenant)."
                )
            continue
        total = target.total if application_id in refresh else min(award.total, target.total)
        values = {}
        if award.rank != target.rank:
            values["rank"] = target.rank
        # A lower total than the stored schedule waits for the new tranches (same statement).
        if total != award.total and total >= award.allocated_total:
            values["total"] = total
            report.changed[reference] = [_money(award.total), _money(total)]
        if values:
            updates.append({"b_id": award.id, **values})
    for values in updates:
        award_id = values.pop("b_id")
        db.session.execute(
            sa.update(Award)
            .where(Award.id == award_id, Award.allocated_total <= values.get("total", Award.total))
            .values(**values, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    db.session.flush()
    if report.created or report.changed or report.removed:
        record(
            actor,
            "schedule.awards_synced",
            call,
            summary=f"Aides de l'appel « {call.title} » mises à jour depuis les décisions : "
            f"{len(report.created)} créée(s), {len(report.changed)} modifiée(s), "
            f"{len(report.removed)} retirée(s)",
            changes={
                "created": [None, report.created[:50]],
                "changed": [None, dict(list(report.changed.items())[:50])],
                "removed": [None, report.removed[:50]],
            },
        )
    for award in awards.values():  # stale after the Core UPDATEs (deleted ones are gone)
        if award in db.session:
            db.session.expire(award)
    return report, targets


# --- Requesting a computation -------------------------------------------------------------------


def request_schedule(
    call: Call, actor: User | None, *, changed=None, enqueue: bool = True
) -> ScheduleRun | None:
    """Ask the worker for the schedules of ``call``: awards synced now, a run queued (a run
    still waiting is reused), the task sent after the commit.

    ``changed``: the file whose decision just changed (the decision hook); then nothing is
    done unless the call already has schedules, and the refusals are silent.
    """
    from grants.funding.tasks import compute_schedules

    if changed is not None:
        if not queries.has_runs(call.id) or call.status not in SCHEDULABLE_CALLS:
            return None
    else:
        _require_staff(actor)
        if call.status not in SCHEDULABLE_CALLS:
            raise ScheduleError(
                f"Les échéanciers se calculent sur un appel clos ou décidé (celui-ci est "
                f"« {call.status.label} »)."
            )
    report, targets = sync_awards(call, actor, refresh=[changed.id] if changed else ())
    if changed is not None and changed.id not in targets and not report.removed:
        return None  # a rejection or a wait-listing that leaves the awards as they were
    if not targets and changed is None:
        raise ScheduleError("Aucun dossier n'est retenu sur cet appel : rien à calculer.")
    run = queries.queued_run(call.id)
    if run is None:
        count = db.session.scalar(
            sa.select(sa.func.count(Award.id)).where(Award.call_id == call.id)
        )
        run = ScheduleRun(
            call_id=call.id,
            requested_by_id=getattr(actor, "id", None),
            status=RunStatus.queued,
            total=count or 0,
        )
        db.session.add(run)
        db.session.flush()
        record(
            actor,
            "schedule.requested",
            call,
            summary=f"Calcul des échéanciers de l'appel « {call.title} » demandé (n° {run.id})"
            + (" après une décision" if changed is not None else ""),
            changes={"run": [None, run.id]},
        )
    if enqueue:
        enqueue_after_commit(db.session, compute_schedules, run.id)
    return run


# --- The computation (worker) --------------------------------------------------------------------


@dataclass
class AwardPlan:
    award_id: int
    application_id: int
    reference: str
    organisation_id: int
    status: AwardStatus
    total: Decimal
    target: Decimal
    schedule_error: str | None
    stored: dict[int, tuple[Decimal, TrancheStatus, Decimal]]
    #: why it is left out of the computation (de minimis), if it is
    blocked: str | None = None
    orphan: bool = False


@dataclass
class Plan:
    call_id: int
    run_id: int
    kind: str
    result: ScheduleResult | None
    input_problems: list[str]
    awards: list[AwardPlan]
    sync: SyncReport
    blocked: dict[str, str] = field(default_factory=dict)
    conflicts: list[dict] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    written: int = 0
    unchanged: int = 0
    notified: int = 0

    @property
    def stores(self) -> bool:
        return self.result is not None and self.result.fits

    def rows(self) -> dict[str, object]:
        return {row.id: row for row in self.result.rows} if self.result else {}


def claim_run(run_id: int) -> ScheduleRun | None:
    """Mark the run running (queued → running, or a running one resumed after a
    redelivery); None when there is nothing to do (missing, finished)."""
    result = db.session.execute(
        sa.update(ScheduleRun)
        .where(
            ScheduleRun.id == run_id,
            ScheduleRun.status.in_([RunStatus.queued, RunStatus.running]),
        )
        # started_at: the last (re)start, which the sweep reads as the run's lease
        .values(status=RunStatus.running, started_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    run = db.session.get(ScheduleRun, run_id)
    db.session.refresh(run)
    return run


def newer_run(run: ScheduleRun) -> int | None:
    return db.session.scalar(
        sa.select(sa.func.max(ScheduleRun.id)).where(
            ScheduleRun.call_id == run.call_id, ScheduleRun.id > run.id
        )
    )


def mark_superseded(run: ScheduleRun, newer: int) -> None:
    run.status = RunStatus.done
    run.finished_at = utcnow()
    run.result = {"superseded_by": newer, "stored": False}


def _envelopes(call: Call) -> dict[int, Decimal]:
    return {y.year: y.envelope for y in call.years}


def _profile(call: Call) -> list[Decimal] | None:
    return [Decimal(str(w)) for w in call.profile] if call.profile else None


def prepare(run: ScheduleRun) -> Plan:
    """Sync the awards, load them with their tranches and compute the whole table."""
    call = queries.get_call(run.call_id)
    requester = db.session.get(User, run.requested_by_id) if run.requested_by_id else None
    report, targets = sync_awards(call, requester)
    call = queries.get_call(run.call_id)
    awards = queries.call_awards(call.id)
    by_application = {a.application_id: a for a in awards}
    checks = queries.de_minimis_checks(targets, by_application)
    plans: list[AwardPlan] = []
    blocked: dict[str, str] = {}
    for award in awards:
        target = targets.get(award.application_id)
        reference = queries.reference_of(award.application.reference, award.application_id)
        plan = AwardPlan(
            award_id=award.id,
            application_id=award.application_id,
            reference=reference,
            organisation_id=award.application.organisation_id,
            status=award.status,
            total=award.total,
            target=min(award.total, target.total) if target else award.total,
            schedule_error=award.schedule_error,
            stored={t.year: (t.amount, t.status, t.requested_amount) for t in award.tranches},
            orphan=target is None,
        )
        check = checks.get(award.application_id)
        if check is not None and check.blocks:
            plan.blocked = check.message(plan.target)
            blocked[reference] = plan.blocked
        plans.append(plan)
    schedule_awards = [
        ScheduleAward(p.reference, p.target, targets[p.application_id].rank)
        for p in plans
        if not p.blocked and not p.orphan
    ]
    result, problems = None, []
    try:
        result = compute_for_call(
            call.kind.value,
            _envelopes(call),
            schedule_awards,
            unit=call.rounding_unit,
            profile=_profile(call),
            payment_years=call.payment_years,
        )
    except ScheduleInputError as exc:
        problems = exc.problems
    order = {a.id: n for n, a in enumerate(sorted(schedule_awards, key=lambda a: (a.rank, a.id)))}
    plans.sort(key=lambda p: (order.get(p.reference, len(order)), p.reference))
    return Plan(
        call_id=call.id,
        run_id=run.id,
        kind=call.kind.value,
        result=result,
        input_problems=problems,
        awards=plans,
        sync=report,
        blocked=blocked,
        errors=dict(result.errors) if result else {},
    )


def record_progress(run_id: int, call_id: int, progress: int) -> bool:
    """Record the progress, only while no newer run exists for the call (this statement
    also takes the write lock first on SQLite). False: superseded."""
    newer = (
        sa.select(ScheduleRun.id)
        .where(ScheduleRun.call_id == call_id, ScheduleRun.id > run_id)
        .exists()
    )
    result = db.session.execute(
        sa.update(ScheduleRun)
        .where(ScheduleRun.id == run_id, ScheduleRun.status == RunStatus.running, ~newer)
        .values(progress=progress)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _tranche_upsert():
    table = Tranche.__table__
    statement = _insert(table).values(
        award_id=sa.bindparam("award_id"),
        year=sa.bindparam("year"),
        amount=sa.bindparam("amount"),
        status=TrancheStatus.planned.value,
        requested_amount=ZERO,
        paid_amount=ZERO,
        created_at=sa.bindparam("now"),
        updated_at=sa.bindparam("now"),
    )
    unlocked = sa.and_(table.c.status == TrancheStatus.planned.value, table.c.requested_amount == 0)
    return statement.on_conflict_do_update(
        index_elements=["award_id", "year"],
        set_={"amount": statement.excluded.amount, "updated_at": statement.excluded.updated_at},
        where=unlocked,
    ).returning(table.c.award_id, table.c.year)


def _conflicts(plan: AwardPlan, computed: dict[int, Decimal]) -> list[dict]:
    """The stored tranches the computation would change although money moved on them (or
    the award's convention is signed); empty when the award may be written."""
    found = []
    for year in sorted(set(computed) | set(plan.stored)):
        new = computed.get(year)
        old = plan.stored.get(year)
        if old is None or old[0] == new:
            continue
        amount, status, requested = old
        if status == TrancheStatus.planned and requested <= 0:
            continue
        what = "demandée" if status == TrancheStatus.planned else status.label.lower()
        found.append(
            {
                "reference": plan.reference,
                "award_id": plan.award_id,
                "year": year,
                "stored": _money(amount),
                "computed": _money(new) if new is not None else None,
                "status": status.value,
                "message": f"Tranche {year} {what} ({format_money(amount)}) alors que le "
                f"calcul donne {format_money(new or ZERO)} : elle n'est pas modifiée et "
                "l'échéancier de cette aide est laissé tel quel.",
            }
        )
    changed = any(plan.stored.get(y, (None,))[0] != a for y, a in computed.items()) or any(
        y not in computed for y in plan.stored
    )
    if not found and changed and plan.status not in RESCHEDULABLE:
        found.append(
            {
                "reference": plan.reference,
                "award_id": plan.award_id,
                "year": None,
                "stored": None,
                "computed": None,
                "status": plan.status.value,
                "message": f"L'aide est au statut « {plan.status.label} » : son échéancier "
                "n'est plus recalculé (un avenant à la convention est nécessaire).",
            }
        )
    return found


def tranches_hash(tranches: dict[int, Decimal]) -> str:
    text = ";".join(f"{year}:{_money(amount)}" for year, amount in sorted(tranches.items()))
    return "tranches:" + hashlib.sha256(text.encode()).hexdigest()[:20]


def store_chunk(plan: Plan, awards: Sequence[AwardPlan]) -> None:
    """Store the computed tranches of ``awards`` (a fitting table): conflicts reported,
    per-award errors recorded, then the laureates notified. Raises ConcurrentChange."""
    rows = plan.rows()
    now = utcnow()
    quantum = plan.result.quantum
    upserts: list[dict] = []
    deletes: list[dict] = []
    award_updates: list[dict] = []
    error_updates: list[dict] = []
    ready: list[tuple[AwardPlan, dict[int, Decimal]]] = []
    for award in awards:
        if award.blocked or award.orphan:
            if award.blocked and award.schedule_error != award.blocked:
                error_updates.append({"b_id": award.award_id, "error": award.blocked})
            continue
        row = rows.get(award.reference)
        if row is None:
            message = plan.errors.get(award.reference, "Échéancier impossible.")
            if award.schedule_error != message:
                error_updates.append({"b_id": award.award_id, "error": message})
            continue
        computed = {y: a for y, a in row.tranches.items() if a > 0}
        conflicts = _conflicts(award, computed)
        if conflicts:
            plan.conflicts.extend(conflicts)
            message = conflicts[0]["message"]
            if award.schedule_error != message:
                error_updates.append({"b_id": award.award_id, "error": message})
            continue
        changed_years = [y for y, a in computed.items() if award.stored.get(y, (None,))[0] != a]
        stale = [y for y in award.stored if y not in computed]
        for year in changed_years:
            upserts.append(
                {"award_id": award.award_id, "year": year, "amount": computed[year], "now": now}
            )
        for year in stale:
            deletes.append({"b_award": award.award_id, "b_year": year})
        allocated = sum(computed.values(), ZERO)
        if award.status not in RESCHEDULABLE:
            # Convention signed or later, its tranches as computed (else: a conflict above).
            if award.schedule_error is not None:
                error_updates.append({"b_id": award.award_id, "error": None})
            plan.unchanged += 1
        elif (
            changed_years
            or stale
            or award.total != award.target
            or award.status != AwardStatus.scheduled
            or award.schedule_error is not None
        ):
            award_updates.append(
                {"b_id": award.award_id, "b_total": award.target, "b_allocated": allocated}
            )
            plan.written += 1
        else:
            plan.unchanged += 1
        ready.append((award, {y: a.quantize(quantum) for y, a in computed.items()}))

    if upserts:
        returned = set(
            db.session.execute(
                _tranche_upsert(), upserts, execution_options={"synchronize_session": False}
            ).all()
        )
        expected = {(u["award_id"], u["year"]) for u in upserts}
        if {tuple(r) for r in returned} != expected:
            raise ConcurrentChange("a tranche was locked while the schedule was stored")
    if deletes:
        table = Tranche.__table__
        result = db.session.execute(
            sa.delete(table).where(
                table.c.award_id == sa.bindparam("b_award"),
                table.c.year == sa.bindparam("b_year"),
                table.c.status == TrancheStatus.planned.value,
                table.c.requested_amount == 0,
            ),
            deletes,
            execution_options={"synchronize_session": False},
        )
        if result.rowcount not in (-1, len(deletes)):
            raise ConcurrentChange("a stale tranche was locked while the schedule was stored")
    if award_updates:
        table = Award.__table__
        result = db.session.execute(
            sa.update(table)
            .where(
                table.c.id == sa.bindparam("b_id"),
                # no IN (an expanding parameter can't be used with executemany)
                sa.or_(*(table.c.status == s.value for s in sorted(RESCHEDULABLE))),
            )
            .values(
                total=sa.bindparam("b_total"),
                allocated_total=sa.bindparam("b_allocated"),
                status=AwardStatus.scheduled.value,
                schedule_error=None,
                updated_at=now,
            ),
            award_updates,
            execution_options={"synchronize_session": False},
        )
        if result.rowcount not in (-1, len(award_updates)):
            raise ConcurrentChange("an award changed status while its schedule was stored")
    if error_updates:
        table = Award.__table__
        db.session.execute(
            sa.update(table)
            .where(table.c.id == sa.bindparam("b_id"))
            .values(schedule_error=sa.bindparam("error"), updated_at=now),
            error_updates,
            execution_options={"synchronize_session": False},
        )
    _notify_laureates(plan, ready)


def _notify_laureates(plan: Plan, ready: list[tuple[AwardPlan, dict[int, Decimal]]]) -> None:
    """``award.schedule_ready`` to the members of each laureate, once per schedule.

    The notification service's ``notify`` writes one event object at a time (four
    statements); a call of 10,000 laureates then missed the 30 s target on PostgreSQL
    (36.7 s). So the notices of a chunk are written here in bulk, with the service's own
    ledger and semantics: the same unique key (event, award, recipient, occurrence) with
    ``INSERT … ON CONFLICT DO NOTHING``, disabled users skipped, the essential e-mail
    recorded in the mail ledger for the new rows only and sent after the commit in batches.
    """
    if not ready:
        return
    from grants.accounts.tokens import external_url

    call = db.session.get(Call, plan.call_id)
    members = queries.members_by_organisation(a.organisation_id for a, _ in ready)
    # Who was already told of these schedules (one query): skipped without rendering.
    told = set(
        db.session.execute(
            sa.select(
                Notification.object_id, Notification.occurrence, Notification.recipient_id
            ).where(
                Notification.event == EVENT_READY,
                Notification.object_type == "award",
                Notification.object_id.in_([str(a.award_id) for a, _ in ready]),
            )
        ).all()
    )
    investment = plan.kind == CallKind.investment_aid.value
    now = utcnow()
    rows: list[dict] = []
    messages: dict[tuple[str, int], tuple[str, str, str, str | None]] = {}
    for award, tranches in ready:
        occurrence = tranches_hash(tranches)
        object_id = str(award.award_id)
        recipients = [
            user
            for user in members.get(award.organisation_id, [])
            if user.is_active and (object_id, occurrence, user.id) not in told
        ]
        if not recipients:
            continue
        subject = f"Dossier {award.reference} : votre échéancier de versement"[:SUBJECT_MAX]
        link = external_url("funding.award_schedule", application_id=award.application_id)
        context = {
            "call": call,
            "reference": award.reference,
            # formatted once for both parts (10,000 laureates: babel is the bulk of it)
            "total": _format(sum(tranches.values(), ZERO)),
            "tranches": [(year, _format(amount)) for year, amount in sorted(tranches.items())],
            "investment": investment,
        }
        for user in recipients:
            text, html = render_mail("funding/schedule_ready", user=user, link=link, **context)
            rows.append(
                {
                    "event": EVENT_READY,
                    "object_type": "award",
                    "object_id": object_id,
                    "recipient_id": user.id,
                    "occurrence": occurrence,
                    "essential": True,
                    "subject": subject,
                    "body": text,
                    "link": link,
                    "created_at": now,
                }
            )
            messages[(object_id, user.id)] = (user.email, subject, text, html)
    if not rows:
        return
    table = Notification.__table__
    inserted = db.session.execute(
        _insert(table)
        .on_conflict_do_nothing(
            index_elements=["event", "object_type", "object_id", "recipient_id", "occurrence"]
        )
        .returning(table.c.id, table.c.object_id, table.c.recipient_id),
        rows,
    ).all()
    if not inserted:
        return  # another delivery wrote them first
    new = [
        (notification_id, (object_id, recipient))
        for notification_id, object_id, recipient in inserted
    ]
    mail_ids = record_mails([messages[key] for _, key in new])
    db.session.execute(
        sa.update(table)
        .where(table.c.id == sa.bindparam("b_id"))
        .values(mail_id=sa.bindparam("b_mail")),
        [
            {"b_id": notification_id, "b_mail": mail_id}
            for (notification_id, _), mail_id in zip(new, mail_ids, strict=True)
        ],
        execution_options={"synchronize_session": False},
    )
    enqueue_mails(mail_ids)  # after the commit, in batches
    plan.notified += len(new)


@lru_cache(maxsize=65536)
def _format(amount: Decimal) -> str:
    return format_money(amount)


def result_json(plan: Plan, envelopes: dict[int, Decimal]) -> dict:
    """The run's result: the table's JSON (``schedules`` only when nothing was stored) plus
    what the worker did."""
    if plan.result is None:
        output: dict = {"fits": False, "input_errors": plan.input_problems}
    else:
        output = result_to_json(plan.result)
        quantum = plan.result.quantum
        output["envelopes"] = {str(y): format_amount(e, quantum) for y, e in envelopes.items()}
        if plan.stores:
            output.pop("schedules", None)  # they are the stored tranches
        else:
            # What each award was computed with (an alternative applies only to these).
            output["amounts"] = {
                row.id: format_amount(row.total, quantum) for row in plan.result.rows
            }
    warnings = dict(output.get("warnings", {}))
    warnings.update(plan.sync.warnings)
    output["warnings"] = warnings
    output["errors"] = dict(output.get("errors", {}))
    output["blocked"] = plan.blocked
    output["conflicts"] = plan.conflicts
    output["sync"] = plan.sync.to_json()
    output["stored"] = plan.stores
    output["written"] = plan.written
    output["unchanged"] = plan.unchanged
    output["notified"] = plan.notified
    return output


def finish(run: ScheduleRun, plan: Plan) -> None:
    """Close the run (done, or failed on invalid call settings) and tell the staff member
    who asked (in-app)."""
    call = queries.get_call(plan.call_id)
    run.result = result_json(plan, _envelopes(call))
    run.progress = run.total = len(plan.awards)
    run.finished_at = utcnow()
    if plan.result is None:
        run.status = RunStatus.failed
        run.error = " ".join(plan.input_problems)[:2000]
    else:
        run.status = RunStatus.done
    db.session.flush()
    _notify_requester(run, call)


def _notify_requester(run: ScheduleRun, call: Call) -> None:
    """The in-app notice (no e-mail) for the staff member who asked: written in the
    notification ledger once per run (``ON CONFLICT DO NOTHING``)."""
    if run.requested_by_id is None:
        return
    user = db.session.get(User, run.requested_by_id)
    if user is None or not user.is_active:
        return
    from grants.accounts.tokens import external_url

    result = run.result or {}
    if run.status == RunStatus.failed:
        subject = f"Échéanciers de « {call.title} » : calcul impossible"
    elif result.get("stored"):
        subject = f"Échéanciers de « {call.title} » calculés et enregistrés"
    else:
        subject = f"Échéanciers de « {call.title} » : dépassement, rien n'est enregistré"
    link = external_url("funding.schedules", call_id=call.id)
    text, _html = render_mail(
        "funding/schedule_run_done", user=user, link=link, run=run, call=call, result=result
    )
    table = Notification.__table__
    db.session.execute(
        _insert(table).on_conflict_do_nothing(
            index_elements=["event", "object_type", "object_id", "recipient_id", "occurrence"]
        ),
        [
            {
                "event": EVENT_RUN,
                "object_type": "schedule_run",
                "object_id": str(run.id),
                "recipient_id": user.id,
                "occurrence": "",
                "essential": False,
                "subject": subject[:SUBJECT_MAX],
                "body": text,
                "link": link,
                "created_at": utcnow(),
            }
        ],
    )


def lost_runs(now, queued_for, running_for) -> list[int]:
    """Runs whose message was probably lost: queued for longer than ``queued_for``, or
    (re)started longer than ``running_for`` ago and still running (a worker killed with
    its message on a broker that does not redeliver it)."""
    return list(
        db.session.scalars(
            sa.select(ScheduleRun.id)
            .where(
                sa.or_(
                    sa.and_(
                        ScheduleRun.status == RunStatus.queued,
                        ScheduleRun.created_at <= now - queued_for,
                    ),
                    sa.and_(
                        ScheduleRun.status == RunStatus.running,
                        ScheduleRun.started_at <= now - running_for,
                    ),
                )
            )
            .order_by(ScheduleRun.id)
            .limit(100)
        )
    )


def fail(run_id: int, message: str) -> None:
    """The task gave up (retries exhausted): the run says so."""
    db.session.execute(
        sa.update(ScheduleRun)
        .where(ScheduleRun.id == run_id, ScheduleRun.status != RunStatus.done)
        .values(status=RunStatus.failed, error=message[:2000], finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def slowdown_for_tests() -> float:
    """Seconds the task sleeps after claiming its run (``GRANTS_SCHEDULE_TEST_DELAY``): lets
    the integration tests kill a worker in the middle of a run; 0 otherwise."""
    import os

    try:
        return max(0.0, float(os.environ.get("GRANTS_SCHEDULE_TEST_DELAY", "0") or 0))
    except ValueError:
        current_app.logger.warning("GRANTS_SCHEDULE_TEST_DELAY is not a number: ignored")
        return 0.0


# --- Staff actions ----------------------------------------------------------------------------


def apply_alternative(call: Call, run: ScheduleRun, name: str, actor: User) -> ScheduleRun:
    """Apply an alternative table of ``run`` (proportional reduction or by rank): the awards'
    totals become the alternative's (never above the decision; an award it leaves at 0 is
    taken out of the schedules until the committee decides again), audited, then a new
    computation is asked for."""
    _require_staff(actor)
    if run.call_id != call.id:
        raise ScheduleError("Ce calcul n'est pas celui de cet appel.", status=404)
    result = run.result or {}
    alternatives = result.get("alternatives") or {}
    if name not in ALTERNATIVE_LABELS or name not in alternatives:
        raise ScheduleError("Cette alternative n'existe pas pour ce calcul.")
    latest = queries.latest_run(call.id)
    if latest is None or latest.id != run.id or run.status != RunStatus.done:
        raise ScheduleError(
            "Ce calcul n'est plus le dernier : appliquez une alternative du calcul le plus récent."
        )
    amounts = {ref: Decimal(v) for ref, v in (result.get("amounts") or {}).items()}
    new_totals = {
        row["id"]: sum((Decimal(v) for v in row["tranches"].values()), ZERO)
        for row in alternatives[name]
    }
    awards = {
        queries.reference_of(a.application.reference, a.application_id): a
        for a in queries.call_awards(call.id)
    }
    targets = queries.award_targets(call)
    problems = []
    for reference in new_totals:
        award = awards.get(reference)
        if award is None or amounts.get(reference) != award.total:
            problems.append(reference)
    if problems:
        raise ScheduleError(
            "Les aides ont changé depuis ce calcul (" + ", ".join(problems[:5]) + ") : "
            "relancez le calcul, puis choisissez l'alternative."
        )
    label = ALTERNATIVE_LABELS[name]
    changes = {}
    for reference, total in new_totals.items():
        award = awards[reference]
        target = targets.get(award.application_id)
        if target is not None and total > target.total:
            raise ScheduleError(f"{reference} : l'alternative dépasse la décision.")
        if total == award.total:
            continue
        if total == 0:
            if not _removable(award):
                raise ScheduleError(
                    f"{reference} : des tranches de cette aide sont validées, versées ou "
                    "demandées ; elle ne peut pas être retirée des échéanciers."
                )
            record(
                actor,
                queries.UNFUNDED_ACTION,
                object_type="application",
                object_id=award.application_id,
                summary=f"Dossier {reference} retiré des échéanciers ({label}) : non financé "
                "dans les enveloppes",
                changes={"total": [award.total, ZERO]},
            )
            db.session.delete(award)
        else:
            _lower_total(award, total, reference)
        changes[reference] = [_money(award.total), _money(total)]
    db.session.flush()
    record(
        actor,
        "schedule.alternative_applied",
        call,
        summary=f"Alternative « {label} » appliquée aux aides de l'appel « {call.title} » "
        f"(calcul n° {run.id})",
        changes={ref: values for ref, values in list(changes.items())[:100]},
    )
    new_run = request_schedule(call, actor)
    return new_run


def _lower_total(award: Award, total: Decimal, reference: str) -> None:
    """Lower an award's total; its planned tranches above the new total are dropped first
    (the new computation writes them again), locked ones are kept."""
    if total < award.allocated_total:
        kept = sum((t.amount for t in award.tranches if queries.is_locked(t)), ZERO)
        if kept > total:
            raise ScheduleError(
                f"{reference} : les tranches validées, versées ou demandées "
                f"({format_money(kept)}) dépassent le nouveau montant ({format_money(total)})."
            )
        table = Tranche.__table__
        db.session.execute(
            sa.delete(table).where(
                table.c.award_id == award.id,
                table.c.status == TrancheStatus.planned.value,
                table.c.requested_amount == 0,
            )
        )
        result = db.session.execute(
            sa.update(Award)
            .where(Award.id == award.id)
            .values(total=total, allocated_total=kept, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    else:
        result = db.session.execute(
            sa.update(Award)
            .where(Award.id == award.id, Award.allocated_total <= total)
            .values(total=total, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    if result.rowcount != 1:
        raise ScheduleError(f"{reference} : l'aide a changé entre-temps ; rechargez la page.")


def override_de_minimis(award: Award, actor: User, reason: str) -> None:
    """Lift the de minimis block of ``award`` with a reason (audited)."""
    _require_staff(actor)
    reason = (reason or "").strip()
    if not reason:
        raise ScheduleError(
            fields={"reason": ["Indiquez pourquoi le plafond de minimis peut être dépassé."]},
            status=422,
        )
    if len(reason) > 2000:
        raise ScheduleError(fields={"reason": ["2 000 caractères au plus."]}, status=422)
    before = award.de_minimis_override_reason
    if before == reason:
        return
    award.de_minimis_override_reason = reason
    reference = queries.reference_of(award.application.reference, award.application_id)
    record(
        actor,
        "award.de_minimis_override",
        award,
        summary=f"Blocage de minimis levé pour l'aide du dossier {reference}",
        changes={"de_minimis_override_reason": [before, reason]},
    )


def clear_de_minimis_override(award: Award, actor: User) -> None:
    """Restore the de minimis block (audited)."""
    _require_staff(actor)
    before = award.de_minimis_override_reason
    if before is None:
        return
    award.de_minimis_override_reason = None
    reference = queries.reference_of(award.application.reference, award.application_id)
    record(
        actor,
        "award.de_minimis_override",
        award,
        summary=f"Blocage de minimis rétabli pour l'aide du dossier {reference}",
        changes={"de_minimis_override_reason": [before, None]},
    )
