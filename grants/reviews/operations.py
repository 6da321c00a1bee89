"""State changes of reviews: pool, assignments, conflicts, scoring, reopening, links.

Each function checks, changes, records an audit entry and notifies; none commits and none
reads the request (DESIGN §7). Refusals raise :class:`ReviewError` with French messages
(``fields`` maps an input to its messages; ``status`` is the HTTP status to answer).

Every status change of a review goes through :func:`transition`, which checks
``REVIEW_TRANSITIONS`` and changes the row with a conditional UPDATE (``WHERE status =
<the status read>``), so two concurrent requests can't both act on the same state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from grants.accounts.models import User
from grants.applications import operations as application_operations
from grants.applications.models import FINAL_STATES, Application, ApplicationStatus
from grants.audit.operations import diff, record
from grants.calls.models import Call
from grants.core.db import utcnow
from grants.extensions import db
from grants.notifications.operations import notify
from grants.organisations.models import Organisation
from grants.reviews import queries, rules
from grants.reviews.models import (
    LINK_KIND_LABELS,
    REVIEW_TRANSITIONS,
    CallReviewer,
    ConflictDeclaration,
    LinkKind,
    Opinion,
    Review,
    ReviewerLink,
    ReviewScore,
    ReviewStatus,
)

R = ReviewStatus
#: longest texts accepted (comments, summary, reasons, notes)
MAX_TEXT = 10_000
MAX_REASON = 2_000


class ReviewError(ValueError):
    """A refused change, with French messages."""

    def __init__(
        self, message: str = "", fields: dict[str, list[str]] | None = None, status: int = 422
    ):
        self.fields = fields or {}
        self.status = status
        self.message = message or next(
            (msgs[0] for msgs in self.fields.values() if msgs), "Modification refusée."
        )
        super().__init__(self.message)


class InvalidTransition(ReviewError):
    def __init__(self, message: str):
        super().__init__(message, status=409)


class NotAllowed(ReviewError):
    def __init__(self, message: str = "Vous n'avez pas le droit de faire cette action."):
        super().__init__(message, status=403)


def _staff(actor) -> None:
    if not (actor and actor.is_staff):
        raise NotAllowed()


def _ref(application: Application) -> str:
    return application.reference or f"n° {application.id}"


def _link(review_id: int) -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + queries.review_path(review_id)


# --- Transitions --------------------------------------------------------------------------

TRANSITION_ACTIONS = {
    (R.assigned, R.in_progress): "review.in_progress",
    (R.assigned, R.submitted): "review.submitted",
    (R.in_progress, R.submitted): "review.submitted",
    (R.submitted, R.in_progress): "review.reopen",
}


def can_transition(current: ReviewStatus, target: ReviewStatus) -> bool:
    return target in REVIEW_TRANSITIONS[current]


def transition(review: Review, actor, target: ReviewStatus, reason: str = "", **values) -> None:
    """Move ``review`` to ``target`` (one conditional UPDATE with ``values``), audited."""
    current = review.status
    if not can_transition(current, target):
        raise InvalidTransition(
            f"Une évaluation « {current.label} » ne peut pas passer à « {target.label} »."
        )
    db.session.flush()
    values = {"status": target, **values}
    result = db.session.execute(
        sa.update(Review)
        .where(Review.id == review.id, Review.status == current)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise InvalidTransition(
            "L'évaluation a été modifiée entre-temps : rechargez la page pour voir son état."
        )
    for key, value in values.items():
        set_committed_value(review, key, value)
    application = review.application
    summaries = {
        "review.in_progress": "Évaluation du dossier {ref} commencée",
        "review.submitted": "Évaluation du dossier {ref} rendue",
        "review.reopen": "Évaluation du dossier {ref} rouverte",
    }
    action = TRANSITION_ACTIONS[(current, target)]
    record(
        actor,
        action,
        review,
        summary=summaries[action].format(ref=_ref(application)),
        changes={"status": [current, target], **({"reason": ["", reason]} if reason else {})},
    )


# --- The pool of a call -------------------------------------------------------------------


def add_to_pool(call: Call, actor: User, reviewer: User) -> bool:
    """Add ``reviewer`` to the call's pool; False when already there."""
    _staff(actor)
    if not queries.is_reviewer(reviewer):
        raise ReviewError(
            fields={"reviewer_id": ["Cette personne n'a pas le rôle « Évaluateur »."]}
        )
    if db.session.get(CallReviewer, (call.id, reviewer.id)) is not None:
        return False
    db.session.add(CallReviewer(call_id=call.id, reviewer_id=reviewer.id))
    record(
        actor,
        "review.pool_add",
        call,
        summary=f"{reviewer.display_name} ajouté(e) au vivier d'évaluateurs de « {call.title} »",
        changes={"reviewer": [None, reviewer.email]},
    )
    return True


