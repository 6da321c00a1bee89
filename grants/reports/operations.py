"""State changes of the annual reports: save (draft), attach a document, submit, accept,
send back. Each checks the actor's right, records an audit entry and writes its
notifications in the same transaction; none commits.

Status changes are conditional UPDATEs on the status the actor saw (``WHERE id = :id AND
status = :seen``): two agents accepting and sending back the same report at once can't
both win, and a report accepted in between can't be submitted again. Accepting a report
is what releases the award's next tranche (the payments read ``AnnualReport.status``).

Notifications: a handed-in report goes to staff, in their inbox only (an in-app row of
the notification ledger, no e-mail: the staff list and the dashboard show it too); an
accepted or returned report goes to the organisation's members, in the inbox and by
e-mail (essential: it decides a payment). Each submission and each review is its own
occurrence, so a report returned and handed in again notifies again — once.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from grants.accounts.models import User
from grants.audit.operations import record
from grants.core.db import utcnow
from grants.core.mail import SUBJECT_MAX, render_mail
from grants.extensions import db
from grants.notifications.models import Notification
from grants.payments.models import AnnualReport, ReportStatus
from grants.reports import queries, rules

#: document types accepted with a report (keys of ``grants.calls.models.FILE_TYPES``)
DOCUMENT_TYPES = frozenset({"pdf", "odt", "docx", "xlsx", "ods"})

NOT_EDITABLE = {
    ReportStatus.submitted: "Ce compte rendu est remis au service : il ne peut plus être modifié "
    "(le service peut vous le renvoyer pour corrections).",
    ReportStatus.accepted: "Ce compte rendu est accepté : il ne peut plus être modifié.",
}
CHANGED = "Ce compte rendu a changé entre-temps : rechargez la page."


class ReportError(Exception):
    """A refused change: ``message`` (French), ``status`` (HTTP), ``fields`` per field."""

    def __init__(self, message: str = "", status: int = 409, fields: dict | None = None):
        super().__init__(message or "Saisie invalide.")
        self.message = message or "Le compte rendu contient des erreurs."
        self.status = status
        self.fields = fields or {}


def _ref(report: AnnualReport) -> str:
    application = report.award.application
    return f"{application.reference or f'dossier n° {application.id}'} ({report.year})"


def _check_member(report: AnnualReport, actor: User) -> None:
    if not queries.is_member(report, actor):
        raise ReportError(
            "Seuls les membres de la structure peuvent modifier ce compte rendu.", 403
        )


def _check_editable(report: AnnualReport, actor: User) -> None:
    _check_member(report, actor)
    if not rules.is_editable(report.status):
        raise ReportError(NOT_EDITABLE.get(report.status, CHANGED), 409)


def _check_staff(actor: User) -> None:
    if not (actor and actor.is_authenticated and actor.is_staff):
        raise ReportError("Action réservée au service.", 403)


# --- the beneficiary ------------------------------------------------------------------------


def _fields(report: AnnualReport) -> dict:
    return {
        "activity": report.activity or "",
        "jobs_created": report.jobs_created,
        "jobs_maintained": report.jobs_maintained,
        "people_supported": report.people_supported,
        "indicators": dict(report.indicators or {}),
    }


def save_report(report: AnnualReport, actor: User, values: rules.ReportValues) -> bool:
    """Save what the beneficiary entered (the report stays due or returned); False when
    nothing changed. Audited with the fields that changed."""
    _check_editable(report, actor)
    before = _fields(report)
    before_lines = list(report.financial or [])
    new_lines = [line.as_json() for line in values.lines]
    report.activity = values.activity
    report.jobs_created = values.jobs_created
    report.jobs_maintained = values.jobs_maintained
    report.people_supported = values.people_supported
    report.indicators = dict(values.indicators)
    report.financial = new_lines
    after = _fields(report)
    changes = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    if before_lines != new_lines:
        changed_before = [row for row in before_lines if row not in new_lines]
        changed_after = [row for row in new_lines if row not in before_lines]
        changes["financial"] = [changed_before, changed_after]
    if not changes:
        return False
    record(
        actor,
        "report.save",
        report,
        summary=f"Compte rendu {_ref(report)} enregistré (brouillon)",
        changes=changes,
    )
    return True


def attach_document(report: AnnualReport, actor: User, info) -> str | None:
    """Store an inspected upload (``grants.core.files.UploadInfo``) as the report's
    document; returns the replaced file's key (delete it after the commit)."""
    from grants.core.storage import get_storage, new_key

    _check_editable(report, actor)
    if info.extension not in DOCUMENT_TYPES:
        raise ReportError(
            "Joignez un document PDF, ODT, DOCX, XLSX ou ODS.", 422, {"document": ["Type refusé."]}
        )
    old_key, old_name = report.file_key, report.file_name
    key = new_key("reports")
    get_storage().put(key, info.data)
    report.file_key = key
    report.file_name = info.clean_name[:200]
    record(
        actor,
        "report.document_add",
        report,
        summary=f"Document joint au compte rendu {_ref(report)} : {report.file_name}",
        changes={"file": [old_name, f"{report.file_name} ({info.sha256[:12]}…)"]},
    )
    return old_key


def remove_document(report: AnnualReport, actor: User) -> str | None:
    """Forget the report's document; returns its key (delete it after the commit)."""
    _check_editable(report, actor)
    key, name = report.file_key, report.file_name
    if key is None:
        return None
    report.file_key = None
    report.file_name = None
    record(
        actor,
        "report.document_delete",
        report,
        summary=f"Document supprimé du compte rendu {_ref(report)} : {name}",
        changes={"file": [name, None]},
    )
    return key


