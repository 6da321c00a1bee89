"""Read side of the exports: what each kind exports, streamed from the database; the jobs.

Each kind (:data:`SPECS`) is one SELECT of plain columns (no ORM objects, no lazy loads)
and a function turning a result row into the values of its columns. :func:`iter_rows`
streams that SELECT in chunks (``yield_per``: a server-side cursor on PostgreSQL, the
cursor's own fetches on SQLite), so an export never holds all its rows.

Filters: ``call_id`` (one call) and ``year``. For applications, scores and decisions the
year selects the calls whose budget years include it (a call 2016–2018 is in 2016, 2017
and 2018); for schedules and payments, the tranche's year (the budget year the money is
on).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from grants.accounts.models import User
from grants.applications.models import Application, BudgetLine, FunderType, FundingSource
from grants.calls.models import Call, CallKind, CallYear, Criterion
from grants.core.models import Commune, Funder
from grants.decisions.models import CommitteeSession, Decision
from grants.exports.models import ExportFormat, ExportJob, ExportKind, ExportStatus
from grants.exports.rules import PARIS, Column, ColumnType
from grants.extensions import db
from grants.funding.models import Award, Tranche, TrancheStatus
from grants.organisations.models import Organisation
from grants.payments.models import Convention, Payment
from grants.reviews.models import Review, ReviewScore, ReviewStatus

T = ColumnType
#: rows fetched from the database at a time
CHUNK = 1000

KIND_LABELS = {
    ExportKind.applications: "Dossiers",
    ExportKind.scores: "Notes des évaluateurs",
    ExportKind.decisions: "Décisions",
    ExportKind.schedules: "Échéanciers",
    ExportKind.payments: "Paiements",
    ExportKind.scdl: "Données ouvertes SCDL (subventions)",
}
FORMAT_LABELS = {ExportFormat.xlsx: "Excel (XLSX)", ExportFormat.csv: "CSV"}
STATUS_LABELS = {
    ExportStatus.queued: "En attente",
    ExportStatus.running: "En cours",
    ExportStatus.done: "Prêt",
    ExportStatus.failed: "Échec",
}


@dataclass(frozen=True)
class Filters:
    call_id: int | None = None
    year: int | None = None

    @classmethod
    def from_params(cls, params: dict | None) -> Filters:
        params = params or {}
        call_id, year = params.get("call_id"), params.get("year")
        return cls(
            call_id=int(call_id) if call_id not in (None, "") else None,
            year=int(year) if year not in (None, "") else None,
        )


@dataclass(frozen=True)
class ExportSpec:
    kind: ExportKind
    #: the file name's stem and the sheet's title
    slug: str
    columns: tuple[Column, ...]
    statement: Callable[[Filters], sa.Select]
    values: Callable[[Any], Sequence[Any]]

    @property
    def label(self) -> str:
        return KIND_LABELS[self.kind]


def _call_conditions(filters: Filters, call_column) -> list:
    conditions = []
    if filters.call_id is not None:
        conditions.append(call_column == filters.call_id)
    if filters.year is not None:
        conditions.append(
            sa.exists().where(CallYear.call_id == call_column, CallYear.year == filters.year)
        )
    return conditions


def _tranche_conditions(filters: Filters) -> list:
    conditions = []
    if filters.call_id is not None:
        conditions.append(Award.call_id == filters.call_id)
    if filters.year is not None:
        conditions.append(Tranche.year == filters.year)
    return conditions


def requested_amount():
    """What a file asks of the funder over all years: its budget's line 74 marked as the
    request (calls for projects) or the funding plan's line of this authority (investment
    aid) — one correlated subquery per row, on indexed columns."""
    budget = (
        sa.select(sa.func.coalesce(sa.func.sum(BudgetLine.amount), 0))
        .where(BudgetLine.application_id == Application.id, BudgetLine.is_request.is_(True))
        .correlate(Application)
        .scalar_subquery()
    )
    plan = (
        sa.select(sa.func.coalesce(sa.func.sum(FundingSource.amount), 0))
        .where(
            FundingSource.application_id == Application.id,
            FundingSource.funder_type == FunderType.authority,
        )
        .correlate(Application)
        .scalar_subquery()
    )
    return sa.case((Call.kind == CallKind.investment_aid, plan), else_=budget)


def _name(user_name, user_email):
    return user_name or user_email or ""


# --- Applications ------------------------------------------------------------------------

APPLICATION_COLUMNS = (
    Column("Référence"),
    Column("Appel"),
    Column("Structure"),
    Column("SIRET"),
    Column("Forme juridique"),
    Column("Commune"),
    Column("Projet"),
    Column("Secteur"),
    Column("Statut"),
    Column("Déposé le", T.datetime),
    Column("Montant demandé", T.money),
    Column("Emplois créés", T.integer),
    Column("Emplois maintenus", T.integer),
    Column("Début du projet", T.date),
    Column("Fin du projet", T.date),
    Column("Décision"),
    Column("Montant attribué", T.money),
)


def _applications(filters: Filters) -> sa.Select:
    return (
        sa.select(
            Application.reference,
            Call.title,
            Organisation.name,
            Organisation.siret,
            Organisation.legal_form,
            Commune.name,
            Application.title,
            Application.sector,
            Application.status,
            Application.submitted_at,
            requested_amount(),
            Application.jobs_created,
            Application.jobs_maintained,
            Application.start_date,
            Application.end_date,
            Decision.outcome,
            Decision.awarded_total,
        )
        .join(Call, Call.id == Application.call_id)
        .join(Organisation, Organisation.id == Application.organisation_id)
        .outerjoin(Commune, Commune.insee == Organisation.commune_insee)
        .outerjoin(Decision, Decision.application_id == Application.id)
        .where(*_call_conditions(filters, Application.call_id))
        .order_by(Application.id)
    )


def _application_values(row) -> list:
    values = list(row)
    values[0] = values[0] or "(brouillon)"
    return values


# --- Scores ------------------------------------------------------------------------------

SCORE_COLUMNS = (
    Column("Référence"),
    Column("Appel"),
    Column("Structure"),
    Column("Projet"),
    Column("Évaluateur"),
    Column("Avis"),
    Column("Rendu le", T.datetime),
    Column("Critère"),
    Column("Pondération", T.integer),
    Column("Note", T.integer),
    Column("Note maximale", T.integer),
    Column("Commentaire"),
)


def _scores(filters: Filters) -> sa.Select:
    reviewer = aliased(User)
    return (
        sa.select(
            Application.reference,
            Call.title,
            Organisation.name,
            Application.title,
            reviewer.full_name,
            reviewer.email,
            Review.opinion,
            Review.submitted_at,
            Criterion.label,
            Criterion.weight,
            ReviewScore.score,
            Criterion.scale_max,
            ReviewScore.comment,
        )
        .select_from(ReviewScore)
        .join(Review, Review.id == ReviewScore.review_id)
        .join(Criterion, Criterion.id == ReviewScore.criterion_id)
        .join(reviewer, reviewer.id == Review.reviewer_id)
        .join(Application, Application.id == Review.application_id)
        .join(Call, Call.id == Application.call_id)
        .join(Organisation, Organisation.id == Application.organisation_id)
        .where(Review.status == ReviewStatus.submitted, *_call_conditions(filters, Call.id))
        .order_by(Application.id, Review.id, Criterion.position, Criterion.id)
    )


def _score_values(row) -> list:
    (ref, call, org, title, full_name, email, opinion, submitted, *rest) = row
    return [ref, call, org, title, _name(full_name, email), opinion, submitted, *rest]


# --- Decisions ---------------------------------------------------------------------------

DECISION_COLUMNS = (
    Column("Référence"),
    Column("Appel"),
    Column("Structure"),
    Column("SIRET"),
    Column("Projet"),
    Column("Montant demandé", T.money),
    Column("Décision"),
    Column("Montant attribué", T.money),
    Column("Motif"),
    Column("Date de la séance", T.date),
    Column("N° de délibération"),
    Column("Décidé le", T.datetime),
    Column("Décidé par"),
)


def _decisions(filters: Filters) -> sa.Select:
    decider = aliased(User)
    return (
        sa.select(
            Application.reference,
            Call.title,
            Organisation.name,
            Organisation.siret,
            Application.title,
            requested_amount(),
            Decision.outcome,
            Decision.awarded_total,
            Decision.reason,
            CommitteeSession.held_on,
            CommitteeSession.deliberation_ref,
            Decision.decided_at,
            decider.full_name,
            decider.email,
        )
        .select_from(Decision)
        .join(Application, Application.id == Decision.application_id)
        .join(Call, Call.id == Application.call_id)
        .join(Organisation, Organisation.id == Application.organisation_id)
        .outerjoin(CommitteeSession, CommitteeSession.id == Decision.session_id)
        .outerjoin(decider, decider.id == Decision.decided_by_id)
        .where(*_call_conditions(filters, Call.id))
        .order_by(Call.id, Application.sequence, Application.id)
    )


def _decision_values(row) -> list:
    *head, full_name, email = row
    return [*head, _name(full_name, email)]


# --- Schedules ---------------------------------------------------------------------------

SCHEDULE_COLUMNS = (
    Column("Référence"),
    Column("Appel"),
    Column("Structure"),
    Column("Projet"),
    Column("Rang", T.integer),
    Column("Montant de l'aide", T.money),
    Column("Statut de l'aide"),
    Column("Année", T.integer),
    Column("Montant de la tranche", T.money),
    Column("Statut de la tranche"),
    Column("Demandé", T.money),
    Column("Versé", T.money),
    Column("Reste à verser", T.money),
    Column("Motif de modification"),
)


def _schedules(filters: Filters) -> sa.Select:
    return (
        sa.select(
            Application.reference,
            Call.title,
            Organisation.name,
            Application.title,
            Award.rank,
            Award.total,
            Award.status,
            Tranche.year,
            Tranche.amount,
            Tranche.status,
            Tranche.requested_amount,
            Tranche.paid_amount,
            Tranche.change_reason,
        )
        .select_from(Tranche)
        .join(Award, Award.id == Tranche.award_id)
        .join(Application, Application.id == Award.application_id)
        .join(Call, Call.id == Award.call_id)
        .join(Organisation, Organisation.id == Application.organisation_id)
        .where(*_tranche_conditions(filters))
        .order_by(Award.call_id, Award.rank, Award.id, Tranche.year)
    )


def _schedule_values(row) -> list:
    *head, amount, status, requested, paid, reason = row
    remaining = None
    if amount is not None and status != TrancheStatus.cancelled:
        remaining = Decimal(str(amount)) - Decimal(str(paid or 0))
    return [*head, amount, status, requested, paid, remaining, reason]


# --- Payments ----------------------------------------------------------------------------

PAYMENT_COLUMNS = (
    Column("N° de paiement", T.integer),
    Column("Référence du dossier"),
    Column("Convention"),
    Column("Appel"),
    Column("Structure"),
    Column("SIRET"),
    Column("Année de la tranche", T.integer),
    Column("Montant", T.money),
    Column("Statut"),
    Column("Demandé le", T.datetime),
    Column("Validé le", T.datetime),
    Column("Versé le", T.date),
    Column("Référence du mandat"),
    Column("Motif d'annulation"),
    Column("Note"),
)


def _payments(filters: Filters) -> sa.Select:
    return (
        sa.select(
            Payment.id,
            Application.reference,
            Convention.reference,
            Call.title,
            Organisation.name,
            Organisation.siret,
            Tranche.year,
            Payment.amount,
            Payment.status,
            Payment.requested_at,
            Payment.validated_at,
            Payment.paid_on,
            Payment.order_ref,
            Payment.cancelled_reason,
            Payment.note,
        )
        .select_from(Payment)
        .join(Tranche, Tranche.id == Payment.tranche_id)
        .join(Award, Award.id == Tranche.award_id)
        .join(Application, Application.id == Award.application_id)
        .join(Call, Call.id == Award.call_id)
        .join(Organisation, Organisation.id == Application.organisation_id)
        .outerjoin(Convention, Convention.award_id == Award.id)
        .where(*_tranche_conditions(filters))
        .order_by(Payment.id)
    )


SPECS: dict[ExportKind, ExportSpec] = {
    spec.kind: spec
    for spec in (
        ExportSpec(
            ExportKind.applications,
            "dossiers",
            APPLICATION_COLUMNS,
            _applications,
            _application_values,
        ),
        ExportSpec(ExportKind.scores, "notes", SCORE_COLUMNS, _scores, _score_values),
        ExportSpec(
            ExportKind.decisions, "decisions", DECISION_COLUMNS, _decisions, _decision_values
        ),
        ExportSpec(
            ExportKind.schedules, "echeanciers", SCHEDULE_COLUMNS, _schedules, _schedule_values
        ),
        ExportSpec(ExportKind.payments, "paiements", PAYMENT_COLUMNS, _payments, list),
    )
}


def count_rows(statement: sa.Select) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(statement.order_by(None).subquery())
    )


def iter_rows(spec: ExportSpec, filters: Filters, chunk: int = CHUNK) -> Iterator[Sequence]:
    """The rows of an export, streamed ``chunk`` at a time from the database."""
    result = db.session.execute(spec.statement(filters).execution_options(yield_per=chunk))
    try:
        for row in result:
            yield spec.values(row)
    finally:
        result.close()


# --- SCDL --------------------------------------------------------------------------------


def _paris_year_bounds(year: int) -> tuple[datetime, datetime]:
    start = datetime(year, 1, 1, tzinfo=PARIS).astimezone(UTC)
    end = datetime(year + 1, 1, 1, tzinfo=PARIS).astimezone(UTC)
    return start, end


def _decided_in(year: int):
    """The decision (the committee session's date, else the decision's record, else the
    file's decision date, in Paris) falls in ``year``."""
    start, end = _paris_year_bounds(year)
    return sa.or_(
        sa.and_(
            CommitteeSession.id.is_not(None),
            CommitteeSession.held_on >= date(year, 1, 1),
            CommitteeSession.held_on <= date(year, 12, 31),
        ),
        sa.and_(
            CommitteeSession.id.is_(None),
            Decision.id.is_not(None),
            Decision.decided_at >= start,
            Decision.decided_at < end,
        ),
        sa.and_(
            Decision.id.is_(None),
            Application.decided_at >= start,
            Application.decided_at < end,
        ),
    )


def _scdl_base(year: int, funder_siret: str) -> sa.Select:
    return (
        sa.select(Award.id)
        .select_from(Award)
        .join(Application, Application.id == Award.application_id)
        .join(Call, Call.id == Award.call_id)
        .join(Funder, Funder.id == Call.funder_id)
        .outerjoin(Decision, Decision.application_id == Application.id)
        .outerjoin(CommitteeSession, CommitteeSession.id == Decision.session_id)
        .outerjoin(Convention, Convention.award_id == Award.id)
        .where(Funder.siret == funder_siret, _decided_in(year))
    )


@dataclass(frozen=True)
class ScdlCounts:
    #: awards exported
    included: int
    #: decided that year (and above the threshold) but no signed convention yet
    unsigned: int
    #: decided that year with a signed convention, at or under the threshold (not asked)
    under_threshold: int


def scdl_counts(year: int, funder_siret: str, minimum: Decimal | None) -> ScdlCounts:
    """What the SCDL export of ``year`` includes and leaves out (one statement)."""
    signed = Convention.signed_on.is_not(None)
    above = Award.total > minimum if minimum is not None else sa.true()
    row = db.session.execute(
        _scdl_base(year, funder_siret).with_only_columns(
            sa.func.count().filter(sa.and_(signed, above)),
            sa.func.count().filter(sa.and_(sa.not_(signed), above)),
            sa.func.count().filter(sa.and_(signed, sa.not_(above))),
        )
    ).one()
    return ScdlCounts(*(int(n or 0) for n in row))


def scdl_statement(year: int, funder_siret: str, minimum: Decimal | None) -> sa.Select:
    """The awards of the SCDL export: decided in ``year``, convention signed, total over
    ``minimum`` (None: all), attributed by the funder of ``funder_siret``."""
    statement = (
        _scdl_base(year, funder_siret)
        .join(Organisation, Organisation.id == Application.organisation_id)
        .with_only_columns(
            Award.id,
            Award.total,
            Application.id,
            Application.reference,
            Application.title,
            Application.submitted_at,
            Application.start_date,
            Application.end_date,
            Application.decided_at,
            requested_amount(),
            Organisation.name,
            Organisation.siret,
            Organisation.rna,
            Organisation.has_economic_activity,
            Call.title,
            Call.kind,
            Call.advance_share,
            Call.release_on_report,
            Decision.decided_at,
            CommitteeSession.held_on,
            CommitteeSession.deliberation_ref,
            Convention.reference,
            Convention.signed_on,
        )
        .where(Convention.signed_on.is_not(None))
        .order_by(Award.id)
    )
    if minimum is not None:
        statement = statement.where(Award.total > minimum)
    return statement


def tranches_of(award_ids: Sequence[int]) -> dict[int, list[tuple[int, Decimal]]]:
    """``{award id: [(year, amount)]}`` of the tranches not cancelled (one statement)."""
    result: dict[int, list[tuple[int, Decimal]]] = {award_id: [] for award_id in award_ids}
    rows = db.session.execute(
        sa.select(Tranche.award_id, Tranche.year, Tranche.amount)
        .where(Tranche.award_id.in_(award_ids), Tranche.status != TrancheStatus.cancelled)
        .order_by(Tranche.award_id, Tranche.year)
    )
    for award_id, year, amount in rows:
        result[award_id].append((year, Decimal(str(amount))))
    return result


#: co-funders of an investment aid that attribute money (not us, not loans, not own funds)
COFUNDER_TYPES = (
    FunderType.region,
    FunderType.department,
    FunderType.commune,
    FunderType.state,
    FunderType.eu,
    FunderType.other,
)


def cofunders_of(application_ids: Sequence[int]) -> dict[int, list[str]]:
    """``{application id: [other funders]}``: the funding plan's co-funders (investment aid)
    and the budget's other line-74 subsidies (calls for projects), two statements."""
    result: dict[int, set[str]] = {application_id: set() for application_id in application_ids}
    plan = db.session.execute(
        sa.select(FundingSource.application_id, FundingSource.name).where(
            FundingSource.application_id.in_(application_ids),
            FundingSource.funder_type.in_(COFUNDER_TYPES),
            FundingSource.amount > 0,
        )
    )
    budget = db.session.execute(
        sa.select(BudgetLine.application_id, BudgetLine.label).where(
            BudgetLine.application_id.in_(application_ids),
            BudgetLine.account == "74",
            BudgetLine.is_request.is_(False),
            BudgetLine.amount > 0,
        )
    )
    for application_id, name in [*plan, *budget]:
        if name and name.strip():
            result[application_id].add(" ".join(name.split()))
    return {k: sorted(v) for k, v in result.items()}


# --- Jobs --------------------------------------------------------------------------------


def recent_jobs(limit: int = 50) -> list[ExportJob]:
    from sqlalchemy.orm import joinedload

    return list(
        db.session.scalars(
            sa.select(ExportJob)
            .options(joinedload(ExportJob.requested_by))
            .order_by(ExportJob.id.desc())
            .limit(limit)
        )
    )


def jobs_by_ids(ids: Sequence[int]) -> list[ExportJob]:
    if not ids:
        return []
    return list(
        db.session.scalars(sa.select(ExportJob).where(ExportJob.id.in_(ids)).order_by(ExportJob.id))
    )


def call_titles(call_ids: Sequence[int]) -> dict[int, str]:
    if not call_ids:
        return {}
    rows = db.session.execute(sa.select(Call.id, Call.title).where(Call.id.in_(call_ids)))
    return {call_id: title for call_id, title in rows}


def calls_for_choice() -> list[tuple[int, str]]:
    return [
        (call_id, title)
        for call_id, title in db.session.execute(
            sa.select(Call.id, Call.title).order_by(Call.opens_at.desc(), Call.id.desc())
        )
    ]
