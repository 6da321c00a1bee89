"""Read side of reviews: the reviewer's queue, visibility, pools, conflicts, reminders.

Visibility rule (pages and API): a reviewer sees a review — and through it the file and
its attachments — only when it is theirs *and* they are not in conflict on the file (no
:class:`ConflictDeclaration`, no declared link to the file's organisation). Everything
else answers 404, as if it did not exist.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from grants.accounts.models import User, UserRole
from grants.applications.models import Application, ApplicationStatus, FundingSource
from grants.audit.queries import register_action_labels, register_labels
from grants.calls.models import Call, Criterion
from grants.core.db import utcnow
from grants.core.enums import Role
from grants.core.formatting import PARIS
from grants.extensions import db
from grants.organisations.models import Membership, Organisation
from grants.reviews import rules
from grants.reviews.models import (
    LINK_KIND_LABELS,
    CallReviewer,
    ConflictDeclaration,
    Review,
    ReviewerLink,
    ReviewScore,
    ReviewStatus,
)

QUEUE_PER_PAGE = 50
#: the files that can be assigned to reviewers
REVIEWABLE = (ApplicationStatus.submitted, ApplicationStatus.under_review)


def today_paris() -> date:
    return utcnow().astimezone(PARIS).date()


def review_path(review_id: int) -> str:
    """The reviewer's page of a review (for links in e-mails, built on PUBLIC_BASE_URL)."""
    return f"/evaluations/{review_id}"


# --- Conflicts ----------------------------------------------------------------------------


def _conflict_declared(application_id_col, reviewer_id_col):
    return sa.exists().where(
        ConflictDeclaration.application_id == application_id_col,
        ConflictDeclaration.reviewer_id == reviewer_id_col,
    )


def _linked(organisation_id_col, reviewer_id_col):
    return sa.exists().where(
        ReviewerLink.reviewer_id == reviewer_id_col,
        ReviewerLink.organisation_id == organisation_id_col,
    )


def not_conflicted():
    """SQL condition on ``Review`` joined to ``Application``: the reviewer is not in conflict."""
    return sa.and_(
        ~_conflict_declared(Review.application_id, Review.reviewer_id),
        ~_linked(Application.organisation_id, Review.reviewer_id),
    )


def is_conflicted(reviewer_id: int, application: Application) -> bool:
    return bool(
        db.session.scalar(
            sa.select(
                sa.or_(
                    _conflict_declared(application.id, reviewer_id),
                    _linked(application.organisation_id, reviewer_id),
                )
            )
        )
    )


def declared_conflict_reason(reviewer: User, application: Application) -> str | None:
    """Why assigning ``reviewer`` to ``application`` is refused, or None."""
    declared = db.session.scalar(
        sa.select(ConflictDeclaration.id).where(
            ConflictDeclaration.application_id == application.id,
            ConflictDeclaration.reviewer_id == reviewer.id,
        )
    )
    return rules.declared_conflict(
        application.organisation_id,
        [link_facts(link) for link in links_of(reviewer.id)],
        conflict_declared=declared is not None,
    )


def conflict_pairs(application_ids: list[int]) -> set[tuple[int, int]]:
    """Declared ``(application_id, reviewer_id)`` conflicts: declarations and links to the
    files' organisations (two queries)."""
    if not application_ids:
        return set()
    declared = db.session.execute(
        sa.select(ConflictDeclaration.application_id, ConflictDeclaration.reviewer_id).where(
            ConflictDeclaration.application_id.in_(application_ids)
        )
    ).all()
    linked = db.session.execute(
        sa.select(Application.id, ReviewerLink.reviewer_id)
        .join(ReviewerLink, ReviewerLink.organisation_id == Application.organisation_id)
        .where(Application.id.in_(application_ids))
    ).all()
    return {(int(a), int(r)) for a, r in [*declared, *linked]}


def link_facts(link: ReviewerLink) -> rules.Link:
    name = link.organisation.name if link.organisation is not None else link.organisation_name
    return rules.Link(link.organisation_id, name, LINK_KIND_LABELS[link.kind])


def links_of(user_id: int) -> list[ReviewerLink]:
    return list(
        db.session.scalars(
            sa.select(ReviewerLink)
            .where(ReviewerLink.reviewer_id == user_id)
            .options(joinedload(ReviewerLink.organisation))
            .order_by(ReviewerLink.declared_at.desc(), ReviewerLink.id.desc())
        )
    )


