"""State changes of applications: create, save steps, attach, submit, withdraw, staff actions.

Each function checks, changes, records an audit entry and queues mails or tasks; none
commits and none reads the request (DESIGN §7). Refusals raise :class:`ApplicationError`
whose messages are French (``fields`` maps an input to its messages, ``problems`` lists the
eligibility problems that block a submission).

Every status change goes through :func:`transition`: it checks ``APPLICATION_TRANSITIONS``
(:class:`InvalidTransition` otherwise), changes the row with a *conditional* UPDATE (``WHERE
status = <the status we read>``, so two concurrent requests cannot both act on the same
state), and records an :class:`ApplicationTransition` and an audit entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from grants.accounts.models import User
from grants.applications import queries, rules
from grants.applications.models import (
    APPLICATION_STATUS_LABELS,
    Application,
    ApplicationStatus,
    ApplicationTransition,
    Attachment,
    BudgetLine,
    ComplementRequest,
    DeMinimisAid,
    DeMinimisRegime,
    FunderType,
    FundingSource,
    FundingStatus,
    InvestmentExpense,
)
from grants.audit.operations import diff, record, snapshot
from grants.calls.models import Call, CallKind, RequiredDocument
from grants.core.db import utcnow
from grants.core.formatting import PARIS, format_date_fr, format_datetime_fr
from grants.core.money import format_money
from grants.extensions import db
from grants.organisations.models import Organisation

S = ApplicationStatus

#: the answers a member edits in the steps (pages, API, audit diff)
FIELDS = [
    "approvals",
    "title",
    "summary",
    "objectives",
    "target_public",
    "territory",
    "in_qpv",
    "sector",
    "innovation",
    "partners",
    "jobs_created",
    "jobs_maintained",
    "start_date",
    "end_date",
    "signatory_name",
    "signatory_role",
    "certified",
]
#: how many times a submission retries when another one took the same reference number
REFERENCE_ATTEMPTS = 5
#: a complement round's due date can't be further than this
MAX_COMPLEMENT_DAYS = 180


class ApplicationError(ValueError):
    """A refused change, with French messages."""

    def __init__(
        self,
        message: str = "",
        fields: dict[str, list[str]] | None = None,
        problems: list[rules.Problem] | None = None,
        status: int = 422,
    ):
        self.fields = fields or {}
        self.problems = problems or []
        self.status = status
        self.message = message or next(
            (msgs[0] for msgs in self.fields.values() if msgs), "Modification refusée."
        )
        super().__init__(self.message)


class InvalidTransition(ApplicationError):
    """A status change that ``APPLICATION_TRANSITIONS`` does not allow (or that lost a race)."""

    def __init__(self, message: str):
        super().__init__(message, status=409)


class NotAllowed(ApplicationError):
    """The user may see the file but not do this."""

    def __init__(self, message: str = "Vous n'avez pas le droit de faire cette action."):
        super().__init__(message, status=403)


# --- Transitions --------------------------------------------------------------------------

TRANSITION_SUMMARIES = {
    S.submitted: "Dossier {ref} déposé",
    S.under_review: "Dossier {ref} mis en instruction",
    S.incomplete: "Compléments demandés sur le dossier {ref}",
    S.withdrawn: "Dossier {ref} retiré",
    S.accepted: "Dossier {ref} retenu",
    S.rejected: "Dossier {ref} non retenu",
}


def _ref(application: Application) -> str:
    return application.reference or f"n° {application.id}"


def transition(
    application: Application,
    actor: User | None,
    target: ApplicationStatus,
    reason: str = "",
    **values,
) -> ApplicationTransition:
    """Move ``application`` to ``target`` (one conditional UPDATE with ``values``)."""
    current = application.status
    if not application.can_transition(target):
        raise InvalidTransition(
            f"Un dossier « {current.label} » ne peut pas passer à « {target.label} »."
        )
    now = utcnow()
    values = {"status": target, "updated_at": now, **values}
    result = db.session.execute(
        sa.update(Application)
        .where(Application.id == application.id, Application.status == current)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise InvalidTransition(
            "Le dossier a été modifié entre-temps (par exemple déjà déposé) : "
            "rechargez la page pour voir son état actuel."
        )
    for key, value in values.items():
        set_committed_value(application, key, value)
    row = ApplicationTransition(
        application_id=application.id,
        actor_id=getattr(actor, "id", None),
        from_status=current,
        to_status=target,
        reason=reason,
        created_at=now,
    )
    db.session.add(row)
    if "transitions" in application.__dict__:
        application.transitions.append(row)
    record(
        actor,
        f"application.{target.value}",
        application,
        summary=TRANSITION_SUMMARIES.get(target, "Dossier {ref} : {to}").format(
            ref=_ref(application), to=target.label
        ),
        changes={"status": [current, target], **({"reason": ["", reason]} if reason else {})},
    )
    return row


# --- Creating a draft ---------------------------------------------------------------------


def start_application(call: Call, organisation: Organisation, actor: User) -> Application:
    """A new draft of ``organisation`` on ``call`` (members only, open calls only)."""
    if not organisation.is_member(actor):
        raise NotAllowed("Vous n'êtes pas membre de cette structure.")
    if not call.is_open:
        raise ApplicationError(
            "Cet appel n'est pas ouvert aux candidatures : "
            + (
                f"il ouvre le {format_datetime_fr(call.opens_at)}."
                if call.is_upcoming
                else "la date limite de dépôt est passée."
            ),
            status=409,
        )
    existing = queries.active_application(call.id, organisation.id)
    if existing is not None:
        raise ApplicationError(
            f"La structure « {organisation.name} » a déjà un dossier sur cet appel.",
            fields={"organisation_id": ["Cette structure a déjà un dossier sur cet appel."]},
            status=409,
        )
    application = Application(
        call=call,
        organisation=organisation,
        created_by_id=actor.id,
        status=S.draft,
        territory=[organisation.commune_insee] if organisation.commune_insee else [],
        in_qpv=organisation.in_qpv,
    )
    db.session.add(application)
    db.session.flush()
    record(
        actor,
        "application.create",
        application,
        summary=f"Dossier de « {organisation.name} » créé sur l'appel « {call.title} »",
    )
    return application


def _check_editable(application: Application, actor: User) -> None:
    if not application.is_member(actor):
        raise NotAllowed("Seuls les membres de la structure peuvent modifier ce dossier.")
    if not application.is_editable:
        raise ApplicationError(
            f"Ce dossier est « {application.status.label} » : il n'est plus modifiable.",
            status=409,
        )


# --- Saving the steps ---------------------------------------------------------------------


def update_fields(application: Application, actor: User, values: dict) -> dict:
    """Save the (already validated) answers in ``values``; returns the audit diff."""
    _check_editable(application, actor)
    names = [name for name in FIELDS if name in values]
    if not names:
        return {}
    before = snapshot(application, names)
    for name in names:
        setattr(application, name, values[name])
    changes = diff(before, snapshot(application, names))
    if changes:
        record(
            actor,
            "application.update",
            application,
            summary=f"Dossier {_ref(application)} modifié",
            changes=changes,
        )
    return changes


@dataclass
class RowInput:
    """A posted table row: ``id`` of the saved row it edits (or None), and its values.

    ``values`` is None when the row has errors: the saved row, if any, is kept as it was.
    """

    id: int | None
    values: dict | None


def _sync_rows(collection: list, existing: list, rows: list[RowInput], make, update) -> bool:
    """Apply posted rows to ``existing`` (part of ``collection``): saved rows absent from
    ``rows`` were emptied by the user and are removed; invalid rows keep the saved values."""
    by_id = {row.id: row for row in existing}
    posted_ids = {r.id for r in rows if r.id in by_id}
    changed = False
    for old in existing:
        if old.id not in posted_ids:
            collection.remove(old)  # delete-orphan
            changed = True
    for row in rows:
        if row.values is None:
            continue  # invalid: keep what was saved
        target = by_id.get(row.id)
        if target is None:
            collection.append(make(row.values))
            changed = True
        else:
            changed |= update(target, row.values)
    return changed


def _assign(obj, values: dict) -> bool:
    changed = False
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    return changed


def _budget_summary(lines) -> dict:
    result = {}
    for year, year_lines in sorted(rules.group_by_year(lines).items()):
        totals = rules.budget_totals(year_lines)
        result[str(year)] = {
            "charges": str(totals.total_charges),
            "produits": str(totals.total_products),
            "demandé": str(totals.requested),
        }
    return result


REQUEST_LABEL = "Subvention demandée – {funder}"
KEEP = object()


def save_budget_year(
    application: Application,
    actor: User,
    year: int,
    rows: list[RowInput],
    request=KEEP,
) -> bool:
    """Save the lines of one budget year and the amount asked of the funder (line 74).

    ``request``: a Decimal (0 or None removes the request line), or ``KEEP`` when the
    posted value was invalid.
    """
    _check_editable(application, actor)
    if application.call.kind != CallKind.project_call:
        raise ApplicationError("Ce dispositif n'a pas de budget par année.")
    years = {y.year for y in application.call.years}
    if year not in years:
        raise ApplicationError(f"{year} n'est pas une année budgétaire de l'appel.")
    before = _budget_summary(application.budget_lines)
    existing = [
        line for line in application.budget_lines if line.year == year and not line.is_request
    ]
    changed = _sync_rows(
        application.budget_lines,
        existing,
        rows,
        make=lambda v: BudgetLine(
            year=year,
            account=v["account"],
            label=v.get("label", ""),
            amount=v["amount"],
            is_request=False,
            position=v.get("position", 0),
        ),
        update=_assign,
    )
    if request is not KEEP:
        requests = [
            line for line in application.budget_lines if line.year == year and line.is_request
        ]
        keep = requests[0] if requests else None
        for extra in requests[1:]:
            application.budget_lines.remove(extra)
            changed = True
        if request:
            label = REQUEST_LABEL.format(funder=application.call.funder.name)
            if keep is None:
                application.budget_lines.append(
                    BudgetLine(
                        year=year,
                        account=rules.REQUEST_ACCOUNT,
                        label=label,
                        amount=request,
                        is_request=True,
                        position=-1,
                    )
                )
                changed = True
            else:
                changed |= _assign(keep, {"amount": request, "label": label})
        elif keep is not None:
            application.budget_lines.remove(keep)
            changed = True
    if changed:
        db.session.flush()
        db.session.expire(application, ["budget_lines"])
        after = _budget_summary(application.budget_lines)
        record(
            actor,
            "application.budget",
            application,
            summary=f"Budget {year} du dossier {_ref(application)} modifié",
            changes={"budget": [before.get(str(year)), after.get(str(year))]},
        )
    return changed


def replace_budget(application: Application, actor: User, lines: list[dict]) -> bool:
    """Replace every budget line (the API's ``budget_lines``), values already validated."""
    _check_editable(application, actor)
    years = {y.year for y in application.call.years}
    bad = sorted({line["year"] for line in lines} - years)
    if bad:
        raise ApplicationError(
            fields={
                "budget_lines": [
                    f"{', '.join(map(str, bad))} : pas une année budgétaire de l'appel "
                    f"(années : {', '.join(map(str, sorted(years)))})."
                ]
            }
        )
    before = _budget_summary(application.budget_lines)
    application.budget_lines = []
    db.session.flush()  # the old lines go before the new ones come
    application.budget_lines = [
        BudgetLine(position=position, **values) for position, values in enumerate(lines)
    ]
    db.session.flush()
    db.session.expire(application, ["budget_lines"])
    after = _budget_summary(application.budget_lines)
    if before != after:
        record(
            actor,
            "application.budget",
            application,
            summary=f"Budget du dossier {_ref(application)} modifié",
            changes={"budget": [before, after]},
        )
    return before != after


def _plan_summary(application: Application) -> dict:
    plan = rules.funding_plan(application.expenses, application.funding_sources)
    return {
        "coût total": str(plan.total_cost),
        "dépenses éligibles": str(plan.eligible_expenses),
        "financements": str(plan.total_sources),
        "demandé": str(plan.authority_amount),
    }


def save_investment_plan(
    application: Application,
    actor: User,
    expenses: list[RowInput] | None,
    sources: list[RowInput] | None,
    replace: bool = False,
) -> bool:
    """Save the eligible-expense table and the funding plan (rows as :class:`RowInput`)."""
    _check_editable(application, actor)
    if application.call.kind != CallKind.investment_aid:
        raise ApplicationError("Ce dispositif n'a pas de plan de financement d'investissement.")
    before = _plan_summary(application)
    changed = False
    if expenses is not None:
        if replace:
            application.expenses = []
        changed |= _sync_rows(
            application.expenses,
            list(application.expenses),
            expenses,
            make=lambda v: InvestmentExpense(**v),
            update=_assign,
        )
    if sources is not None:
        if replace:
            application.funding_sources = []
        changed |= _sync_rows(
            application.funding_sources,
            list(application.funding_sources),
            sources,
            make=lambda v: FundingSource(**v),
            update=_assign,
        )
    if changed or replace:
        db.session.flush()
        db.session.expire(application, ["expenses", "funding_sources"])
        after = _plan_summary(application)
        if before != after or changed:
            record(
                actor,
                "application.funding_plan",
                application,
                summary=f"Plan de financement du dossier {_ref(application)} modifié",
                changes={"funding_sources": [before, after]},
            )
    return changed


# --- De minimis ---------------------------------------------------------------------------


def add_de_minimis_aid(
    application: Application,
    actor: User,
    granted_on: date,
    funder: str,
    amount: Decimal,
    regime: DeMinimisRegime = DeMinimisRegime.general,
) -> DeMinimisAid:
    _check_editable(application, actor)
    org = application.organisation
    if not org.has_economic_activity:
        raise ApplicationError(
            "La structure n'a pas d'activité économique : aucune déclaration de minimis "
            "n'est demandée."
        )
    errors: dict[str, list[str]] = {}
    if granted_on > queries.today_paris():
        errors["granted_on"] = ["La date d'octroi ne peut pas être dans le futur."]
    if not funder.strip():
        errors["funder"] = ["Indiquez le financeur qui a accordé l'aide."]
    if amount <= 0:
        errors["amount"] = ["Le montant de l'aide doit être supérieur à zéro."]
    if errors:
        raise ApplicationError(fields=errors)
    aid = DeMinimisAid(
        organisation_id=org.id,
        granted_on=granted_on,
        funder=funder.strip()[:200],
        amount=amount,
        regime=regime,
        declared_by_id=actor.id,
    )
    db.session.add(aid)
    db.session.flush()
    record(
        actor,
        "de_minimis_aid.create",
        aid,
        summary=(
            f"Aide de minimis déclarée pour « {org.name} » : {format_money(amount)} "
            f"({aid.funder}, {format_date_fr(granted_on)})"
        ),
        changes={
            "granted_on": [None, granted_on],
            "funder": [None, aid.funder],
            "amount": [None, amount],
            "regime": [None, regime],
        },
    )
    return aid


def remove_de_minimis_aid(application: Application, actor: User, aid_id: int) -> bool:
    _check_editable(application, actor)
    aid = db.session.get(DeMinimisAid, aid_id)
    if aid is None or aid.organisation_id != application.organisation_id:
        return False
    record(
        actor,
        "de_minimis_aid.delete",
        aid,
        summary=(
            f"Aide de minimis retirée de « {application.organisation.name} » : "
            f"{format_money(aid.amount)} ({aid.funder}, {format_date_fr(aid.granted_on)})"
        ),
        changes={"amount": [aid.amount, None], "funder": [aid.funder, None]},
    )
    db.session.delete(aid)
    return True


# --- Attachments --------------------------------------------------------------------------


def required_document(application: Application, document_id: int | None) -> RequiredDocument | None:
    """The call's required document ``document_id`` (None for « other document »)."""
    if document_id is None:
        return None
    for doc in application.call.documents:
        if doc.id == document_id:
            return doc
    raise ApplicationError(
        fields={"required_document_id": ["Ce document n'est pas demandé par cet appel."]},
        status=404,
    )


def add_attachment(
    application: Application, actor: User, info, document: RequiredDocument | None
) -> tuple[Attachment, list[str]]:
    """Store an inspected upload (``grants.core.files.UploadInfo``) and attach it.

    Replaces the attachment of ``document`` if there is one. Returns the attachment and
    the storage keys to delete once the transaction is committed (the replaced file).
    """
    from grants.core.storage import get_storage, new_key

    _check_editable(application, actor)
    old_keys: list[str] = []
    if document is not None:
        for old in [a for a in application.attachments if a.required_document_id == document.id]:
            old_keys.append(old.storage_key)
            application.attachments.remove(old)
            db.session.delete(old)
    key = new_key("attachments")
    get_storage().put(key, info.data)
    attachment = Attachment(
        application=application,
        required_document_id=document.id if document else None,
        filename=info.clean_name[:200],
        storage_key=key,
        content_type=info.content_type,
        size=info.size,
        sha256=info.sha256,
        uploaded_by_id=actor.id,
    )
    db.session.add(attachment)
    db.session.flush()
    what = f"« {document.label} »" if document else "autre document"
    record(
        actor,
        "application.attachment_replace" if old_keys else "application.attachment_add",
        application,
        summary=f"Pièce {what} {'remplacée' if old_keys else 'jointe'} au dossier "
        f"{_ref(application)} : {attachment.filename}",
        changes={"attachment": [None, f"{attachment.filename} ({attachment.sha256[:12]}…)"]},
    )
    return attachment, old_keys


def delete_attachment(application: Application, actor: User, attachment: Attachment) -> str:
    """Remove an attachment; returns its storage key (delete it after the commit)."""
    _check_editable(application, actor)
    if attachment.application_id != application.id:
        raise ApplicationError("Cette pièce n'appartient pas à ce dossier.", status=404)
    key = attachment.storage_key
    record(
        actor,
        "application.attachment_delete",
        application,
        summary=f"Pièce supprimée du dossier {_ref(application)} : {attachment.filename}",
        changes={"attachment": [attachment.filename, None]},
    )
    if attachment in application.attachments:
        application.attachments.remove(attachment)
    db.session.delete(attachment)
    return key


def delete_stored(keys) -> None:
    """Delete stored files (after the commit that forgot them); errors only logged."""
    import logging

    from grants.core.storage import get_storage

    storage = get_storage()
    for key in keys:
        try:
            storage.delete(key)
        except Exception:  # an orphan file is harmless; a failed request is not
            logging.getLogger(__name__).exception("could not delete stored file %s", key)


# --- Submission ---------------------------------------------------------------------------


def end_of_day_utc(day: date) -> datetime:
    """The last instant of ``day`` in Europe/Paris, in UTC."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=PARIS) - timedelta(
        microseconds=1
    )


def open_complement_request(application: Application) -> ComplementRequest | None:
    pending = [r for r in application.complement_requests if r.answered_at is None]
    return pending[-1] if pending else None


def submission_deadline_problem(application: Application, now: datetime) -> str | None:
    """Why the server clock refuses a submission now, or None.

    A first submission must come while the call is open (``opens_at <= now < closes_at``,
    server clock, UTC). A submission after complements is judged against the due date of
    the open complement request (until the end of that day, Europe/Paris), not against the
    call's closing time, which has usually passed by then.
    """
    call = application.call
    if application.status == S.incomplete:
        request = open_complement_request(application)
        if request is not None and now > end_of_day_utc(request.due_on):
            return (
                f"Le délai pour apporter les compléments demandés a expiré le "
                f"{format_date_fr(request.due_on)} : le dossier ne peut plus être déposé. "
                "Contactez le service pour convenir d'un nouveau délai."
            )
        return None
    if now >= call.closes_at:
        return (
            f"La date limite de dépôt de l'appel « {call.title} » était le "
            f"{format_datetime_fr(call.closes_at)} (heure de Paris) : le dossier ne peut "
            "plus être déposé."
        )
    if not call.is_open_at(now):
        return f"L'appel « {call.title} » n'est pas ouvert aux dépôts" + (
            f" : il ouvre le {format_datetime_fr(call.opens_at)}." if now < call.opens_at else "."
        )
    return None


def submit(application: Application, actor: User, now: datetime | None = None) -> Application:
    """Submit (or submit again after complements): checks, reference, snapshot, receipt."""
    from grants.applications.receipt import build_snapshot
    from grants.applications.tasks import make_receipt
    from grants.core.tasks import enqueue_after_commit

    if not application.is_member(actor):
        raise NotAllowed("Seuls les membres de la structure peuvent déposer ce dossier.")
    if not application.can_transition(S.submitted):
        raise InvalidTransition(
            f"Ce dossier est « {application.status.label} » : il ne peut pas être déposé."
        )
    now = now or utcnow()
    if problem := submission_deadline_problem(application, now):
        raise ApplicationError(problem, status=409)
    problems = queries.eligibility(application, now.astimezone(PARIS).date())
    if problems and application.eligibility_override is not True:
        raise ApplicationError(
            "Le dossier ne peut pas encore être déposé : corrigez les points signalés.",
            problems=problems,
        )
    values = {"submitted_at": now, "receipt_key": None}
    if application.sequence is not None:
        transition(application, actor, S.submitted, "Dépôt après compléments", **values)
    else:
        _submit_with_new_reference(application, actor, values)
    for request in application.complement_requests:
        if request.answered_at is None:
            request.answered_at = now
    db.session.flush()
    application.snapshot = build_snapshot(application)
    application.snapshot["eligibility_problems"] = [list(p) for p in problems]
    # The receipt e-mail, with the PDF attached, is sent by make_receipt once it is made.
    enqueue_after_commit(
        db.session, make_receipt, application.id, application.reference, now.isoformat()
    )
    return application


def next_sequence(call_id: int) -> int:
    """MAX(sequence) + 1 over the call's files (a concurrent submission may take it first)."""
    return db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.max(Application.sequence), 0) + 1).where(
            Application.call_id == call_id
        )
    )


