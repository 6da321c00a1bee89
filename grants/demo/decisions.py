"""The committee's decisions on « Appel à projets ESS 2016 », through the decisions operations.

The selection committee met on 9 June 2016 (``create_session``: its members present and
the number of the council's deliberation, DEL-2016-0421); the council of the Métropole
decided on 24 June 2016. Each file of the call is decided with ``decide`` — six accepted
with their awarded totals (157 000 € of the 165 000 € of the three envelopes: the call's
``awarded_total`` is raised by the guarded UPDATE of the decisions operations), one
rejected with the reason the applicant reads — then the call is marked decided
(``mark_call_decided``) and its laureates are public.

Dates: the operations stamp the server's time; the decisions, the files' transitions and
decision dates, and their in-app notifications (read then) are then given the 2016 dates
of the scenario. The audit log keeps the real time; the e-mails are queued as usual.

An instance loaded by an earlier version of the demo has accepted and rejected files
without a :class:`~grants.decisions.models.Decision` (they were moved by the generic
transition): see :func:`_backfill`.

A second run changes nothing: a file with a decision is left alone, the session is found
by its deliberation number, and a decided call stays decided.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa

from grants.demo.calls import AAP_2016, paris

HELD_ON = date(2016, 6, 9)
DELIBERATION = "DEL-2016-0421"
MEMBERS = [
    "Hélène Duclos, vice-présidente chargée de l'économie sociale et solidaire "
    "(présidente de séance)",
    "Marc Ribeiro, conseiller métropolitain délégué à l'insertion",
    "Claire Fabre, conseillère métropolitaine",
    "Sébastien Agent ESS, service de l'économie sociale et solidaire (rapporteur)",
    "Représentante de la CRESS Aquitaine (voix consultative)",
]


def _session(call, staff):
    from grants.decisions.models import CommitteeSession
    from grants.decisions.operations import create_session
    from grants.extensions import db

    session = db.session.scalar(
        sa.select(CommitteeSession)
        .where(
            CommitteeSession.call_id == call.id,
            CommitteeSession.deliberation_ref == DELIBERATION,
        )
        .order_by(CommitteeSession.id)
        .limit(1)
    )
    if session is None:
        session = create_session(call, staff, HELD_ON, MEMBERS, DELIBERATION)
        session.created_at = paris(HELD_ON, 18)
    return session


def _dated(spec) -> datetime:
    return spec.concluded or paris(date(2016, 6, 24), 11)


def _decide(spec, application, session, staff) -> None:
    """``decide`` as staff would from the ranking, then the scenario's dates."""
    from grants.decisions.models import Outcome
    from grants.decisions.operations import DecisionInput, decide
    from grants.demo.files import S, _backdate
    from grants.demo.reviews import _settle_notifications

    outcome = Outcome.accepted if spec.status == S.accepted else Outcome.rejected
    decision, _message = decide(
        application,
        staff,
        DecisionInput(
            outcome=outcome,
            awarded_total=spec.award if outcome == Outcome.accepted else None,
            reason=spec.reason,
            session_id=session.id,
        ),
    )
    when = _dated(spec)
    decision.decided_at = when
    application.decided_at = when
    _backdate(spec, application)
    _settle_notifications("application.decision", "application", [application.id], when)


def _backfill(spec, application, session, staff) -> None:
    """The Decision of a file decided by an earlier version of the demo.

    Those files were moved to « Retenu » / « Non retenu » by the generic transition, with
    no :class:`Decision`. ``decide`` can't record it now — an accepted or rejected file is
    final, and the decisions operations refuse to decide it again — so the row is written
    here, consistent with the file: the outcome is its status, the reason the one its
    transition recorded, the date its decision date, the session the demo's; an accepted
    file's awarded total is the scenario's (at most its request), added to the call's
    ``awarded_total`` through the same guarded UPDATE as ``decide`` (refused beyond the
    envelope). Audited; nobody is notified again (the applicant was told at the time).
    """
    from grants.applications.models import ApplicationTransition
    from grants.audit.operations import record
    from grants.core.money import format_money
    from grants.decisions import queries
    from grants.decisions.models import Decision, Outcome
    from grants.decisions.operations import _move_awarded_total
    from grants.demo.files import S
    from grants.extensions import db

    outcome = Outcome.accepted if application.status == S.accepted else Outcome.rejected
    amount = None
    if outcome == Outcome.accepted:
        requested = queries.requested_total(application)
        amount = min(spec.award or requested, requested)
        _move_awarded_total(application.call, amount)
    last = db.session.scalar(
        sa.select(ApplicationTransition)
        .where(
            ApplicationTransition.application_id == application.id,
            ApplicationTransition.to_status == application.status,
        )
        .order_by(ApplicationTransition.id.desc())
        .limit(1)
    )
    reason = (last.reason if last is not None else "") or spec.reason
    decision = Decision(
        application_id=application.id,
        session_id=session.id,
        outcome=outcome,
        awarded_total=amount,
        reason=reason,
        decided_by_id=(last.actor_id if last is not None else None) or staff.id,
        decided_at=application.decided_at or _dated(spec),
    )
    db.session.add(decision)
    db.session.flush()
    ref = application.reference or f"n° {application.id}"
    record(
        staff,
        f"decision.{outcome.value}",
        application,
        summary=f"Décision du comité sur le dossier {ref} reprise des données de démonstration"
        + (f" ({format_money(amount)})" if amount is not None else ""),
        changes={
            "outcome": [None, outcome],
            "awarded_total": [None, amount],
            "session_id": [None, session.id],
        },
    )


def load_decisions(organisations: dict, calls: dict, staff, loaded_at: datetime) -> None:
    from grants.calls.models import CallStatus
    from grants.decisions import queries
    from grants.decisions.operations import mark_call_decided
    from grants.demo.files import S, demo_files
    from grants.demo.reviews import _application

    call = calls[AAP_2016].call
    specs = [
        spec
        for spec in demo_files(loaded_at)
        if spec.call == AAP_2016 and spec.status in (S.accepted, S.rejected)
    ]
    # The laureates in the order of their ranking, then the rejection.
    specs.sort(key=lambda s: (s.status != S.accepted, -(s.award or 0)))
    pending = []
    for spec in specs:
        application = _application(call, organisations[spec.org])
        if application is None or queries.get_decision(application.id) is not None:
            continue
        if application.status in (S.submitted, S.under_review):
            pending.append((_decide, spec, application))
        elif application.status in (S.accepted, S.rejected):
            pending.append((_backfill, spec, application))
    if pending:
        session = _session(call, staff)
        for play, spec, application in pending:
            play(spec, application, session, staff)
    if call.status == CallStatus.closed and queries.undecided_count(call.id) == 0:
        mark_call_decided(call, staff)
        call.updated_at = paris(date(2016, 6, 24), 12)