def _links_by_reviewer(reviewer_ids) -> dict[int, list[rules.Link]]:
    result: dict[int, list[rules.Link]] = defaultdict(list)
    if not reviewer_ids:
        return result
    for link in db.session.scalars(
        sa.select(ReviewerLink)
        .where(ReviewerLink.reviewer_id.in_(list(reviewer_ids)))
        .options(joinedload(ReviewerLink.organisation))
        .order_by(ReviewerLink.id)
    ):
        result[link.reviewer_id].append(link_facts(link))
    return result


def _applications_for_conflicts(application_ids) -> list[Application]:
    if not application_ids:
        return []
    return list(
        db.session.scalars(
            sa.select(Application)
            .where(Application.id.in_(list(application_ids)))
            .options(
                joinedload(Application.organisation)
                .selectinload(Organisation.memberships)
                .joinedload(Membership.user),
                selectinload(Application.funding_sources),
            )
            .order_by(Application.id)
        )
    )


def likely_conflict_map(
    application_ids, reviewers: list[User]
) -> dict[tuple[int, int], list[rules.LikelyConflict]]:
    """``{(application_id, reviewer_id): warnings}`` for the pairs with a likely conflict
    (a fixed number of queries whatever the numbers of files and reviewers)."""
    applications = _applications_for_conflicts(application_ids)
    links = _links_by_reviewer([r.id for r in reviewers])
    result: dict[tuple[int, int], list[rules.LikelyConflict]] = {}
    for application in applications:
        org = application.organisation
        members = [m.user.email for m in org.memberships if m.user is not None]
        cofunders = [s.name for s in application.funding_sources]
        for reviewer in reviewers:
            warnings = rules.likely_conflicts(
                reviewer.email, org.id, org.name, members, links.get(reviewer.id, []), cofunders
            )
            if warnings:
                result[(application.id, reviewer.id)] = warnings
    return result


# --- Reviews ------------------------------------------------------------------------------


def _review_options():
    return (
        joinedload(Review.application).joinedload(Application.call),
        joinedload(Review.application).joinedload(Application.organisation),
        joinedload(Review.reviewer),
        selectinload(Review.scores),
    )


def get_review(review_id: int) -> Review | None:
    return db.session.scalar(
        sa.select(Review).where(Review.id == review_id).options(*_review_options())
    )


def visible_review(review_id: int, user) -> Review | None:
    """The review if ``user`` is its reviewer and not in conflict on the file, else None."""
    if not (user and user.is_authenticated):
        return None
    return db.session.scalar(
        sa.select(Review)
        .join(Application, Application.id == Review.application_id)
        .where(Review.id == review_id, Review.reviewer_id == user.id, not_conflicted())
        .options(*_review_options())
    )


def grid(call_id: int) -> list[Criterion]:
    return list(
        db.session.scalars(
            sa.select(Criterion)
            .where(Criterion.call_id == call_id)
            .order_by(Criterion.position, Criterion.id)
        )
    )


def grid_facts(criteria: list[Criterion]) -> list[rules.GridCriterion]:
    return [rules.GridCriterion(c.id, c.label, c.scale_max) for c in criteria]


def reviews_of_application(application_id: int) -> list[Review]:
    """Every review of a file with its reviewer and scores (staff view)."""
    return list(
        db.session.scalars(
            sa.select(Review)
            .where(Review.application_id == application_id)
            .options(joinedload(Review.reviewer), selectinload(Review.scores))
            .order_by(Review.assigned_at, Review.id)
        )
    )


def other_submitted_reviews(review: Review) -> list[Review]:
    """The other reviewers' *submitted* reviews of the same file."""
    return list(
        db.session.scalars(
            sa.select(Review)
            .where(
                Review.application_id == review.application_id,
                Review.id != review.id,
                Review.status == ReviewStatus.submitted,
            )
            .options(selectinload(Review.scores))
            .order_by(Review.submitted_at, Review.id)
        )
    )


def conflicts_of_application(application_id: int) -> list[ConflictDeclaration]:
    return list(
        db.session.scalars(
            sa.select(ConflictDeclaration)
            .where(ConflictDeclaration.application_id == application_id)
            .order_by(ConflictDeclaration.declared_at, ConflictDeclaration.id)
        )
    )


@dataclass
class QueueFilters:
    #: "" (all), "a-faire" (not submitted), "rendues"
    state: str = ""

    @classmethod
    def from_args(cls, args) -> QueueFilters:
        state = args.get("etat", "")
        return cls(state=state if state in QUEUE_STATES else "")


QUEUE_STATES = {"a-faire": "À rendre", "rendues": "Rendues"}