def remove_from_pool(call: Call, actor: User, reviewer: User) -> bool:
    """Take ``reviewer`` out of the pool (their assignments stay); False when absent."""
    _staff(actor)
    row = db.session.get(CallReviewer, (call.id, reviewer.id))
    if row is None:
        return False
    db.session.delete(row)
    record(
        actor,
        "review.pool_remove",
        call,
        summary=f"{reviewer.display_name} retiré(e) du vivier d'évaluateurs de « {call.title} »",
        changes={"reviewer": [reviewer.email, None]},
    )
    return True


# --- Assignments --------------------------------------------------------------------------


def _check_reviewable(application: Application) -> None:
    if application.status not in queries.REVIEWABLE:
        raise ReviewError(
            "Seul un dossier déposé ou en instruction peut être confié à un évaluateur "
            f"(celui-ci est « {application.status.label} »).",
            status=409,
        )


def _create_review(
    application: Application, reviewer: User, actor, due_on: date | None, how: str
) -> Review:
    review = Review(
        application_id=application.id,
        reviewer_id=reviewer.id,
        status=R.assigned,
        due_on=due_on,
        assigned_by_id=getattr(actor, "id", None),
    )
    try:
        with db.session.begin_nested():
            db.session.add(review)
            db.session.flush()
    except IntegrityError:
        raise ReviewError(
            f"{reviewer.display_name} évalue déjà ce dossier.",
            fields={"reviewer_id": ["Cet évaluateur évalue déjà ce dossier."]},
            status=409,
        ) from None
    review.application = application
    review.reviewer = reviewer
    if application.status == ApplicationStatus.submitted:
        application_operations.transition(
            application,
            actor,
            ApplicationStatus.under_review,
            reason="Dossier confié aux évaluateurs",
        )
    record(
        actor,
        "review.assign",
        review,
        summary=f"Dossier {_ref(application)} confié à {reviewer.display_name}{how}",
        changes={
            "reviewer": [None, reviewer.email],
            "application": [None, _ref(application)],
            **({"due_on": [None, due_on]} if due_on else {}),
        },
    )
    notify(
        "review.assigned",
        review,
        [reviewer],
        subject=f"Un dossier à évaluer : {_ref(application)}",
        template="reviews/assigned",
        context={
            "review": review,
            "application": application,
            "call": application.call,
            "organisation": application.organisation,
        },
        essential=True,
        link=_link(review.id),
    )
    return review


def assign(
    application: Application, reviewer: User, actor: User, due_on: date | None = None
) -> tuple[Review, list[rules.LikelyConflict]]:
    """Staff confide ``application`` to ``reviewer``: refused on a declared conflict;
    returns the review and the likely conflicts (warnings, with their reasons)."""
    _staff(actor)
    _check_reviewable(application)
    if not queries.is_reviewer(reviewer):
        raise ReviewError(
            fields={"reviewer_id": ["Cette personne n'a pas le rôle « Évaluateur »."]}
        )
    reason = queries.declared_conflict_reason(reviewer, application)
    if reason:
        raise ReviewError(
            f"Affectation refusée : {reason}",
            fields={"reviewer_id": [f"Affectation refusée : {reason}"]},
            status=409,
        )
    _check_due_on(due_on)
    warnings = queries.likely_conflict_map([application.id], [reviewer]).get(
        (application.id, reviewer.id), []
    )
    review = _create_review(application, reviewer, actor, due_on, "")
    return review, warnings