def delete_stored(keys) -> None:
    """Delete stored files after the commit that forgot them (errors only logged)."""
    from grants.applications.operations import delete_stored as _delete

    _delete([k for k in keys if k])


def _move(report: AnnualReport, target: ReportStatus, **values) -> None:
    """The conditional UPDATE of a status change (see the module's docstring)."""
    if not rules.can_transition(report.status, target):
        raise ReportError(NOT_EDITABLE.get(report.status, CHANGED), 409)
    db.session.flush()
    result = db.session.execute(
        sa.update(AnnualReport)
        .where(AnnualReport.id == report.id, AnnualReport.status == report.status)
        .values(status=target, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise ReportError(CHANGED, 409)
    db.session.expire(report)


def submit_report(report: AnnualReport, actor: User) -> None:
    """Hand the report in (due or returned → submitted): refused with the problems per
    field (422) while something is missing — an explanation for a gap over 10 % above
    all."""
    _check_editable(report, actor)
    problems = rules.submission_problems(queries.values_of(report))
    if problems:
        raise ReportError(
            "Le compte rendu n'est pas remis : complétez les champs signalés.", 422, problems
        )
    before = report.status
    now = utcnow()
    _move(report, ReportStatus.submitted, submitted_at=now, submitted_by_id=actor.id)
    record(
        actor,
        "report.submit",
        report,
        summary=f"Compte rendu {_ref(report)} remis"
        + (" après corrections" if before == ReportStatus.returned else ""),
        changes={"status": [before, ReportStatus.submitted]},
    )
    _notify_staff_submitted(report, actor, now)


def accept_report(report: AnnualReport, actor: User) -> None:
    """Staff accept a handed-in report (→ accepted: the next tranche may be released)."""
    _check_staff(actor)
    before = report.status
    now = utcnow()
    _move(report, ReportStatus.accepted, reviewed_at=now, reviewed_by_id=actor.id)
    record(
        actor,
        "report.accept",
        report,
        summary=f"Compte rendu {_ref(report)} accepté",
        changes={"status": [before, ReportStatus.accepted]},
    )
    _notify_members(report, "report.accepted", "accepted", now)


def return_report(report: AnnualReport, actor: User, comment: str) -> None:
    """Staff send a handed-in report back for corrections, saying what to correct."""
    _check_staff(actor)
    comment = (comment or "").replace("\r\n", "\n").strip()
    if not comment:
        raise ReportError(
            "Indiquez ce que la structure doit corriger.",
            422,
            {"comment": ["Indiquez ce que la structure doit corriger."]},
        )
    if len(comment) > rules.MAX_COMMENT:
        raise ReportError(
            "Commentaire trop long.",
            422,
            {"comment": [f"{rules.MAX_COMMENT} caractères au plus."]},
        )
    before = report.status
    now = utcnow()
    _move(
        report,
        ReportStatus.returned,
        reviewed_at=now,
        reviewed_by_id=actor.id,
        review_comment=comment,
    )
    record(
        actor,
        "report.return",
        report,
        summary=f"Compte rendu {_ref(report)} renvoyé pour corrections",
        changes={"status": [before, ReportStatus.returned], "review_comment": [None, comment]},
    )
    _notify_members(report, "report.returned", "returned", now, comment=comment)


# --- notifications --------------------------------------------------------------------------


def _url(endpoint: str, **values) -> str:
    from grants.accounts.tokens import external_url

    return external_url(endpoint, **values)


def _context(report: AnnualReport) -> dict:
    application = report.award.application
    return {
        "report": report,
        "application": application,
        "organisation": application.organisation,
        "call": report.award.call,
    }


def _notify_members(report: AnnualReport, event: str, kind: str, when, comment: str = "") -> None:
    from grants.notifications.operations import notify

    organisation = report.award.application.organisation
    subjects = {
        "accepted": f"Compte rendu {report.year} accepté",
        "returned": f"Compte rendu {report.year} à corriger",
    }
    notify(
        event,
        report,
        [m.user for m in organisation.memberships],
        subject=f"{subjects[kind]} : {_ref(report)}",
        template=f"reports/{kind}",
        context={**_context(report), "comment": comment},
        occurrence=when.isoformat(),
        link=_url("reports.show", report_id=report.id),
    )


def _insert_ledger():
    dialect = db.session.get_bind().dialect.name
    return (
        (postgresql if dialect == "postgresql" else sqlite)
        .insert(Notification.__table__)
        .on_conflict_do_nothing(
            index_elements=["event", "object_type", "object_id", "recipient_id", "occurrence"]
        )
    )


def _notify_staff_submitted(report: AnnualReport, actor: User, when) -> int:
    """An in-app notification (no e-mail) for each active staff member; once per
    submission (the ledger's unique key, ``INSERT … ON CONFLICT DO NOTHING``)."""
    staff = [u for u in queries.staff_users() if u.id != actor.id]
    if not staff:
        return 0
    link = _url("reports.review", report_id=report.id)
    subject = f"Compte rendu {report.year} remis : {_ref(report)}"[:SUBJECT_MAX]
    context = {**_context(report), "submitted_at": when}
    rows = [
        {
            "event": "report.submitted",
            "object_type": AnnualReport.__tablename__,
            "object_id": str(report.id),
            "recipient_id": user.id,
            "occurrence": when.isoformat(),
            "essential": False,
            "subject": subject,
            "body": render_mail("reports/submitted", user=user, link=link, **context)[0],
            "link": link,
            "created_at": when,
        }
        for user in staff
    ]
    db.session.execute(_insert_ledger(), rows)
    return len(rows)