def _submit_with_new_reference(application: Application, actor: User, values: dict) -> None:
    """Take the next number of the call: MAX(sequence) + 1, retried when another
    submission took it first (the UNIQUE (call_id, sequence) constraint says so)."""
    call = application.call
    for _attempt in range(REFERENCE_ATTEMPTS):
        sequence = next_sequence(call.id)
        reference = rules.reference(call.reference_prefix, sequence)
        try:
            with db.session.begin_nested():
                transition(
                    application,
                    actor,
                    S.submitted,
                    "Dépôt",
                    sequence=sequence,
                    reference=reference,
                    **values,
                )
        except IntegrityError:
            continue
        return
    raise ApplicationError(
        "Le dépôt n'a pas pu aboutir (trop de dépôts simultanés) : réessayez dans un instant.",
        status=503,
    )


def _notify_members(
    application: Application,
    event: str,
    subject: str,
    template: str,
    occurrence: str,
    attachment: tuple[str, str] | None = None,
    **context,
) -> list[int]:
    """Notify the organisation's members (in-app and e-mail, once per occurrence)."""
    from grants.accounts.tokens import external_url
    from grants.notifications.operations import notify

    return notify(
        event,
        application,
        [membership.user for membership in application.organisation.memberships],
        subject=subject,
        template=template,
        context={
            "application": application,
            "call": application.call,
            "organisation": application.organisation,
            **context,
        },
        occurrence=occurrence,
        link=external_url("applications.show", application_id=application.id),
        attachment=attachment,
    )