def _check_due_on(due_on: date | None) -> None:
    if due_on is not None and due_on < queries.today_paris():
        raise ReviewError(fields={"due_on": ["La date limite ne peut pas être passée."]})


def unassign(review: Review, actor: User) -> None:
    """Staff take a review back (not a submitted one: its content would be lost)."""
    _staff(actor)
    if review.status == R.submitted:
        raise ReviewError(
            "Une évaluation rendue ne peut pas être retirée : rouvrez-la d'abord si elle "
            "doit être reprise.",
            status=409,
        )
    application = review.application
    record(
        actor,
        "review.unassign",
        review,
        summary=f"Évaluation du dossier {_ref(application)} retirée à "
        f"{review.reviewer.display_name}",
        changes={"reviewer": [review.reviewer.email, None]},
    )
    db.session.delete(review)
    db.session.flush()


@dataclass
class AutoAssignResult:
    plan: rules.AssignmentPlan
    reviews: list[Review] = field(default_factory=list)
    #: the references of the files short of reviews, with the reason
    shortfalls: list[tuple[Application, rules.Shortfall]] = field(default_factory=list)


def _plan(
    applications: list[Application],
    pool_users: list[User],
    per_file: int,
    call_id: int,
) -> rules.AssignmentPlan:
    ids = [a.id for a in applications]
    existing = queries.existing_reviewers(ids)
    conflicts = queries.conflict_pairs(ids)
    # Automatic assignment never picks a likely conflict either: staff can still assign
    # such a reviewer by hand, seeing the warning.
    conflicts |= set(queries.likely_conflict_map(ids, pool_users))
    loads = {r: load.total for r, load in queries.loads(call_id).items()}
    return rules.auto_assign(ids, [u.id for u in pool_users], per_file, existing, conflicts, loads)


def auto_assign_call(call: Call, actor: User, due_on: date | None = None) -> AutoAssignResult:
    """Give every submitted or under-review file of ``call`` the reviews it requires, from
    the call's pool, load balanced, conflicts (declared and likely) avoided."""
    _staff(actor)
    _check_due_on(due_on)
    pool_ids = queries.pool_ids(call.id)
    if not pool_ids:
        raise ReviewError(
            "Le vivier d'évaluateurs de l'appel est vide : ajoutez d'abord des évaluateurs.",
            status=409,
        )
    pool_users = list(
        db.session.scalars(sa.select(User).where(User.id.in_(pool_ids)).order_by(User.id))
    )
    applications = queries.reviewable_applications(call.id)
    plan = _plan(applications, pool_users, call.reviews_required, call.id)
    by_id = {a.id: a for a in applications}
    users = {u.id: u for u in pool_users}
    result = AutoAssignResult(plan=plan)
    for app_id, reviewer_id in plan.pairs():
        result.reviews.append(
            _create_review(
                by_id[app_id], users[reviewer_id], actor, due_on, " (affectation automatique)"
            )
        )
    result.shortfalls = [(by_id[s.file_id], s) for s in plan.shortfalls]
    record(
        actor,
        "review.auto_assign",
        call,
        summary=f"Affectation automatique sur « {call.title} » : {plan.count} évaluation(s) "
        f"confiée(s), {len(plan.shortfalls)} dossier(s) incomplet(s)",
    )
    return result


