"""Annual reports in the JSON API: the same rights and French messages as the pages.

Members of the organisation list and read their reports, change them while they are due
or returned (PATCH), and hand them in (submit); staff list every report (filters: call,
year, status, late) and accept or return them. A report the user may not see answers 404.
Input errors answer 422 with ``error.fields``, keyed like the form: ``activity``,
``actual_<i>`` / ``explanation_<i>`` (``i`` = the line's ``index``), ``jobs_created``,
``jobs_maintained``, ``people_supported``, ``indicators``, ``comment``.

The document attached to a report is uploaded on the page; the API gives its name and its
permission-checked download link.
"""

from __future__ import annotations

from decimal import Decimal

from flask import jsonify, request, url_for
from flask_login import current_user

from grants.api.openapi import json_body, json_response, operation, ref, schema
from grants.api.views import api_error, bp
from grants.extensions import db
from grants.payments.models import AnnualReport, ReportStatus
from grants.reports import operations, queries, rules

TAGS = ["Comptes rendus annuels"]

REPORT_ID = {
    "name": "report_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer"},
    "description": "Identifiant du compte rendu annuel.",
}
INVALID = json_response(
    "Saisie invalide : `error.fields` donne les messages (en français) par champ.", ref("Error")
)
CONFLICT = json_response(
    "Action impossible dans l'état actuel du compte rendu (déjà remis, accepté…).", ref("Error")
)
AMOUNT = {"type": "string", "pattern": r"^\d+(\.\d{1,2})?$", "example": "12500.00"}
DATETIME = {"type": "string", "format": "date-time", "nullable": True}

LINE = schema(
    "ReportLine",
    {
        "type": "object",
        "description": "Une ligne du compte rendu financier (Cerfa 15059) : le prévu du budget "
        "du dossier pour l'année, le réalisé, l'explication de l'écart. `gap` est vrai quand "
        "|réalisé − prévu| > 10 % du prévu (prévu 0 et réalisé > 0 compris) : l'explication "
        "est alors obligatoire pour remettre le compte rendu.",
        "properties": {
            "index": {"type": "integer"},
            "account": {"type": "string", "example": "64"},
            "account_label": {"type": "string"},
            "side": {"type": "string", "enum": ["charges", "products"]},
            "label": {"type": "string"},
            "planned": AMOUNT,
            "actual": {**AMOUNT, "nullable": True},
            "explanation": {"type": "string"},
            "gap": {"type": "boolean"},
        },
    },
)
REPORT = schema(
    "AnnualReport",
    {
        "type": "object",
        "required": ["id", "award_id", "year", "due_on", "status", "late"],
        "properties": {
            "id": {"type": "integer"},
            "award_id": {"type": "integer"},
            "year": {"type": "integer"},
            "due_on": {"type": "string", "format": "date"},
            "status": {"type": "string", "enum": [s.value for s in ReportStatus]},
            "status_label": {"type": "string"},
            "late": {
                "type": "boolean",
                "description": "Date limite passée (heure de Paris) et compte rendu non remis.",
            },
            "application": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "reference": {"type": "string", "nullable": True},
                    "title": {"type": "string"},
                },
            },
            "organisation": {
                "type": "object",
                "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
            },
            "call": {
                "type": "object",
                "properties": {"id": {"type": "integer"}, "title": {"type": "string"}},
            },
            "activity": {"type": "string"},
            "jobs_created": {"type": "integer", "nullable": True},
            "jobs_maintained": {"type": "integer", "nullable": True},
            "people_supported": {"type": "integer", "nullable": True},
            "indicators": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "Les indicateurs propres à l'appel, nommés librement par la "
                "structure : {nom: valeur}.",
            },
            "financial": {
                "type": "array",
                "items": LINE,
                "description": "Détail seulement (GET /reports/{report_id}).",
            },
            "totals": {
                "type": "object",
                "description": "Détail seulement. Charges = comptes 60–68 et 86, produits = "
                "70–78 et 87.",
                "properties": {
                    "charges_planned": AMOUNT,
                    "charges_actual": AMOUNT,
                    "products_planned": AMOUNT,
                    "products_actual": AMOUNT,
                },
            },
            "document": {
                "type": "object",
                "nullable": True,
                "properties": {"name": {"type": "string"}, "url": {"type": "string"}},
            },
            "submitted_at": DATETIME,
            "reviewed_at": DATETIME,
            "review_comment": {"type": "string"},
            "url": {"type": "string", "description": "La page du compte rendu."},
        },
    },
)
REPORT_LIST = schema(
    "AnnualReportList",
    {
        "type": "object",
        "required": ["items", "page", "per_page", "total"],
        "properties": {
            "items": {"type": "array", "items": ref("AnnualReport")},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
            "total": {"type": "integer"},
        },
    },
)
REPORT_PATCH = schema(
    "AnnualReportPatch",
    {
        "type": "object",
        "additionalProperties": False,
        "description": "Les champs à modifier (compte rendu à remettre ou à corriger). Tout "
        "ou rien : avec une erreur, rien n'est enregistré. Les montants sont des chaînes "
        "(« 12500.00 » ou « 12 500,00 »), jamais des nombres à virgule flottante.",
        "properties": {
            "activity": {"type": "string", "maxLength": rules.MAX_ACTIVITY},
            "financial": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["index"],
                    "properties": {
                        "index": {"type": "integer", "minimum": 0},
                        "actual": {"type": "string", "nullable": True},
                        "explanation": {"type": "string"},
                    },
                },
            },
            "jobs_created": {"type": "integer", "minimum": 0, "nullable": True},
            "jobs_maintained": {"type": "integer", "minimum": 0, "nullable": True},
            "people_supported": {"type": "integer", "minimum": 0, "nullable": True},
            "indicators": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "maxProperties": rules.MAX_INDICATORS,
                "description": "Remplace la liste des indicateurs de l'appel.",
            },
        },
    },
)
RETURN = schema(
    "AnnualReportReturn",
    {
        "type": "object",
        "required": ["comment"],
        "properties": {"comment": {"type": "string", "maxLength": rules.MAX_COMMENT}},
    },
)


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _not_found():
    return api_error(404, "Ressource introuvable", "Ce compte rendu n'existe pas.")


