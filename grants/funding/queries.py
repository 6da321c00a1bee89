"""Read side of schedules: awards and their targets, stored tables, runs, simulation input.

Every helper reads a fixed number of statements whatever the number of awards (DESIGN
§8): the call with its years, the awards with their tranches (``selectinload``), the
accepted decisions with their files (one join), the investment plans (two GROUP BYs) and
the declared de minimis aid of the laureates (one statement).

The **target** of an accepted file is what its award should be: the committee's amount,
limited for an investment aid to the call's share of the eligible expenses and to its
ceiling (:func:`grants.funding.investment.capped_total`). Its **rank** is its place
among the accepted files in the committee's ranking (:func:`grants.decisions.queries.
ranking`, default sort: score, then reference).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from grants.applications import rules as application_rules
from grants.applications.models import (
    Application,
    ApplicationStatus,
    DeMinimisAid,
    FundingSource,
    InvestmentExpense,
)
from grants.audit.models import AuditEntry
from grants.calls.models import Call, CallKind
from grants.calls.rules import PARIS, effective_profile
from grants.decisions import queries as decision_queries
from grants.decisions.models import Decision, Outcome
from grants.extensions import db
from grants.funding import investment
from grants.funding.models import (
    Award,
    RunStatus,
    ScheduleRun,
    Tranche,
    TrancheStatus,
)
from grants.organisations.models import Membership, Organisation

ZERO = Decimal("0")
#: the audit action that takes a laureate out of the schedules (by-rank alternative)
UNFUNDED_ACTION = "award.unfunded"


def reference_of(reference: str | None, application_id: int) -> str:
    """The id of an award in schedule tables: the file's reference (unique)."""
    return reference or f"n° {application_id}"


def get_call(call_id: int) -> Call | None:
    return db.session.scalar(
        sa.select(Call).where(Call.id == call_id).options(selectinload(Call.years))
    )


# --- Targets -------------------------------------------------------------------------------


@dataclass
class Target:
    """What the award of an accepted file should be."""

    application_id: int
    reference: str
    organisation_id: int
    organisation: str
    decided_total: Decimal
    #: the decided total, capped for an investment aid
    total: Decimal
    decided_on: date
    rank: int = 0
    #: why the total is below the decision (investment cap), if it is
    warning: str | None = None
    #: investment aid: the funding plan (eligible expenses, the authority's percentage…)
    plan: application_rules.FundingPlan | None = None


def _investment_plans(call: Call) -> dict[int, application_rules.FundingPlan]:
    """``{application id: funding plan}`` of the accepted files (two GROUP BYs)."""
    accepted = sa.select(Application.id).where(
        Application.call_id == call.id, Application.status == ApplicationStatus.accepted
    )
    expenses: dict[int, list] = defaultdict(list)
    for application_id, eligible, amount in db.session.execute(
        sa.select(
            InvestmentExpense.application_id,
            InvestmentExpense.eligible,
            sa.func.sum(InvestmentExpense.amount),
        )
        .where(InvestmentExpense.application_id.in_(accepted))
        .group_by(InvestmentExpense.application_id, InvestmentExpense.eligible)
    ):
        expenses[application_id].append({"amount": Decimal(amount), "eligible": eligible})
    sources: dict[int, list] = defaultdict(list)
    for application_id, funder_type, amount in db.session.execute(
        sa.select(
            FundingSource.application_id,
            FundingSource.funder_type,
            sa.func.sum(FundingSource.amount),
        )
        .where(FundingSource.application_id.in_(accepted))
        .group_by(FundingSource.application_id, FundingSource.funder_type)
    ):
        sources[application_id].append({"amount": Decimal(amount), "funder_type": funder_type})
    return {
        application_id: application_rules.funding_plan(
            expenses.get(application_id, []),
            sources.get(application_id, []),
            call.max_expense_share,
            call.ceiling,
        )
        for application_id in set(expenses) | set(sources)
    }