def queue(user: User, filters: QueueFilters, page: int, per_page: int = QUEUE_PER_PAGE):
    """One page of ``user``'s reviews, open ones first by due date; files in conflict
    left out. Three statements whatever the size (page, count, nothing lazy)."""
    query = (
        sa.select(Review)
        .join(Application, Application.id == Review.application_id)
        .where(Review.reviewer_id == user.id, not_conflicted())
        .options(
            joinedload(Review.application).joinedload(Application.call),
            joinedload(Review.application).joinedload(Application.organisation),
        )
        .order_by(
            (Review.status == ReviewStatus.submitted),
            Review.due_on.is_(None),
            Review.due_on,
            Review.id,
        )
    )
    if filters.state == "a-faire":
        query = query.where(Review.status != ReviewStatus.submitted)
    elif filters.state == "rendues":
        query = query.where(Review.status == ReviewStatus.submitted)
    return db.paginate(query, page=page, per_page=per_page, error_out=False, max_per_page=200)


def own_reviews_query(user: User):
    """The API list: ``user``'s reviews without the conflicted files."""
    return (
        sa.select(Review)
        .join(Application, Application.id == Review.application_id)
        .where(Review.reviewer_id == user.id, not_conflicted())
        .options(*_review_options())
        .order_by(Review.id)
    )


def is_late(review: Review, today: date | None = None) -> bool:
    return (
        review.status != ReviewStatus.submitted
        and review.due_on is not None
        and review.due_on < (today or today_paris())
    )


# --- Reminders (read by the notifications' beat task) -------------------------------------


def _open_reviews():
    return (
        sa.select(Review)
        .join(Application, Application.id == Review.application_id)
        .where(
            Review.status != ReviewStatus.submitted,
            Review.due_on.is_not(None),
            Application.status.in_(REVIEWABLE),
            not_conflicted(),
        )
        .options(
            joinedload(Review.reviewer),
            joinedload(Review.application).joinedload(Application.call),
            joinedload(Review.application).joinedload(Application.organisation),
        )
        .order_by(Review.due_on, Review.id)
    )


def reviews_due_between(start: date, end: date) -> list[Review]:
    """Reviews still to be done whose due date is within ``start``–``end`` (both included).

    The "review due in 3 days" reminder (beat task
    ``grants.notifications.tasks.remind_reviews_due``) calls it with
    ``start = end = today + 3 days`` (Europe/Paris dates) and notifies each
    ``review.reviewer`` with ``occurrence=review.due_on.isoformat()`` — a due date moved
    by staff reminds again, a beat firing twice doesn't — and a link to
    ``PUBLIC_BASE_URL + review_path(review.id)``. Only files still under review, never a
    file the reviewer is in conflict on (they could not open it); the reviewer, file,
    call and organisation are loaded.
    """
    return list(db.session.scalars(_open_reviews().where(Review.due_on.between(start, end))))


def overdue_reviews(today: date) -> list[Review]:
    """Reviews still to be done whose due date is before ``today`` (Europe/Paris): the
    "overdue" reminder (``grants.notifications.tasks.remind_reviews_overdue``), once per
    due date; same filters and loading as :func:`reviews_due_between`."""
    return list(db.session.scalars(_open_reviews().where(Review.due_on < today)))


# --- Staff: pool, loads, candidates -------------------------------------------------------


def get_call(call_id: int) -> Call | None:
    return db.session.scalar(
        sa.select(Call).where(Call.id == call_id).options(selectinload(Call.criteria))
    )


def reviewer_users():
    """Users holding the reviewer role and active (a select of the staff pages)."""
    return list(
        db.session.scalars(
            sa.select(User)
            .join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role == Role.reviewer, User.is_disabled.is_(False))
            .order_by(User.full_name, User.email, User.id)
        )
    )


def is_reviewer(user: User) -> bool:
    return user is not None and user.is_active and user.has_role(Role.reviewer)


def pool_ids(call_id: int) -> list[int]:
    return list(
        db.session.scalars(
            sa.select(CallReviewer.reviewer_id)
            .join(User, User.id == CallReviewer.reviewer_id)
            .join(UserRole, UserRole.user_id == User.id)
            .where(
                CallReviewer.call_id == call_id,
                UserRole.role == Role.reviewer,
                User.is_disabled.is_(False),
            )
            .order_by(CallReviewer.reviewer_id)
        )
    )


def pool(call_id: int) -> list[CallReviewer]:
    return list(
        db.session.scalars(
            sa.select(CallReviewer)
            .where(CallReviewer.call_id == call_id)
            .options(joinedload(CallReviewer.reviewer))
            .join(User, User.id == CallReviewer.reviewer_id)
            .order_by(User.full_name, User.email, User.id)
        )
    )