def notify_submitted(application: Application, receipt_key: str) -> None:
    """The receipt of a submission, PDF attached (called by the receipt task); once per
    submission (the occurrence is its time)."""
    _notify_members(
        application,
        "application.submitted",
        f"Accusé de réception du dossier {application.reference}",
        "applications/submitted",
        application.submitted_at.isoformat(),
        attachment=(receipt_key, f"accuse-de-reception-{application.reference}.pdf"),
        resubmission=bool(application.complement_requests),
    )


# --- Withdraw, complements, review, override ----------------------------------------------


def withdraw(application: Application, actor: User, reason: str) -> Application:
    if not application.is_member(actor):
        raise NotAllowed("Seuls les membres de la structure peuvent retirer ce dossier.")
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(fields={"reason": ["Indiquez pourquoi vous retirez le dossier."]})
    if not application.can_transition(S.withdrawn):
        raise InvalidTransition(
            f"Un dossier « {application.status.label} » ne peut plus être retiré."
        )
    transition(application, actor, S.withdrawn, reason[:2000], withdrawn_at=utcnow())
    return application


def request_complements(
    application: Application, actor: User, message: str, due_on: date
) -> ComplementRequest:
    if not (actor and actor.is_staff):
        raise NotAllowed()
    message = (message or "").strip()
    errors: dict[str, list[str]] = {}
    if not message:
        errors["message"] = ["Indiquez les compléments attendus."]
    today = queries.today_paris()
    if due_on is None:
        errors["due_on"] = ["Indiquez la date limite des compléments."]
    elif due_on < today:
        errors["due_on"] = ["La date limite ne peut pas être dans le passé."]
    elif due_on > today + timedelta(days=MAX_COMPLEMENT_DAYS):
        errors["due_on"] = [f"La date limite doit être dans les {MAX_COMPLEMENT_DAYS} jours."]
    if errors:
        raise ApplicationError(fields=errors)
    if not application.can_transition(S.incomplete):
        raise InvalidTransition(
            f"On ne peut pas demander de compléments sur un dossier « {application.status.label} »."
        )
    transition(application, actor, S.incomplete, message[:2000])
    request = ComplementRequest(
        application=application,
        message=message,
        due_on=due_on,
        requested_by_id=actor.id,
    )
    db.session.add(request)
    db.session.flush()
    record(
        actor,
        "application.complement_request",
        application,
        summary=f"Compléments demandés sur le dossier {_ref(application)} "
        f"(avant le {format_date_fr(due_on)})",
        changes={"message": [None, message[:500]], "due_on": [None, due_on]},
    )
    _notify_members(
        application,
        "application.complements_requested",
        f"Dossier {application.reference} : compléments demandés",
        "applications/complements",
        str(request.id),
        complement=request,
    )
    return request