def award_targets(call: Call) -> dict[int, Target]:
    """``{application id: Target}`` for every accepted file of ``call``, ranked."""
    rows = db.session.execute(
        sa.select(
            Application.id,
            Application.reference,
            Application.organisation_id,
            Organisation.name,
            Decision.awarded_total,
            Decision.decided_at,
        )
        .join(Decision, Decision.application_id == Application.id)
        .join(Organisation, Organisation.id == Application.organisation_id)
        .where(
            Application.call_id == call.id,
            Application.status == ApplicationStatus.accepted,
            Decision.outcome == Outcome.accepted,
        )
    ).all()
    if not rows:
        return {}
    plans = _investment_plans(call) if call.kind == CallKind.investment_aid else {}
    targets: dict[int, Target] = {}
    for application_id, reference, org_id, org_name, awarded, decided_at in rows:
        decided = Decimal(awarded)
        total, warning, plan = decided, None, None
        if call.kind == CallKind.investment_aid:
            plan = plans.get(application_id) or application_rules.funding_plan(
                [], [], call.max_expense_share, call.ceiling
            )
            total, warning = investment.capped_total(
                decided,
                max_share=call.max_expense_share,
                eligible_expenses=plan.eligible_expenses,
                ceiling=call.ceiling,
                unit=call.rounding_unit,
            )
        targets[application_id] = Target(
            application_id=application_id,
            reference=reference_of(reference, application_id),
            organisation_id=org_id,
            organisation=org_name,
            decided_total=decided,
            total=total,
            decided_on=decided_at.astimezone(PARIS).date(),
            warning=warning,
            plan=plan,
        )
    ranked = [r.id for r in decision_queries.ranking(call).rows if r.id in targets]
    # Files the ranking leaves out (none in practice) come last, by reference.
    ranked += sorted(set(targets) - set(ranked), key=lambda i: targets[i].reference)
    for n, application_id in enumerate(ranked, start=1):
        targets[application_id].rank = n
    return targets


def unfunded_applications(call: Call, targets: dict[int, Target]) -> set[int]:
    """Accepted files that staff took out of the schedules (by-rank alternative) since
    their last decision: no award is made for them until the committee decides again."""
    if not targets:
        return set()
    entries = db.session.execute(
        sa.select(AuditEntry.object_id, sa.func.max(AuditEntry.created_at))
        .where(
            AuditEntry.action == UNFUNDED_ACTION,
            AuditEntry.object_type == "application",
        )
        .group_by(AuditEntry.object_id)
    ).all()
    if not entries:
        return set()
    decided_at = dict(
        db.session.execute(
            sa.select(Decision.application_id, Decision.decided_at)
            .join(Application, Application.id == Decision.application_id)
            .where(Application.call_id == call.id)
        ).all()
    )
    result = set()
    for object_id, when in entries:
        if not str(object_id).isdigit():
            continue
        application_id = int(object_id)
        if application_id in targets and when >= decided_at.get(application_id, when):
            result.add(application_id)
    return result


# --- Awards and their tranches -------------------------------------------------------------


def call_awards(call_id: int) -> list[Award]:
    """The call's awards with tranches, file and organisation (a fixed number of queries)."""
    return list(
        db.session.scalars(
            sa.select(Award)
            .where(Award.call_id == call_id)
            .options(
                selectinload(Award.tranches),
                joinedload(Award.application).joinedload(Application.organisation),
            )
            .order_by(Award.rank, Award.id)
        )
    )


def get_award(award_id: int) -> Award | None:
    return db.session.scalar(
        sa.select(Award)
        .where(Award.id == award_id)
        .options(
            selectinload(Award.tranches),
            joinedload(Award.call).selectinload(Call.years),
            joinedload(Award.application)
            .joinedload(Application.organisation)
            .selectinload(Organisation.memberships),
        )
    )


def award_of_application(application_id: int) -> Award | None:
    award_id = db.session.scalar(sa.select(Award.id).where(Award.application_id == application_id))
    return get_award(award_id) if award_id is not None else None


def is_locked(tranche: Tranche) -> bool:
    """A tranche a schedule never changes: anything but planned (requested, validated,
    paid — LOCKED_TRANCHE_STATES —, cancelled) or with payments requested on it."""
    return tranche.status != TrancheStatus.planned or (tranche.requested_amount or ZERO) > 0


def members_by_organisation(organisation_ids) -> dict[int, list]:
    """``{organisation id: [User]}`` (one statement)."""
    ids = sorted(set(organisation_ids))
    result: dict[int, list] = defaultdict(list)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for membership in db.session.scalars(
            sa.select(Membership)
            .where(Membership.organisation_id.in_(chunk))
            .options(joinedload(Membership.user))
        ):
            if membership.user is not None:
                result[membership.organisation_id].append(membership.user)
    return result