def _reassign(application: Application, actor, due_on: date | None) -> list[Review]:
    """After a conflict: another reviewer of the pool takes the place, if someone can."""
    if application.status not in queries.REVIEWABLE:
        return []
    pool_ids = queries.pool_ids(application.call_id)
    if not pool_ids:
        return []
    pool_users = list(
        db.session.scalars(sa.select(User).where(User.id.in_(pool_ids)).order_by(User.id))
    )
    # One replacement for the reviewer who left, if the file is short of its reviews.
    remaining = len(queries.existing_reviewers([application.id]).get(application.id, ()))
    per_file = min(application.call.reviews_required, remaining + 1)
    plan = _plan([application], pool_users, per_file, application.call_id)
    users = {u.id: u for u in pool_users}
    return [
        _create_review(
            application, users[reviewer_id], None, due_on, " (réaffectation après un conflit)"
        )
        for _app_id, reviewer_id in plan.pairs()
    ]


@dataclass
class ConflictResult:
    declaration: ConflictDeclaration
    reassigned: list[Review]


def declare_conflict(review: Review, actor: User, reason: str) -> ConflictResult:
    """The reviewer declares a conflict on the file: they are unassigned for good, and the
    file goes to another reviewer of the pool when one is available."""
    if not review.is_reviewer(actor):
        raise NotAllowed("Seul l'évaluateur du dossier peut déclarer un conflit d'intérêts.")
    reason = (reason or "").strip()
    if not reason:
        raise ReviewError(fields={"reason": ["Indiquez la nature du conflit d'intérêts."]})
    if len(reason) > MAX_REASON:
        raise ReviewError(fields={"reason": [f"{MAX_REASON} caractères au plus."]})
    if review.status == R.submitted:
        raise ReviewError(
            "Votre évaluation est rendue : signalez le conflit au service, qui la rouvrira "
            "ou la retirera.",
            status=409,
        )
    return _conflict(review, actor, reason)


def _conflict(review: Review, actor: User, reason: str) -> ConflictResult:
    application = review.application
    due_on = review.due_on
    declaration = ConflictDeclaration(
        application_id=application.id, reviewer_id=review.reviewer_id, reason=reason
    )
    db.session.add(declaration)
    record(
        actor,
        "review.conflict",
        review,
        summary=f"Conflit d'intérêts déclaré par {review.reviewer.display_name} sur le "
        f"dossier {_ref(application)} : évaluation retirée",
        changes={"reason": ["", reason], "reviewer": [review.reviewer.email, None]},
    )
    db.session.delete(review)
    db.session.flush()
    return ConflictResult(declaration, _reassign(application, actor, due_on))


def reopen(review: Review, actor: User, reason: str) -> None:
    """Staff reopen a submitted review, with a reason (audited, the reviewer is told)."""
    _staff(actor)
    reason = (reason or "").strip()
    if not reason:
        raise ReviewError(fields={"reason": ["Indiquez pourquoi l'évaluation est rouverte."]})
    if len(reason) > MAX_REASON:
        raise ReviewError(fields={"reason": [f"{MAX_REASON} caractères au plus."]})
    application = review.application
    if application.status in FINAL_STATES:
        raise ReviewError(
            f"Le dossier est « {application.status.label} » : ses évaluations ne sont plus "
            "rouvertes.",
            status=409,
        )
    if review.status != R.submitted:
        raise InvalidTransition("Seule une évaluation rendue peut être rouverte.")
    transition(review, actor, R.in_progress, reason, submitted_at=None, reopened_reason=reason)
    notify(
        "review.reopened",
        review,
        [review.reviewer],
        subject=f"Évaluation rouverte : {_ref(application)}",
        template="reviews/reopened",
        context={"review": review, "application": application, "reason": reason},
        occurrence=utcnow().isoformat(timespec="seconds"),
        essential=True,
        link=_link(review.id),
    )


# --- Scoring ------------------------------------------------------------------------------

KEEP = object()


@dataclass
class ReviewInput:
    """What a reviewer sends: only the given keys change.

    ``scores``: ``{criterion_id: score or None (cleared)}``; ``comments``: ``{criterion_id:
    text}``; ``opinion``: an :class:`Opinion`, None (cleared) or ``KEEP``; ``summary``:
    text or None (unchanged).
    """

    scores: dict[int, int | None] = field(default_factory=dict)
    comments: dict[int, str] = field(default_factory=dict)
    opinion: object = KEEP
    summary: str | None = None