def mark_under_review(application: Application, actor: User) -> Application:
    if not (actor and actor.is_staff):
        raise NotAllowed()
    if application.status != S.submitted:
        raise InvalidTransition(
            f"Seul un dossier « Déposé » peut être mis en instruction "
            f"(celui-ci est « {application.status.label} »)."
        )
    transition(application, actor, S.under_review)
    return application


OVERRIDE_LABELS = {True: "recevable", False: "irrecevable", None: "contrôles automatiques"}


def override_eligibility(
    application: Application, actor: User, decision: bool | None, reason: str
) -> bool:
    """Staff declare the file eligible (True) or not (False), or go back to the automatic
    checks (None); always with a reason, always audited."""
    if not (actor and actor.is_staff):
        raise NotAllowed()
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(fields={"reason": ["Indiquez le motif de la décision."]})
    if application.status in (S.accepted, S.rejected, S.withdrawn):
        raise ApplicationError(
            f"Un dossier « {application.status.label} » n'est plus instruit.", status=409
        )
    before = snapshot(
        application,
        ["eligibility_override", "eligibility_override_reason", "eligibility_override_by_id"],
    )
    application.eligibility_override = decision
    application.eligibility_override_reason = reason[:2000]
    application.eligibility_override_by_id = actor.id
    record(
        actor,
        "application.eligibility_override",
        application,
        summary=f"Recevabilité du dossier {_ref(application)} : {OVERRIDE_LABELS[decision]}",
        changes={
            "eligibility_override": [before["eligibility_override"], decision],
            "eligibility_override_reason": [before["eligibility_override_reason"], reason],
        },
    )
    return True


def status_label(status: str) -> str:
    return APPLICATION_STATUS_LABELS[S(status)]


# Re-exported for the forms and the API.
__all__ = [
    "FIELDS",
    "KEEP",
    "ApplicationError",
    "FunderType",
    "FundingStatus",
    "InvalidTransition",
    "NotAllowed",
    "RowInput",
]