@dataclass
class Load:
    total: int = 0
    submitted: int = 0

    @property
    def open(self) -> int:
        return self.total - self.submitted


def loads(call_id: int) -> dict[int, Load]:
    """Reviews per reviewer in ``call_id`` (one GROUP BY)."""
    rows = db.session.execute(
        sa.select(Review.reviewer_id, Review.status, sa.func.count())
        .join(Application, Application.id == Review.application_id)
        .where(Application.call_id == call_id)
        .group_by(Review.reviewer_id, Review.status)
    ).all()
    result: dict[int, Load] = defaultdict(Load)
    for reviewer_id, status, count in rows:
        result[reviewer_id].total += count
        if ReviewStatus(status) == ReviewStatus.submitted:
            result[reviewer_id].submitted += count
    return result


def reviewable_applications(call_id: int) -> list[Application]:
    return list(
        db.session.scalars(
            sa.select(Application)
            .where(Application.call_id == call_id, Application.status.in_(REVIEWABLE))
            .order_by(Application.id)
        )
    )


def existing_reviewers(application_ids: list[int]) -> dict[int, set[int]]:
    result: dict[int, set[int]] = defaultdict(set)
    if not application_ids:
        return result
    for app_id, reviewer_id in db.session.execute(
        sa.select(Review.application_id, Review.reviewer_id).where(
            Review.application_id.in_(application_ids)
        )
    ):
        result[app_id].add(reviewer_id)
    return result


@dataclass
class CallReviewCounts:
    files: int = 0
    complete: int = 0
    short: int = 0


def call_review_counts(call: Call) -> CallReviewCounts:
    """Files under review in the call, those with all their reviews assigned, those short."""
    per_file = (
        sa.select(Application.id, sa.func.count(Review.id).label("n"))
        .outerjoin(Review, Review.application_id == Application.id)
        .where(Application.call_id == call.id, Application.status.in_(REVIEWABLE))
        .group_by(Application.id)
        .subquery()
    )
    files, complete = db.session.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(
                sa.func.sum(sa.case((per_file.c.n >= call.reviews_required, 1), else_=0)), 0
            ),
        ).select_from(per_file)
    ).one()
    return CallReviewCounts(files=files, complete=complete, short=files - complete)


@dataclass
class ReviewSummary:
    assigned: int
    submitted: int
    required: int


def review_summary(application: Application) -> ReviewSummary:
    """For the staff file page: reviews assigned / submitted against the call's requirement."""
    rows = db.session.execute(
        sa.select(Review.status, sa.func.count())
        .where(Review.application_id == application.id)
        .group_by(Review.status)
    ).all()
    assigned = sum(count for _status, count in rows)
    submitted = sum(count for status, count in rows if status == ReviewStatus.submitted)
    return ReviewSummary(assigned, submitted, application.call.reviews_required)


def scores_by_criterion(review: Review) -> dict[int, ReviewScore]:
    return {s.criterion_id: s for s in review.scores}


def cofunder_names(application: Application) -> list[str]:
    return list(
        db.session.scalars(
            sa.select(FundingSource.name).where(FundingSource.application_id == application.id)
        )
    )


register_labels(
    "review",
    "Évaluation",
    {
        "status": "Statut",
        "reviewer": "Évaluateur",
        "due_on": "Échéance",
        "opinion": "Avis global",
        "summary": "Synthèse",
        "scores": "Notes",
        "reason": "Motif",
        "application": "Dossier",
    },
)
register_labels("reviewer_link", "Lien déclaré", {"organisation": "Structure", "kind": "Nature"})
register_labels("call_reviewer", "Vivier d'évaluateurs", {"reviewer": "Évaluateur"})
register_labels("conflict_declaration", "Conflit d'intérêts", {"reason": "Motif"})
register_action_labels(
    {
        "review.assign": "Évaluation confiée",
        "review.unassign": "Évaluation retirée",
        "review.update": "Évaluation modifiée (brouillon)",
        "review.in_progress": "Évaluation commencée",
        "review.submitted": "Évaluation rendue",
        "review.reopen": "Évaluation rouverte",
        "review.conflict": "Conflit d'intérêts déclaré",
        "review.auto_assign": "Affectation automatique",
        "review.pool_add": "Évaluateur ajouté au vivier",
        "review.pool_remove": "Évaluateur retiré du vivier",
        "review.link_add": "Lien d'intérêts déclaré",
        "review.link_delete": "Lien d'intérêts supprimé",
    }
)