def _state(review: Review) -> dict:
    rows = sorted(review.scores, key=_by_criterion)
    return {
        "scores": {str(s.criterion_id): s.score for s in rows},
        "comments": {str(s.criterion_id): s.comment for s in rows if s.comment},
        "opinion": review.opinion.value if review.opinion else None,
        "summary": review.summary or "",
    }


def _by_criterion(score: ReviewScore) -> int:
    return score.criterion_id


def _check_editable(review: Review, actor) -> None:
    if not review.is_reviewer(actor):
        raise NotAllowed("Seul l'évaluateur du dossier peut le noter.")
    if review.status == R.submitted:
        raise ReviewError(
            "Cette évaluation est rendue : elle n'est plus modifiable (le service peut la "
            "rouvrir).",
            status=409,
        )
    application = review.application
    if application.status not in queries.REVIEWABLE:
        raise ReviewError(
            f"Ce dossier n'est plus en instruction (« {application.status.label} »).",
            status=409,
        )


def input_problems(grid: list[rules.GridCriterion], data: ReviewInput) -> dict[str, list[str]]:
    """Messages per input name (``score_<id>``, ``comment_<id>``, ``summary``)."""
    problems: dict[str, list[str]] = {}
    for criterion_id, message in rules.score_problems(grid, data.scores).items():
        problems[f"score_{criterion_id}"] = [message]
    known = {c.id for c in grid}
    for criterion_id, text in data.comments.items():
        if criterion_id not in known:
            problems[f"comment_{criterion_id}"] = ["Ce critère n'est pas dans la grille."]
        elif len(text or "") > MAX_TEXT:
            problems[f"comment_{criterion_id}"] = [f"{MAX_TEXT} caractères au plus."]
    if data.summary is not None and len(data.summary) > MAX_TEXT:
        problems["summary"] = [f"{MAX_TEXT} caractères au plus."]
    return problems


def save_review(
    review: Review, actor: User, data: ReviewInput, submit: bool = False
) -> dict[str, list[str]]:
    """Save the draft; with ``submit``, then hand the review in if it is complete.

    Invalid input raises :class:`ReviewError` before anything is written. Returns the
    problems that kept a complete submission from happening (``{}`` when submitted or
    when only saving): the draft is saved either way.
    """
    _check_editable(review, actor)
    criteria = queries.grid(review.application.call_id)
    grid = queries.grid_facts(criteria)
    problems = input_problems(grid, data)
    existing = queries.scores_by_criterion(review)
    # A comment is stored on its score's row: a comment needs a score.
    for criterion_id, text in data.comments.items():
        score = data.scores.get(criterion_id, KEEP)
        has_score = score is not None and (score is not KEEP or criterion_id in existing)
        if (text or "").strip() and not has_score and f"score_{criterion_id}" not in problems:
            problems.setdefault(f"score_{criterion_id}", []).append(
                "Choisissez une note pour enregistrer ce commentaire."
            )
    if problems:
        raise ReviewError(
            "Certaines valeurs sont invalides : corrigez les champs signalés.", fields=problems
        )
    before = _state(review)
    for criterion_id, score in data.scores.items():
        row = existing.get(criterion_id)
        comment = data.comments.get(criterion_id)
        if score is None:
            if row is not None:
                review.scores.remove(row)
            continue
        if row is None:
            review.scores.append(
                ReviewScore(criterion_id=criterion_id, score=score, comment=(comment or "").strip())
            )
        else:
            row.score = score
            if comment is not None:
                row.comment = comment.strip()
    for criterion_id, comment in data.comments.items():
        if criterion_id not in data.scores and criterion_id in existing:
            existing[criterion_id].comment = (comment or "").strip()
    if data.opinion is not KEEP:
        review.opinion = Opinion(data.opinion) if data.opinion else None
    if data.summary is not None:
        review.summary = data.summary.strip()
    db.session.flush()
    after = _state(review)
    changes = diff(before, after)
    if changes:
        record(
            actor,
            "review.update",
            review,
            summary=f"Évaluation du dossier {_ref(review.application)} enregistrée",
            changes=changes,
        )
    if review.status == R.assigned and (changes or submit):
        transition(review, actor, R.in_progress)
    if not submit:
        return {}
    missing = submission_problems(review, grid)
    if missing:
        return missing
    transition(review, actor, R.submitted, submitted_at=utcnow())
    return {}


