"""Read side of decisions: the ranking of a call, a file's scores, sessions, laureates.

The ranking runs a fixed number of statements whatever the number of files (DESIGN §8):
the call and its years, the files (columns only), the requested amounts (one GROUP BY),
the grid, the submitted scores of the call and the decisions — then everything else is
computed in Python by :mod:`grants.decisions.rules`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from grants.applications.models import (
    Application,
    ApplicationStatus,
    BudgetLine,
    FunderType,
    FundingSource,
)
from grants.audit.queries import (
    register_action_labels,
    register_labels,
)
from grants.calls.models import Call, CallKind, CallStatus, Criterion
from grants.decisions import rules
from grants.decisions.models import CommitteeSession, Decision, Outcome
from grants.extensions import db
from grants.organisations.models import Organisation
from grants.reviews.models import Review, ReviewScore, ReviewStatus

S = ApplicationStatus
#: the files the committee ranks (eligible: not declared ineligible by staff)
RANKED_STATUSES = (S.submitted, S.under_review, S.accepted, S.rejected)
#: files that still wait for a decision
UNDECIDED_STATUSES = (S.submitted, S.under_review, S.incomplete)
ZERO = Decimal("0")


def eligible_condition():
    return sa.or_(
        Application.eligibility_override.is_(None), Application.eligibility_override.is_(True)
    )


def get_call(call_id: int) -> Call | None:
    return db.session.scalar(
        sa.select(Call).where(Call.id == call_id).options(selectinload(Call.years))
    )


def get_application(application_id: int) -> Application | None:
    """A file with what the decision pages show (call, years, organisation and members)."""
    return db.session.scalar(
        sa.select(Application)
        .where(Application.id == application_id)
        .options(
            joinedload(Application.call).selectinload(Call.years),
            joinedload(Application.organisation).selectinload(Organisation.memberships),
            selectinload(Application.budget_lines),
            selectinload(Application.expenses),
            selectinload(Application.funding_sources),
        )
    )


def get_decision(application_id: int) -> Decision | None:
    return db.session.scalar(
        sa.select(Decision)
        .where(Decision.application_id == application_id)
        .options(joinedload(Decision.session), joinedload(Decision.decided_by))
    )


def submitted_review_count(application_id: int) -> int:
    return db.session.scalar(
        sa.select(sa.func.count(Review.id)).where(
            Review.application_id == application_id, Review.status == ReviewStatus.submitted
        )
    )


# --- Scores -------------------------------------------------------------------------------


def grid(call_id: int) -> list[rules.GridCriterion]:
    return [
        rules.GridCriterion(id=c.id, weight=c.weight, scale_max=c.scale_max)
        for c in db.session.scalars(
            sa.select(Criterion).where(Criterion.call_id == call_id).order_by(Criterion.position)
        )
    ]


@dataclass
class ReviewScores:
    review_id: int
    application_id: int
    reviewer_id: int
    scores: dict[int, int] = field(default_factory=dict)
    score: Decimal | None = None


def call_review_scores(call_id: int, criteria: list[rules.GridCriterion]) -> list[ReviewScores]:
    """Every submitted review of the call with its weighted score (one statement)."""
    rows = db.session.execute(
        sa.select(
            Review.id,
            Review.application_id,
            Review.reviewer_id,
            ReviewScore.criterion_id,
            ReviewScore.score,
        )
        .join(Application, Application.id == Review.application_id)
        .outerjoin(ReviewScore, ReviewScore.review_id == Review.id)
        .where(Application.call_id == call_id, Review.status == ReviewStatus.submitted)
        .order_by(Review.id)
    ).all()
    reviews: dict[int, ReviewScores] = {}
    for review_id, application_id, reviewer_id, criterion_id, score in rows:
        review = reviews.setdefault(review_id, ReviewScores(review_id, application_id, reviewer_id))
        if criterion_id is not None:
            review.scores[criterion_id] = score
    for review in reviews.values():
        review.score = rules.review_score(criteria, review.scores)
    return list(reviews.values())


def normalised(reviews: list[ReviewScores]) -> dict[int, Decimal]:
    by_reviewer: dict[int, list[tuple[int, Decimal]]] = defaultdict(list)
    for review in reviews:
        if review.score is not None:
            by_reviewer[review.reviewer_id].append((review.application_id, review.score))
    return rules.normalised_scores(by_reviewer)


# --- Requested amounts --------------------------------------------------------------------


def requested_by_year(call: Call) -> dict[int, dict[int, Decimal]]:
    """``{application id: {year: amount asked of the funder}}`` for the call (one statement).

    A call for projects reads the budget's line 74 marked as the request; an investment aid
    has no yearly budget: the funding plan's line for this authority counts in the call's
    first year (as in the submission snapshot).
    """
    result: dict[int, dict[int, Decimal]] = defaultdict(dict)
    if call.kind == CallKind.investment_aid:
        year = call.years[0].year if call.years else None
        rows = db.session.execute(
            sa.select(FundingSource.application_id, sa.func.sum(FundingSource.amount))
            .join(Application, Application.id == FundingSource.application_id)
            .where(
                Application.call_id == call.id,
                FundingSource.funder_type == FunderType.authority,
            )
            .group_by(FundingSource.application_id)
        ).all()
        for application_id, amount in rows:
            if year is not None:
                result[application_id][year] = Decimal(amount or 0)
        return result
    rows = db.session.execute(
        sa.select(BudgetLine.application_id, BudgetLine.year, sa.func.sum(BudgetLine.amount))
        .join(Application, Application.id == BudgetLine.application_id)
        .where(Application.call_id == call.id, BudgetLine.is_request.is_(True))
        .group_by(BudgetLine.application_id, BudgetLine.year)
    ).all()
    for application_id, year, amount in rows:
        result[application_id][year] = Decimal(amount or 0)
    return result


def requested_total(application: Application) -> Decimal:
    """What the file asks of the funder over all years (its loaded budget or plan)."""
    from grants.applications.queries import requested_total as total

    return Decimal(total(application))


# --- The ranking --------------------------------------------------------------------------


@dataclass
class DecisionSummary:
    outcome: Outcome
    awarded_total: Decimal | None
    reason: str
    decided_at: datetime
    session_label: str


@dataclass
class RankingRow:
    id: int
    reference: str | None
    title: str
    organisation: str
    status: ApplicationStatus
    review_count: int
    reviews_required: int
    score: Decimal | None
    std_dev: Decimal | None
    spread: Decimal | None
    disagreement: bool
    normalised: Decimal | None
    requested: dict[int, Decimal]
    requested_total: Decimal
    decision: DecisionSummary | None
    rank: int = 0
    running: rules.RunningRow | None = None

    @property
    def has_reviews_required(self) -> bool:
        return self.review_count >= self.reviews_required

    @property
    def is_decided(self) -> bool:
        return self.status in (S.accepted, S.rejected)

    @property
    def can_be_decided(self) -> bool:
        return self.status in (S.submitted, S.under_review)


@dataclass
class Ranking:
    call: Call
    rows: list[RankingRow]
    years: list[int]
    envelopes: dict[int, Decimal]
    sort: str
    envelope_total: Decimal
    awarded_total: Decimal

    @property
    def undecided(self) -> int:
        return sum(1 for r in self.rows if not r.is_decided)


def session_label(session: CommitteeSession | None, held_on=None, ref: str = "") -> str:
    if session is not None:
        held_on, ref = session.held_on, session.deliberation_ref
    if held_on is None:
        return ""
    label = f"Séance du {held_on.strftime('%d/%m/%Y')}"
    return f"{label} (délibération {ref})" if ref else label


def decisions_of(call_id: int) -> dict[int, DecisionSummary]:
    rows = db.session.execute(
        sa.select(
            Decision.application_id,
            Decision.outcome,
            Decision.awarded_total,
            Decision.reason,
            Decision.decided_at,
            CommitteeSession.held_on,
            CommitteeSession.deliberation_ref,
        )
        .join(Application, Application.id == Decision.application_id)
        .outerjoin(CommitteeSession, CommitteeSession.id == Decision.session_id)
        .where(Application.call_id == call_id)
    ).all()
    return {
        application_id: DecisionSummary(
            outcome=Outcome(outcome),
            awarded_total=awarded,
            reason=reason,
            decided_at=decided_at,
            session_label=session_label(None, held_on, ref or ""),
        )
        for application_id, outcome, awarded, reason, decided_at, held_on, ref in rows
    }


def ranking(call: Call, sort: str = rules.DEFAULT_SORT) -> Ranking:
    """The eligible files of ``call`` with scores, dispersion, requests and running sums."""
    sort = sort if sort in rules.SORT_KEYS else rules.DEFAULT_SORT
    files = db.session.execute(
        sa.select(
            Application.id,
            Application.reference,
            Application.title,
            Application.status,
            Organisation.name,
        )
        .join(Organisation, Organisation.id == Application.organisation_id)
        .where(
            Application.call_id == call.id,
            Application.status.in_(RANKED_STATUSES),
            eligible_condition(),
        )
    ).all()
    requested = requested_by_year(call)
    criteria = grid(call.id)
    reviews = call_review_scores(call.id, criteria)
    z = normalised(reviews)
    by_file: dict[int, list[Decimal]] = defaultdict(list)
    for review in reviews:
        if review.score is not None:
            by_file[review.application_id].append(review.score)
    counts: dict[int, int] = defaultdict(int)
    for review in reviews:
        counts[review.application_id] += 1
    decisions = decisions_of(call.id)
    rows = []
    for application_id, reference, title, status, organisation in files:
        summary = rules.aggregate(by_file.get(application_id, []))
        asked = dict(requested.get(application_id, {}))
        rows.append(
            RankingRow(
                id=application_id,
                reference=reference,
                title=title,
                organisation=organisation,
                status=ApplicationStatus(status),
                review_count=counts.get(application_id, 0),
                reviews_required=call.reviews_required,
                score=summary.mean,
                std_dev=summary.std_dev,
                spread=summary.spread,
                disagreement=summary.disagreement,
                normalised=z.get(application_id),
                requested=asked,
                requested_total=sum(asked.values(), ZERO),
                decision=decisions.get(application_id),
            )
        )
    ordered = rules.ranking(rows, sort)
    envelopes = {y.year: y.envelope for y in call.years}
    # A rejected file no longer asks anything of the envelope.
    running = rules.running_sums(
        [{} if r.status == S.rejected else r.requested for r in ordered], envelopes
    )
    for n, (row, sums) in enumerate(zip(ordered, running, strict=True), start=1):
        row.rank = n
        row.running = sums
    return Ranking(
        call=call,
        rows=ordered,
        years=sorted(envelopes),
        envelopes=envelopes,
        sort=sort,
        envelope_total=sum(envelopes.values(), ZERO),
        awarded_total=call.awarded_total,
    )


# --- One file's scores (staff) ------------------------------------------------------------


@dataclass
class FileScores:
    application_id: int
    reviews: list[Review]
    review_scores: dict[int, Decimal | None]
    aggregate: rules.Aggregate
    normalised: Decimal | None
    reviews_required: int
    criteria: list[Criterion]


def file_scores(application: Application) -> FileScores:
    """Every review of a file (any status) with its scores, the aggregate of the submitted
    ones and the normalised score (which needs the call's other reviews)."""
    call = application.call
    criteria = list(
        db.session.scalars(
            sa.select(Criterion).where(Criterion.call_id == call.id).order_by(Criterion.position)
        )
    )
    grid_ = [rules.GridCriterion(c.id, c.weight, c.scale_max) for c in criteria]
    reviews = list(
        db.session.scalars(
            sa.select(Review)
            .where(Review.application_id == application.id)
            .options(joinedload(Review.reviewer), selectinload(Review.scores))
            .order_by(Review.id)
        )
    )
    review_scores = {
        r.id: rules.review_score(grid_, {s.criterion_id: s.score for s in r.scores})
        for r in reviews
    }
    submitted = [r for r in reviews if r.status == ReviewStatus.submitted]
    z = normalised(call_review_scores(call.id, grid_))
    return FileScores(
        application_id=application.id,
        reviews=reviews,
        review_scores=review_scores,
        aggregate=rules.aggregate([review_scores[r.id] for r in submitted]),
        normalised=z.get(application.id),
        reviews_required=call.reviews_required,
        criteria=criteria,
    )


# --- What the applicant reads -------------------------------------------------------------


@dataclass
class SharedReview:
    label: str
    summary: str
    comments: list[tuple[str, str]]


def shared_reviews(application: Application) -> list[SharedReview]:
    """The submitted reviews' summary and comments, anonymised (« Évaluateur 1 »…): no
    names, no scores, no opinion."""
    reviews = db.session.scalars(
        sa.select(Review)
        .where(Review.application_id == application.id, Review.status == ReviewStatus.submitted)
        .options(selectinload(Review.scores).joinedload(ReviewScore.criterion))
        .order_by(Review.submitted_at, Review.id)
    ).all()
    shared = []
    for n, review in enumerate(reviews, start=1):
        comments = [
            (s.criterion.label, s.comment.strip())
            for s in sorted(review.scores, key=lambda s: (s.criterion.position, s.criterion.id))
            if s.comment and s.comment.strip()
        ]
        shared.append(SharedReview(f"Évaluateur {n}", (review.summary or "").strip(), comments))
    return shared


# --- Sessions, laureates, call state ------------------------------------------------------


def sessions_of(call_id: int) -> list[tuple[CommitteeSession, int]]:
    """The call's sessions, newest first, with their number of decisions."""
    counts = (
        sa.select(Decision.session_id, sa.func.count(Decision.id).label("n"))
        .group_by(Decision.session_id)
        .subquery()
    )
    rows = db.session.execute(
        sa.select(CommitteeSession, sa.func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.session_id == CommitteeSession.id)
        .where(CommitteeSession.call_id == call_id)
        .order_by(CommitteeSession.held_on.desc(), CommitteeSession.id.desc())
    ).all()
    return [(session, n) for session, n in rows]


def get_session(call_id: int, session_id: int | None) -> CommitteeSession | None:
    if not session_id:
        return None
    return db.session.scalar(
        sa.select(CommitteeSession).where(
            CommitteeSession.id == session_id, CommitteeSession.call_id == call_id
        )
    )


def undecided_count(call_id: int) -> int:
    """Files of the call still waiting for a decision (wait-listed ones included)."""
    return db.session.scalar(
        sa.select(sa.func.count(Application.id)).where(
            Application.call_id == call_id,
            Application.status.in_(UNDECIDED_STATUSES),
            eligible_condition(),
        )
    )


@dataclass
class Laureate:
    organisation: str
    title: str
    awarded_total: Decimal


def laureates(call: Call) -> list[Laureate]:
    """The accepted files of a decided call (public), by organisation name."""
    if call.status not in (CallStatus.decided, CallStatus.archived):
        return []
    rows = db.session.execute(
        sa.select(Organisation.name, Application.title, Decision.awarded_total)
        .join(Application, Application.id == Decision.application_id)
        .join(Organisation, Organisation.id == Application.organisation_id)
        .where(
            Application.call_id == call.id,
            Application.status == S.accepted,
            Decision.outcome == Outcome.accepted,
        )
        .order_by(Organisation.name, Application.id)
    ).all()
    return [Laureate(name, title, amount) for name, title, amount in rows]


register_labels(
    "committee_session",
    "Séance du comité",
    {"held_on": "Date", "members_present": "Membres présents", "deliberation_ref": "Délibération"},
)
# Decisions are recorded on their application (its journal tells the whole story).
register_labels(
    "application",
    "Dossier",
    {
        "outcome": "Décision",
        "awarded_total": "Montant attribué",
        "reason": "Motif",
        "session_id": "Séance",
        "reviews_override": "Décision sans tous les avis (motif)",
    },
)
register_action_labels(
    {
        "committee_session.create": "Séance du comité créée",
        "decision.accepted": "Dossier retenu par le comité",
        "decision.rejected": "Dossier non retenu par le comité",
        "decision.waitlisted": "Dossier mis en liste d'attente",
        "decision.amended": "Montant attribué modifié",
        "decision.reviews_override": "Décision prise sans tous les avis requis",
    }
)