def _invalid(fields: dict, message: str = "Corrigez les champs signalés."):
    return api_error(422, "Saisie invalide", message, fields)


def _error(exc: operations.ReportError):
    titles = {403: "Action interdite", 404: "Ressource introuvable", 409: "Action impossible"}
    if exc.status == 422:
        return _invalid(exc.fields, exc.message)
    return api_error(exc.status, titles.get(exc.status, "Action impossible"), exc.message)


def line_json(i: int, line: rules.FinancialLine) -> dict:
    return {"index": i, "account_label": line.account_label, "side": line.side} | {
        **line.as_json(),
        "gap": line.gap,
    }


def report_json(report: AnnualReport, *, detail: bool = False) -> dict:
    application = report.award.application
    data = {
        "id": report.id,
        "award_id": report.award_id,
        "year": report.year,
        "due_on": report.due_on.isoformat(),
        "status": report.status.value,
        "status_label": report.status.label,
        "late": queries.is_late(report),
        "application": {
            "id": application.id,
            "reference": application.reference,
            "title": application.title,
        },
        "organisation": {"id": application.organisation.id, "name": application.organisation.name},
        "call": {"id": report.award.call.id, "title": report.award.call.title},
        "activity": report.activity or "",
        "jobs_created": report.jobs_created,
        "jobs_maintained": report.jobs_maintained,
        "people_supported": report.people_supported,
        "indicators": dict(report.indicators or {}),
        "document": (
            {
                "name": report.file_name,
                "url": url_for("reports.download", report_id=report.id),
            }
            if report.file_key
            else None
        ),
        "submitted_at": _iso(report.submitted_at),
        "reviewed_at": _iso(report.reviewed_at),
        "review_comment": report.review_comment or "",
        "url": url_for("reports.show", report_id=report.id),
    }
    if detail:
        lines = queries.lines_of(report)
        data["financial"] = [line_json(i, line) for i, line in enumerate(lines)]
        data["totals"] = rules.totals(lines).as_json()
    return data


def _detail(report_id: int):
    return jsonify(report_json(queries.get_report(report_id), detail=True))