def submission_problems(review: Review, grid: list[rules.GridCriterion]) -> dict[str, list[str]]:
    scores = {s.criterion_id: s.score for s in review.scores}
    problems = {
        f"score_{cid}": [message]
        for cid, message in rules.score_problems(
            grid, {c.id: scores.get(c.id) for c in grid}, require_all=True
        ).items()
    }
    if review.opinion is None:
        problems["opinion"] = [rules.OPINION_REQUIRED]
    return problems


# --- Declared links -----------------------------------------------------------------------


@dataclass
class LinkResult:
    link: ReviewerLink
    #: open reviews on the organisation's files, unassigned as conflicts
    conflicts: list[ConflictResult]


def add_link(
    reviewer: User,
    kind: LinkKind,
    organisation: Organisation | None = None,
    name: str = "",
    note: str = "",
) -> LinkResult:
    """The reviewer declares a link with an organisation (registered, or named). Their open
    reviews on that organisation's files become declared conflicts (and are reassigned)."""
    name = " ".join((name or "").split())
    note = (note or "").strip()
    errors: dict[str, list[str]] = {}
    if organisation is None and not name:
        errors["organisation_name"] = ["Choisissez une structure ou indiquez son nom."]
    if len(name) > 200:
        errors["organisation_name"] = ["200 caractères au plus."]
    if len(note) > 500:
        errors["note"] = ["500 caractères au plus."]
    if errors:
        raise ReviewError(fields=errors)
    existing = queries.links_of(reviewer.id)
    for link in existing:
        same = (organisation is not None and link.organisation_id == organisation.id) or (
            organisation is None
            and link.organisation_id is None
            and rules.normalise_name(link.organisation_name) == rules.normalise_name(name)
        )
        if same:
            where = "organisation_id" if organisation is not None else "organisation_name"
            raise ReviewError(
                fields={where: ["Vous avez déjà déclaré un lien avec cette structure."]},
                status=409,
            )
    link = ReviewerLink(
        reviewer_id=reviewer.id,
        organisation_id=organisation.id if organisation is not None else None,
        organisation_name="" if organisation is not None else name,
        kind=kind,
        note=note,
    )
    db.session.add(link)
    label = organisation.name if organisation is not None else name
    record(
        reviewer,
        "review.link_add",
        link,
        summary=f"{reviewer.display_name} déclare un lien avec « {label} » "
        f"({LINK_KIND_LABELS[kind].lower()})",
        changes={"organisation": [None, label], "kind": [None, kind]},
    )
    conflicts: list[ConflictResult] = []
    if organisation is not None:
        open_reviews = db.session.scalars(
            sa.select(Review)
            .join(Application, Application.id == Review.application_id)
            .where(
                Review.reviewer_id == reviewer.id,
                Review.status != R.submitted,
                Application.organisation_id == organisation.id,
            )
            .order_by(Review.id)
        ).all()
        for review in open_reviews:
            conflicts.append(
                _conflict(
                    review,
                    reviewer,
                    f"Lien déclaré avec « {organisation.name} » : {LINK_KIND_LABELS[kind].lower()}",
                )
            )
    return LinkResult(link, conflicts)


def delete_link(link: ReviewerLink, actor: User) -> None:
    if link.reviewer_id != getattr(actor, "id", None):
        raise NotAllowed()
    label = link.organisation.name if link.organisation is not None else link.organisation_name
    record(
        actor,
        "review.link_delete",
        link,
        summary=f"{actor.display_name} retire son lien déclaré avec « {label} »",
        changes={"organisation": [label, None]},
    )
    db.session.delete(link)
    db.session.flush()
