"""Committee sessions and decisions: check, change, record, notify (never commit).

The accepted awards of a call must stay within the call's total envelope even when two
staff members accept at the same moment (DESIGN §9). ``Call.awarded_total`` is therefore
changed only by :func:`_move_awarded_total`, one conditional UPDATE that adds the amount
*only if* the new total still fits under the sum of the envelopes: the database evaluates
the condition on the row it locks, so of two concurrent acceptances that don't both fit,
the second finds the first's total and changes nothing (rowcount 0 → refused).

The application's status moves through :func:`grants.applications.operations.transition`
(under_review → accepted / rejected; a file still « Déposé » is first put under review).
A wait-listed file stays under review; a later acceptance or rejection replaces the
decision. An accepted award may be amended (its total raised or lowered, through the same
guarded UPDATE); accepted and rejected files are otherwise final (APPLICATION_TRANSITIONS).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value

from grants.accounts.models import User
from grants.applications import operations as application_operations
from grants.applications.models import Application, ApplicationStatus
from grants.audit.operations import record
from grants.calls import operations as call_operations
from grants.calls.models import Call, CallStatus, CallYear
from grants.core.db import utcnow
from grants.core.money import format_money
from grants.decisions import queries
from grants.decisions.models import CommitteeSession, Decision, Outcome
from grants.extensions import db
from grants.notifications.operations import notify

S = ApplicationStatus
MAX_MEMBERS = 60
MAX_TEXT = 4000


class DecisionError(ValueError):
    """A refused decision, with French messages (``fields``: per input)."""

    def __init__(
        self, message: str = "", fields: dict[str, list[str]] | None = None, status: int = 422
    ):
        self.fields = fields or {}
        self.status = status
        self.message = message or next(
            (msgs[0] for msgs in self.fields.values() if msgs), "Décision refusée."
        )
        super().__init__(self.message)


class EnvelopeExceeded(DecisionError):
    def __init__(self, message: str):
        super().__init__(message, {"awarded_total": [message]}, status=409)


def _require_staff(actor: User | None) -> None:
    if not (actor and actor.is_authenticated and actor.is_staff):
        raise DecisionError("Réservé aux agents du service.", status=403)


def _ref(application: Application) -> str:
    return application.reference or f"n° {application.id}"


# --- Sessions -----------------------------------------------------------------------------


def create_session(
    call: Call, actor: User, held_on: date | None, members: list[str], deliberation_ref: str
) -> CommitteeSession:
    """A committee session of ``call``: its date, the members present, the deliberation."""
    _require_staff(actor)
    members = [m.strip()[:200] for m in members if m and m.strip()]
    deliberation_ref = (deliberation_ref or "").strip()
    errors: dict[str, list[str]] = {}
    if held_on is None:
        errors["held_on"] = ["Indiquez la date de la séance."]
    if not members:
        errors["members_present"] = ["Indiquez les membres présents, un par ligne."]
    elif len(members) > MAX_MEMBERS:
        errors["members_present"] = [f"{MAX_MEMBERS} membres au plus."]
    if len(deliberation_ref) > 80:
        errors["deliberation_ref"] = ["80 caractères au plus."]
    if errors:
        raise DecisionError(fields=errors)
    if call.status in (CallStatus.draft, CallStatus.archived):
        raise DecisionError(
            f"Un appel « {call.status.label} » ne peut pas avoir de séance du comité.", status=409
        )
    session = CommitteeSession(
        call_id=call.id,
        held_on=held_on,
        members_present=members,
        deliberation_ref=deliberation_ref,
        created_by_id=actor.id,
    )
    db.session.add(session)
    db.session.flush()
    record(
        actor,
        "committee_session.create",
        session,
        summary=f"Séance du comité du {held_on.strftime('%d/%m/%Y')} pour l'appel « {call.title} »"
        + (f" (délibération {deliberation_ref})" if deliberation_ref else ""),
        changes={
            "held_on": [None, held_on],
            "members_present": [None, ", ".join(members)],
            "deliberation_ref": [None, deliberation_ref],
        },
    )
    return session


# --- The envelope guard -------------------------------------------------------------------


def _envelope_sum(call_id: int):
    return (
        sa.select(sa.func.coalesce(sa.func.sum(CallYear.envelope), 0))
        .where(CallYear.call_id == call_id)
        .scalar_subquery()
    )


def _move_awarded_total(call: Call, delta: Decimal) -> None:
    """Add ``delta`` to the call's accepted total in one conditional UPDATE: raised only
    while it fits in the total envelope, never lowered below 0. Refused → EnvelopeExceeded."""
    if delta == 0:
        return
    condition = (
        Call.awarded_total + delta <= _envelope_sum(call.id)
        if delta > 0
        else Call.awarded_total + delta >= 0
    )
    result = db.session.execute(
        sa.update(Call)
        .where(Call.id == call.id, condition)
        .values(awarded_total=Call.awarded_total + delta)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        current = db.session.scalar(sa.select(Call.awarded_total).where(Call.id == call.id))
        envelope = db.session.scalar(sa.select(_envelope_sum(call.id)))
        room = max(Decimal(envelope) - Decimal(current), Decimal("0"))
        raise EnvelopeExceeded(
            "Acceptation refusée : elle dépasserait l'enveloppe totale de l'appel "
            f"({format_money(envelope)}). Déjà attribué : {format_money(current)} ; "
            f"reste disponible : {format_money(room)}."
        )
    # Keep the loaded object in step without marking it dirty.
    fresh = db.session.scalar(sa.select(Call.awarded_total).where(Call.id == call.id))
    set_committed_value(call, "awarded_total", fresh)


# --- Decisions ----------------------------------------------------------------------------


@dataclass
class DecisionInput:
    outcome: Outcome
    awarded_total: Decimal | None = None
    reason: str = ""
    session_id: int | None = None
    #: why staff decide without the reviews the call requires (empty: no override)
    override_reason: str = ""


def _check(application: Application, actor: User, data: DecisionInput, current: Decision | None):
    """Field errors first (all of them), then the state of the file; returns the session."""
    call = application.call
    errors: dict[str, list[str]] = {}
    reason = (data.reason or "").strip()
    if data.outcome == Outcome.accepted:
        requested = queries.requested_total(application)
        if data.awarded_total is None:
            errors["awarded_total"] = ["Indiquez le montant attribué."]
        elif data.awarded_total <= 0:
            errors["awarded_total"] = ["Le montant attribué doit être supérieur à 0 €."]
        elif data.awarded_total > requested:
            errors["awarded_total"] = [
                f"Le montant attribué ne peut pas dépasser le montant demandé "
                f"({format_money(requested)})."
            ]
    if data.outcome == Outcome.rejected and not reason:
        errors["reason"] = ["Indiquez le motif du refus : il est communiqué au porteur."]
    if len(reason) > MAX_TEXT:
        errors["reason"] = [f"{MAX_TEXT} caractères au plus."]
    session = queries.get_session(call.id, data.session_id)
    if session is None:
        errors["session_id"] = [
            "Choisissez la séance du comité de cet appel (créez-la d'abord si besoin)."
        ]
    reviews = queries.submitted_review_count(application.id)
    override = (data.override_reason or "").strip()
    if reviews < call.reviews_required and not override:
        errors["override_reason"] = [
            f"Ce dossier a {reviews} avis rendu{'s' if reviews > 1 else ''} sur "
            f"{call.reviews_required} requis : pour décider quand même, indiquez pourquoi."
        ]
    if errors:
        raise DecisionError(fields=errors)
    if call.status in (CallStatus.draft, CallStatus.archived):
        raise DecisionError(f"On ne décide pas sur un appel « {call.status.label} ».", status=409)
    if application.eligibility_override is False:
        raise DecisionError(
            "Ce dossier a été déclaré irrecevable : il ne passe pas en comité.", status=409
        )
    if application.status == S.accepted:
        if data.outcome != Outcome.accepted or current is None:
            raise DecisionError(
                "Ce dossier est retenu : la décision est définitive ; seul le montant attribué "
                "peut encore être modifié.",
                status=409,
            )
    elif application.status not in (S.submitted, S.under_review):
        raise DecisionError(
            f"Un dossier « {application.status.label} » ne peut pas recevoir de décision.",
            status=409,
        )
    return session, reviews, override


def decide(application: Application, actor: User, data: DecisionInput) -> tuple[Decision, str]:
    """Take (or replace) the committee's decision on ``application``.

    Returns the decision and the French message to show. Raises :class:`DecisionError`
    (``EnvelopeExceeded`` when the acceptance does not fit the call's envelope).
    """
    _require_staff(actor)
    current = queries.get_decision(application.id)
    session, reviews, override = _check(application, actor, data, current)
    call = application.call
    reason = (data.reason or "").strip()
    now = utcnow()
    outcome = data.outcome
    before = {
        "outcome": current.outcome if current else None,
        "awarded_total": current.awarded_total if current else None,
        "reason": current.reason if current else None,
        "session_id": current.session_id if current else None,
    }
    amount = data.awarded_total if outcome == Outcome.accepted else None
    after = {
        "outcome": outcome,
        "awarded_total": amount,
        "reason": reason,
        "session_id": session.id,
    }
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if current is not None and not changes:
        return current, "Aucune modification : cette décision était déjà enregistrée."

    # Money first: refused before anything else changes.
    old_amount = current.awarded_total if current and current.outcome == Outcome.accepted else 0
    _move_awarded_total(call, Decimal(amount or 0) - Decimal(old_amount or 0))

    try:
        if application.status == S.submitted:
            application_operations.transition(
                application, actor, S.under_review, "Examen par le comité"
            )
        if outcome == Outcome.accepted and application.status != S.accepted:
            application_operations.transition(
                application, actor, S.accepted, reason, decided_at=now
            )
        elif outcome == Outcome.rejected:
            application_operations.transition(
                application, actor, S.rejected, reason, decided_at=now
            )
    except application_operations.ApplicationError as exc:  # lost a race on the status
        raise DecisionError(exc.message, status=409) from exc

    amended = current is not None and current.outcome == outcome == Outcome.accepted
    if current is None:
        decision = Decision(application_id=application.id)
        db.session.add(decision)
    else:
        decision = current
        if amended:
            # Two staff amending the same award at once: the second one changes nothing.
            result = db.session.execute(
                sa.update(Decision)
                .where(Decision.id == current.id, Decision.awarded_total == current.awarded_total)
                .values(awarded_total=amount)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:
                raise DecisionError(
                    "La décision a été modifiée entre-temps : rechargez la page.", status=409
                )
    decision.outcome = outcome
    decision.awarded_total = amount
    decision.reason = reason
    decision.session_id = session.id
    decision.decided_by_id = actor.id
    decision.decided_at = now
    db.session.flush()

    action = "decision.amended" if amended else f"decision.{outcome.value}"
    summary = {
        "decision.amended": f"Montant attribué au dossier {_ref(application)} : "
        f"{format_money(amount)}",
        "decision.accepted": f"Dossier {_ref(application)} retenu ({format_money(amount)})",
        "decision.rejected": f"Dossier {_ref(application)} non retenu",
        "decision.waitlisted": f"Dossier {_ref(application)} mis en liste d'attente",
    }[action]
    summary += f" — {queries.session_label(session)}"
    record(actor, action, application, summary=summary, changes=changes)
    if reviews < call.reviews_required:
        record(
            actor,
            "decision.reviews_override",
            application,
            summary=f"Décision sur le dossier {_ref(application)} avec {reviews} avis sur "
            f"{call.reviews_required} requis",
            changes={"reviews_override": [None, override]},
        )
    _notify(application, decision, now)
    from grants.funding.operations import request_schedule  # schedules follow the decisions

    request_schedule(call, actor, changed=application)
    messages = {
        "decision.amended": f"Le montant attribué au dossier {_ref(application)} est de "
        f"{format_money(amount)}.",
        "decision.accepted": f"Le dossier {_ref(application)} est retenu ({format_money(amount)}).",
        "decision.rejected": f"Le dossier {_ref(application)} n'est pas retenu.",
        "decision.waitlisted": f"Le dossier {_ref(application)} est en liste d'attente.",
    }
    return decision, messages[action]


SUBJECTS = {
    Outcome.accepted: "Dossier {ref} : votre projet est retenu",
    Outcome.rejected: "Dossier {ref} : décision du comité",
    Outcome.waitlisted: "Dossier {ref} : votre projet est en liste d'attente",
}


def _notify(application: Application, decision: Decision, now) -> None:
    from grants.accounts.tokens import external_url

    recipients = [m.user for m in application.organisation.memberships if m.user is not None]
    notify(
        "application.decision",
        application,
        recipients,
        subject=SUBJECTS[decision.outcome].format(ref=_ref(application)),
        template="decisions/decision",
        context={
            "application": application,
            "call": application.call,
            "organisation": application.organisation,
            "outcome": decision.outcome,
            "awarded_total": decision.awarded_total,
            "reason": decision.reason,
            "decided_at": now,
        },
        occurrence=f"{decision.outcome.value}:{now.isoformat()}"[:60],
        essential=True,
        link=external_url("applications.show", application_id=application.id),
    )


# --- Bulk ---------------------------------------------------------------------------------


@dataclass
class BulkResult:
    application_id: int
    reference: str
    ok: bool
    message: str


def bulk_decide(
    applications: list[Application],
    actor: User,
    outcome: Outcome,
    session_id: int | None,
    reason: str = "",
    override_reason: str = "",
) -> list[BulkResult]:
    """The same decision on several files, each in its own savepoint: one refused file
    (envelope, missing reviews, state) does not undo the others. An acceptance awards the
    total requested."""
    _require_staff(actor)
    results: list[BulkResult] = []
    for application in applications:
        ref = _ref(application)
        data = DecisionInput(
            outcome=outcome,
            awarded_total=(
                queries.requested_total(application) if outcome == Outcome.accepted else None
            ),
            reason=reason,
            session_id=session_id,
            override_reason=override_reason,
        )
        try:
            with db.session.begin_nested():
                _decision, message = decide(application, actor, data)
        except DecisionError as exc:
            db.session.expire(application.call)
            db.session.expire(application)
            results.append(BulkResult(application.id, ref, False, f"{ref} : {exc.message}"))
        else:
            results.append(BulkResult(application.id, ref, True, message))
    return results


# --- The call -----------------------------------------------------------------------------


def mark_call_decided(call: Call, actor: User) -> None:
    """A closed call whose every eligible file is decided becomes « Décidé » (its laureates
    are then public)."""
    _require_staff(actor)
    if call.status != CallStatus.closed:
        raise DecisionError(
            f"Seul un appel clos peut être marqué comme décidé (celui-ci est "
            f"« {call.status.label} »).",
            status=409,
        )
    waiting = queries.undecided_count(call.id)
    if waiting:
        raise DecisionError(
            f"{waiting} dossier{'s' if waiting > 1 else ''} attend{'ent' if waiting > 1 else ''} "
            "encore une décision (liste d'attente comprise).",
            status=409,
        )
    try:
        call_operations.decide_call(call, actor)
    except call_operations.CallError as exc:
        raise DecisionError(exc.message, status=409) from exc