def de_minimis_aids(organisation_ids) -> dict[int, list[tuple[date, Decimal, str]]]:
    """``{organisation id: [(granted_on, amount, regime)]}`` of the declared aid."""
    ids = sorted(set(organisation_ids))
    result: dict[int, list] = defaultdict(list)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for org_id, granted_on, amount, regime in db.session.execute(
            sa.select(
                DeMinimisAid.organisation_id,
                DeMinimisAid.granted_on,
                DeMinimisAid.amount,
                DeMinimisAid.regime,
            ).where(DeMinimisAid.organisation_id.in_(chunk))
        ):
            result[org_id].append((granted_on, Decimal(amount), regime))
    return result


def economic_organisations(organisation_ids) -> set[int]:
    ids = sorted(set(organisation_ids))
    found: set[int] = set()
    for start in range(0, len(ids), 500):
        found.update(
            db.session.scalars(
                sa.select(Organisation.id).where(
                    Organisation.id.in_(ids[start : start + 500]),
                    Organisation.has_economic_activity.is_(True),
                )
            )
        )
    return found


@dataclass
class DeMinimisCheck:
    total_3y: Decimal
    cap: Decimal
    room: Decimal
    exceeds: bool
    window_start: date
    decided_on: date
    overridden: str | None = None

    @property
    def blocks(self) -> bool:
        return self.exceeds and not self.overridden

    def message(self, amount: Decimal) -> str:
        from grants.core.money import format_money

        return (
            f"De minimis : avec les aides déclarées depuis le "
            f"{self.window_start.strftime('%d/%m/%Y')} ({format_money(self.total_3y)}), "
            f"l'aide de {format_money(amount)} dépasserait le plafond de "
            f"{format_money(self.cap)} sur trois ans glissants (décision du "
            f"{self.decided_on.strftime('%d/%m/%Y')} ; reste {format_money(self.room)}). "
            "Elle est bloquée tant qu'un agent ne lève pas le blocage avec un motif."
        )


def de_minimis_checks(
    targets: dict[int, Target], awards: dict[int, Award] | None = None
) -> dict[int, DeMinimisCheck]:
    """``{application id: check}`` for the laureates with an economic activity (the others
    are not subject to the de minimis rules)."""
    awards = awards or {}
    org_ids = {t.organisation_id for t in targets.values()}
    economic = economic_organisations(org_ids)
    if not economic:
        return {}
    aids = de_minimis_aids(economic)
    checks = {}
    for application_id, target in targets.items():
        if target.organisation_id not in economic:
            continue
        award = awards.get(application_id)
        amount = min(award.total, target.total) if award is not None else target.total
        room = application_rules.de_minimis_room(
            aids.get(target.organisation_id, []), target.decided_on, amount
        )
        start, _ = application_rules.de_minimis_window(target.decided_on)
        checks[application_id] = DeMinimisCheck(
            total_3y=room.total_3y,
            cap=room.cap,
            room=room.room,
            exceeds=room.exceeds,
            window_start=start,
            decided_on=target.decided_on,
            overridden=award.de_minimis_override_reason if award is not None else None,
        )
    return checks


# --- Runs ------------------------------------------------------------------------------------


def latest_run(call_id: int) -> ScheduleRun | None:
    return db.session.scalar(
        sa.select(ScheduleRun)
        .where(ScheduleRun.call_id == call_id)
        .order_by(ScheduleRun.id.desc())
        .limit(1)
    )


def latest_finished_run(call_id: int) -> ScheduleRun | None:
    return db.session.scalar(
        sa.select(ScheduleRun)
        .where(
            ScheduleRun.call_id == call_id,
            ScheduleRun.status.in_([RunStatus.done, RunStatus.failed]),
        )
        .order_by(ScheduleRun.id.desc())
        .limit(1)
    )


def queued_run(call_id: int) -> ScheduleRun | None:
    return db.session.scalar(
        sa.select(ScheduleRun)
        .where(ScheduleRun.call_id == call_id, ScheduleRun.status == RunStatus.queued)
        .order_by(ScheduleRun.id.desc())
        .limit(1)
    )