@bp.get("/reports")
@operation(
    "/reports",
    "get",
    {
        "summary": "Les comptes rendus annuels (les siens ; tous pour le service)",
        "tags": TAGS,
        "parameters": [
            {"name": "call_id", "in": "query", "schema": {"type": "integer"}},
            {"name": "year", "in": "query", "schema": {"type": "integer"}},
            {
                "name": "status",
                "in": "query",
                "schema": {"type": "string", "enum": [s.value for s in ReportStatus]},
            },
            {
                "name": "late",
                "in": "query",
                "schema": {"type": "boolean"},
                "description": "Seulement les comptes rendus en retard.",
            },
            {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
            {
                "name": "per_page",
                "in": "query",
                "schema": {"type": "integer", "minimum": 1, "maximum": 100},
            },
        ],
        "responses": {
            "200": json_response("Une page de comptes rendus.", REPORT_LIST),
            "422": INVALID,
        },
    },
)
def reports_list():
    errors: dict[str, list[str]] = {}
    filters = queries.StaffFilters()
    for name, attr in (("call_id", "call_id"), ("year", "year")):
        text = request.args.get(name, "")
        if text:
            if not text.isdigit() or len(text) > 9:
                errors[name] = ["Un nombre entier est attendu."]
            else:
                setattr(filters, attr, int(text))
    status = request.args.get("status", "")
    if status:
        if status not in queries.STATUS_FILTERS:
            errors["status"] = ["Choisissez une valeur dans la liste."]
        else:
            filters.status = status
    late = request.args.get("late", "").lower()
    if late:
        if late not in {"true", "false", "1", "0"}:
            errors["late"] = ["true ou false."]
        filters.late = late in {"true", "1"}
    if errors:
        return _invalid(errors)
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    per_page = min(max(request.args.get("per_page", 25, type=int) or 25, 1), 100)
    pagination = db.paginate(
        queries.api_query(current_user, filters), page=page, per_page=per_page, error_out=False
    )
    return jsonify(
        {
            "items": [report_json(r) for r in pagination.items],
            "page": page,
            "per_page": per_page,
            "total": pagination.total,
        }
    )


@bp.get("/reports/<int:report_id>")
@operation(
    "/reports/{report_id}",
    "get",
    {
        "summary": "Un compte rendu annuel, avec son compte rendu financier",
        "tags": TAGS,
        "parameters": [REPORT_ID],
        "responses": {"200": json_response("Le compte rendu.", REPORT)},
    },
)
def reports_get(report_id: int):
    report = queries.visible_report(report_id, current_user)
    if report is None:
        return _not_found()
    return jsonify(report_json(report, detail=True))


def _patch_raw(report: AnnualReport, payload: dict, n_lines: int) -> tuple[dict, dict]:
    """The stored values with the payload's changes, as :func:`rules.parse_report` reads
    them; plus the errors of shape (types, unknown fields)."""
    raw = rules.raw_from_values(queries.values_of(report))
    errors: dict[str, list[str]] = {}
    allowed = {"activity", "financial", "indicators", *rules.COUNT_FIELDS}
    for name in payload:
        if name not in allowed:
            errors[name] = ["Champ inconnu."]
    if "activity" in payload:
        if not isinstance(payload["activity"], str | None):
            errors["activity"] = ["Une chaîne de caractères est attendue."]
        else:
            raw["activity"] = payload["activity"] or ""
    for name in rules.COUNT_FIELDS:
        if name in payload:
            value = payload[name]
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                errors[name] = ["Un nombre entier positif ou nul est attendu."]
            else:
                raw[name] = value
    if "financial" in payload:
        rows = payload["financial"]
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            errors["financial"] = ["Une liste d'objets {index, actual, explanation} est attendue."]
            rows = []
        for n, row in enumerate(rows):
            index = row.get("index")
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n_lines:
                errors[f"financial[{n}].index"] = [
                    f"Indiquez le numéro d'une ligne du compte rendu (0 à {n_lines - 1})."
                    if n_lines
                    else "Ce compte rendu n'a pas de ligne financière."
                ]
                continue
            for key in row:
                if key not in {"index", "actual", "explanation"}:
                    errors[f"financial[{n}].{key}"] = ["Champ inconnu."]
            if "actual" in row:
                actual = row["actual"]
                if isinstance(actual, bool) or isinstance(actual, float):
                    errors[f"actual_{index}"] = [
                        "Indiquez le montant sous forme de chaîne (ex. « 12500.00 »)."
                    ]
                elif actual is not None and not isinstance(actual, str | int):
                    errors[f"actual_{index}"] = ["Une chaîne de caractères est attendue."]
                else:
                    raw[f"actual_{index}"] = "" if actual is None else str(actual)
            if "explanation" in row:
                explanation = row["explanation"]
                if explanation is not None and not isinstance(explanation, str):
                    errors[f"explanation_{index}"] = ["Une chaîne de caractères est attendue."]
                else:
                    raw[f"explanation_{index}"] = explanation or ""
    if "indicators" in payload:
        indicators = payload["indicators"]
        if not isinstance(indicators, dict) or not all(
            isinstance(v, str) or (isinstance(v, int | Decimal) and not isinstance(v, bool))
            for v in indicators.values()
        ):
            errors["indicators"] = ["Un objet {nom: valeur} est attendu (valeurs en texte)."]
        elif len(indicators) > rules.MAX_INDICATORS:
            errors["indicators"] = [f"{rules.MAX_INDICATORS} indicateurs au plus."]
        else:
            raw["indicators"] = [(k, str(v)) for k, v in indicators.items()]
    return raw, errors


def _indicator_errors(errors: dict) -> dict:
    """Errors of the indicator rows, under ``indicators`` for the API (no row numbers)."""
    result: dict[str, list[str]] = {}
    for name, messages in errors.items():
        if name.startswith("indicator_"):
            result.setdefault("indicators", []).extend(messages)
        else:
            result[name] = messages
    return result


@bp.patch("/reports/<int:report_id>")
@operation(
    "/reports/{report_id}",
    "patch",
    {
        "summary": "Enregistrer le brouillon d'un compte rendu (membres, à remettre ou à "
        "corriger ; tout ou rien)",
        "tags": TAGS,
        "parameters": [REPORT_ID],
        "requestBody": json_body(REPORT_PATCH),
        "responses": {
            "200": json_response("Le compte rendu.", REPORT),
            "409": CONFLICT,
            "422": INVALID,
        },
    },
)
def reports_patch(report_id: int):
    report = queries.visible_report(report_id, current_user)
    if report is None:
        return _not_found()
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return api_error(400, "Requête invalide", "Envoyez un objet JSON.")
    lines = queries.lines_of(report)
    raw, errors = _patch_raw(report, payload, len(lines))
    values, parse_errors = rules.parse_report(raw, lines)
    errors.update(_indicator_errors(parse_errors))
    if errors:
        return _invalid(errors)
    try:
        operations.save_report(report, current_user, values)
    except operations.ReportError as exc:
        db.session.rollback()
        return _error(exc)
    db.session.commit()
    return _detail(report_id)


@bp.post("/reports/<int:report_id>/submit")
@operation(
    "/reports/{report_id}/submit",
    "post",
    {
        "summary": "Remettre un compte rendu (membres) : refusé (422) tant qu'il manque "
        "l'activité, un réalisé, une explication d'écart de plus de 10 % ou un indicateur",
        "tags": TAGS,
        "parameters": [REPORT_ID],
        "responses": {
            "200": json_response("Le compte rendu remis.", REPORT),
            "409": CONFLICT,
            "422": INVALID,
        },
    },
)
def reports_submit(report_id: int):
    report = queries.visible_report(report_id, current_user)
    if report is None:
        return _not_found()
    try:
        operations.submit_report(report, current_user)
    except operations.ReportError as exc:
        db.session.rollback()
        return _error(exc)
    db.session.commit()
    return _detail(report_id)


@bp.post("/reports/<int:report_id>/accept")
@operation(
    "/reports/{report_id}/accept",
    "post",
    {
        "summary": "Accepter un compte rendu remis (service) : la tranche suivante peut "
        "être versée",
        "tags": TAGS,
        "parameters": [REPORT_ID],
        "responses": {"200": json_response("Le compte rendu.", REPORT), "409": CONFLICT},
    },
)
def reports_accept(report_id: int):
    report = queries.visible_report(report_id, current_user)
    if report is None:
        return _not_found()
    try:
        operations.accept_report(report, current_user)
    except operations.ReportError as exc:
        db.session.rollback()
        return _error(exc)
    db.session.commit()
    return _detail(report_id)


@bp.post("/reports/<int:report_id>/return")
@operation(
    "/reports/{report_id}/return",
    "post",
    {
        "summary": "Renvoyer un compte rendu remis pour corrections (service), avec un commentaire",
        "tags": TAGS,
        "parameters": [REPORT_ID],
        "requestBody": json_body(RETURN),
        "responses": {
            "200": json_response("Le compte rendu.", REPORT),
            "409": CONFLICT,
            "422": INVALID,
        },
    },
)
def reports_return(report_id: int):
    report = queries.visible_report(report_id, current_user)
    if report is None:
        return _not_found()
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return api_error(400, "Requête invalide", "Envoyez un objet JSON.")
    comment = payload.get("comment")
    if comment is not None and not isinstance(comment, str):
        return _invalid({"comment": ["Une chaîne de caractères est attendue."]})
    try:
        operations.return_report(report, current_user, comment or "")
    except operations.ReportError as exc:
        db.session.rollback()
        return _error(exc)
    db.session.commit()
    return _detail(report_id)
