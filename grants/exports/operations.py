"""Asking for an export: check the request, create the job, enqueue the worker after commit.

``request_export(actor, kind, format, params)`` is the one way in (pages and API): it
checks the kind, the format and the filters (French messages by field in
:class:`ExportError`), writes the :class:`ExportJob` row and its audit entry, and asks for
``grants.exports.run_export(job_id)`` once the transaction commits. The caller commits.

``params``: ``call_id`` (one call), ``year`` (2000–2100); the SCDL export takes ``year``
(required: the year of the decisions) and ``all`` (every subsidy, not only those over
23,000 EUR).
"""

from __future__ import annotations

from typing import Any

from grants.audit.operations import record
from grants.audit.queries import register_action_labels, register_labels
from grants.calls.models import Call
from grants.core.tasks import enqueue_after_commit
from grants.exports.models import ExportFormat, ExportJob, ExportKind
from grants.exports.queries import FORMAT_LABELS, KIND_LABELS
from grants.exports.tasks import run_export
from grants.extensions import db

MIN_YEAR, MAX_YEAR = 2000, 2100
TABLE_PARAMS = {"call_id", "year"}
SCDL_PARAMS = {"year", "all"}


class ExportError(Exception):
    """A request that cannot become a job; ``fields`` gives French messages by field."""

    def __init__(self, fields: dict[str, list[str]]):
        super().__init__("; ".join(m for ms in fields.values() for m in ms))
        self.fields = fields


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"1", "true", "oui", "on", "y"}:
        return True
    if isinstance(value, str) and value.strip().lower() in {"", "0", "false", "non", "off"}:
        return False
    return None


def check_request(kind: Any, format_: Any, params: Any) -> tuple[ExportKind, ExportFormat, dict]:
    """``(kind, format, clean params)``, or ExportError with the messages by field."""
    errors: dict[str, list[str]] = {}
    try:
        kind = ExportKind(kind)
    except ValueError:
        errors["kind"] = ["Choisissez le type d'export."]
        kind = None
    try:
        format_ = ExportFormat(format_)
    except ValueError:
        errors["format"] = ["Choisissez le format : XLSX ou CSV."]
        format_ = None
    if kind == ExportKind.scdl and format_ not in (None, ExportFormat.csv):
        errors["format"] = ["Le fichier SCDL des données ouvertes est un CSV."]
    if params is None:
        params = {}
    if not isinstance(params, dict):
        errors["params"] = ["Les filtres doivent être un objet (call_id, year…)."]
        params = {}
    allowed = SCDL_PARAMS if kind == ExportKind.scdl else TABLE_PARAMS
    unknown = sorted(set(params) - allowed)
    if unknown:
        errors["params"] = [f"Filtre(s) inconnu(s) : {', '.join(unknown)}."]
    clean: dict[str, Any] = {}

    year = params.get("year")
    if year not in (None, ""):
        value = _int(year)
        if value is None or not MIN_YEAR <= value <= MAX_YEAR:
            errors["year"] = [f"Indiquez une année entre {MIN_YEAR} et {MAX_YEAR}."]
        else:
            clean["year"] = value
    elif kind == ExportKind.scdl:
        errors["year"] = ["Indiquez l'année des décisions d'attribution."]

    if kind == ExportKind.scdl:
        include_all = _bool(params.get("all", False))
        if include_all is None:
            errors["all"] = ["Répondez par vrai ou faux."]
        elif include_all:
            clean["all"] = True
    else:
        call_id = params.get("call_id")
        if call_id not in (None, ""):
            value = _int(call_id)
            if value is None or db.session.get(Call, value) is None:
                errors["call_id"] = ["Cet appel n'existe pas."]
            else:
                clean["call_id"] = value
    if errors:
        raise ExportError(errors)
    return kind, format_, clean


def describe(kind: ExportKind, format_: ExportFormat, params: dict) -> str:
    text = f"{KIND_LABELS[kind]} ({FORMAT_LABELS[format_]})"
    details = []
    if params.get("call_id"):
        details.append(f"appel n° {params['call_id']}")
    if params.get("year"):
        details.append(f"année {params['year']}")
    if params.get("all"):
        details.append("toutes les aides")
    return f"{text}, {', '.join(details)}" if details else text


def request_export(actor, kind: Any, format_: Any, params: Any = None) -> ExportJob:
    """Create the job and enqueue it after the commit (the caller commits)."""
    kind, format_, clean = check_request(kind, format_, params)
    job = ExportJob(
        kind=kind,
        format=format_,
        params=clean,
        requested_by_id=getattr(actor, "id", None),
    )
    db.session.add(job)
    db.session.flush()
    record(
        actor, "export.requested", job, summary=f"Export demandé : {describe(kind, format_, clean)}"
    )
    enqueue_after_commit(db.session, run_export, job.id)
    return job


register_labels("export_job", "Export", {"status": "Statut"})
register_action_labels({"export.requested": "Export demandé"})