def has_runs(call_id: int) -> bool:
    return (
        db.session.scalar(sa.select(ScheduleRun.id).where(ScheduleRun.call_id == call_id).limit(1))
        is not None
    )


def get_run(run_id: int) -> ScheduleRun | None:
    return db.session.get(ScheduleRun, run_id)


# --- The stored table (pages, API) -------------------------------------------------------------


@dataclass
class StoredRow:
    award: Award
    reference: str
    organisation: str
    tranches: dict[int, Tranche]
    target: Target | None
    de_minimis: DeMinimisCheck | None = None

    @property
    def scheduled_total(self) -> Decimal:
        return sum((t.amount for t in self.tranches.values()), ZERO)


@dataclass
class StoredTable:
    call: Call
    years: list[int]
    envelopes: dict[int, Decimal]
    rows: list[StoredRow]
    totals: dict[int, Decimal]
    #: accepted files without an award yet (before the first computation)
    pending: list[Target] = field(default_factory=list)

    @property
    def envelope_total(self) -> Decimal:
        return sum(self.envelopes.values(), ZERO)

    @property
    def grand_total(self) -> Decimal:
        return sum(self.totals.values(), ZERO)

    def remaining(self, year: int) -> Decimal:
        return self.envelopes.get(year, ZERO) - self.totals.get(year, ZERO)


def stored_table(call: Call, *, with_targets: bool = True) -> StoredTable:
    """The call's awards with their stored tranches, per-year totals against the envelopes
    (tranches not cancelled), the targets and de minimis checks of the laureates."""
    envelopes = {y.year: y.envelope for y in call.years}
    awards = call_awards(call.id)
    targets = award_targets(call) if with_targets else {}
    by_application = {a.application_id: a for a in awards}
    checks = de_minimis_checks(targets, by_application) if targets else {}
    years = set(envelopes)
    totals: dict[int, Decimal] = defaultdict(lambda: ZERO)
    rows = []
    for award in awards:
        tranches = {t.year: t for t in award.tranches}
        years.update(tranches)
        for tranche in award.tranches:
            if tranche.status != TrancheStatus.cancelled:
                totals[tranche.year] += tranche.amount
        rows.append(
            StoredRow(
                award=award,
                reference=reference_of(award.application.reference, award.application_id),
                organisation=award.application.organisation.name,
                tranches=tranches,
                target=targets.get(award.application_id),
                de_minimis=checks.get(award.application_id),
            )
        )
    pending = sorted(
        (t for app_id, t in targets.items() if app_id not in by_application),
        key=lambda t: t.rank,
    )
    ordered = sorted(years)
    return StoredTable(
        call=call,
        years=ordered,
        envelopes=envelopes,
        rows=rows,
        totals={y: totals[y] for y in ordered},
        pending=pending,
    )


# --- Simulation input ----------------------------------------------------------------------------


@dataclass
class SimulationAward:
    """An award as the simulation starts from it (the stored award, else the target)."""

    reference: str
    organisation: str
    amount: Decimal
    rank: int
    award_id: int | None = None


def simulation_awards(call: Call) -> list[SimulationAward]:
    """The current awards (their totals), and the accepted files without an award yet (their
    targets), in rank order; never writes."""
    awards = call_awards(call.id)
    targets = award_targets(call)
    unfunded = unfunded_applications(call, targets)
    result = [
        SimulationAward(
            reference=reference_of(a.application.reference, a.application_id),
            organisation=a.application.organisation.name,
            amount=a.total,
            rank=a.rank,
            award_id=a.id,
        )
        for a in awards
    ]
    seen = {a.application_id for a in awards}
    for application_id, target in targets.items():
        if application_id not in seen and application_id not in unfunded:
            result.append(
                SimulationAward(target.reference, target.organisation, target.total, target.rank)
            )
    result.sort(key=lambda a: (a.rank, a.reference))
    return result


def simulation_input(call: Call) -> dict:
    """The call's data in the JSON of ``grants schedule simulate`` (strings everywhere).
    ``profile`` is the call's profile (configured, else derived from its envelopes), so
    that another envelope keeps it; ``null`` derives it from the simulated envelopes."""
    profile = effective_profile(call.profile, [y.envelope for y in call.years])
    return {
        "envelopes": {str(y.year): format(y.envelope, "f") for y in call.years},
        "unit": format(call.rounding_unit, "f"),
        "profile": [format(w, "f") for w in profile] if profile else None,
        "awards": [
            {"id": a.reference, "amount": format(a.amount, "f"), "rank": a.rank}
            for a in simulation_awards(call)
        ],
    }


# --- A run's result, read back for the pages ------------------------------------------------------


@dataclass
class JsonRow:
    id: str
    tranches: dict[int, Decimal]

    @property
    def total(self) -> Decimal:
        return sum(self.tranches.values(), ZERO)


@dataclass
class RunView:
    """A finished run's result JSON with Decimals and int years (for the templates)."""

    run: ScheduleRun
    years: list[int]
    envelopes: dict[int, Decimal]
    totals: dict[int, Decimal]
    overflow: dict[int, Decimal]
    schedules: list[JsonRow]
    alternatives: dict[str, list[JsonRow]]
    alternative_totals: dict[str, dict[int, Decimal]]
    data: dict

    @property
    def overflows(self) -> bool:
        return any(v > 0 for v in self.overflow.values())


def _years_map(values: dict | None) -> dict[int, Decimal]:
    return {int(y): Decimal(v) for y, v in (values or {}).items()}


def _rows(items: list | None) -> list[JsonRow]:
    return [JsonRow(item["id"], _years_map(item.get("tranches"))) for item in items or []]


def run_view(run: ScheduleRun | None) -> RunView | None:
    if run is None or not run.result:
        return None
    data = run.result
    envelopes = _years_map(data.get("envelopes"))
    totals = _years_map(data.get("totals"))
    years = sorted(set(envelopes) | set(totals))
    alternatives = {name: _rows(rows) for name, rows in (data.get("alternatives") or {}).items()}
    alternative_totals = {}
    for name, rows in alternatives.items():
        sums = dict.fromkeys(years, ZERO)
        for row in rows:
            for year, amount in row.tranches.items():
                sums[year] = sums.get(year, ZERO) + amount
        alternative_totals[name] = sums
    return RunView(
        run=run,
        years=years,
        envelopes=envelopes,
        totals=totals,
        overflow=_years_map(data.get("overflow")),
        schedules=_rows(data.get("schedules")),
        alternatives=alternatives,
        alternative_totals=alternative_totals,
        data=data,
    )


# --- The simulation beside the stored table ---------------------------------------------------


@dataclass
class ComparisonRow:
    reference: str
    organisation: str
    stored: dict[int, Decimal]
    simulated: dict[int, Decimal]
    #: the simulation could not schedule this award (its message is in the result)
    error: bool = False

    @property
    def stored_total(self) -> Decimal:
        return sum(self.stored.values(), ZERO)

    @property
    def simulated_total(self) -> Decimal:
        return sum(self.simulated.values(), ZERO)


@dataclass
class Comparison:
    years: list[int]
    rows: list[ComparisonRow]
    stored_totals: dict[int, Decimal]
    stored_envelopes: dict[int, Decimal]


def compare(table: StoredTable, result, awards: list[SimulationAward]) -> Comparison:
    """The stored tranches and a simulated table, award by award (rank order), year by
    year; awards only stored (not in the simulation) come last."""
    simulated = {row.id: row.tranches for row in result.rows}
    stored = {
        row.reference: {
            y: t.amount for y, t in row.tranches.items() if t.status != TrancheStatus.cancelled
        }
        for row in table.rows
    }
    names = {row.reference: row.organisation for row in table.rows}
    rows = []
    seen = set()
    for award in awards:
        seen.add(award.reference)
        rows.append(
            ComparisonRow(
                award.reference,
                award.organisation,
                stored.get(award.reference, {}),
                simulated.get(award.reference, {}),
                error=award.reference in result.errors,
            )
        )
    for reference, tranches in stored.items():
        if reference not in seen:
            rows.append(ComparisonRow(reference, names[reference], tranches, {}))
    years = sorted(set(table.years) | set(result.years))
    return Comparison(
        years=years,
        rows=rows,
        stored_totals=table.totals,
        stored_envelopes=table.envelopes,
    )
