"""Applications in the JSON API (``/api/v1/applications``): the same rights as the pages.

Applicants see and change the files of their organisations, staff see every file. A file
someone may not see answers 404 (its existence is not confirmed); an action they may not
do on a file they see answers 403. Input goes through the same forms and rules as the
steps, so a value refused on a page is refused here with the same French message, in
``error.fields``. Unlike a page step, a PATCH is all-or-nothing: with an error nothing is
saved. Amounts are decimal strings (a JSON number is read exactly, never as a float).
"""

from __future__ import annotations

import json
from decimal import Decimal

from flask import current_app, jsonify, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from grants.api.openapi import json_body, json_response, operation, ref, schema
from grants.api.views import api_error, bp
from grants.applications import forms, operations, queries, rules
from grants.applications.models import (
    APPLICATION_STATUS_LABELS,
    Application,
    ApplicationStatus,
    FunderType,
    FundingStatus,
)
from grants.extensions import db

TAGS = ["Dossiers"]
MONEY = {"type": "string", "pattern": r"^\d+\.\d{2}$", "example": "10000.00"}
MONEY_INPUT = {
    "oneOf": [{"type": "string"}, {"type": "number"}],
    "description": "Montant en euros : « 10000 », « 10 000,50 » ou 10000.5 (lu exactement).",
}
APPLICATION_ID = {
    "name": "application_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer"},
    "description": "Identifiant du dossier.",
}
ATTACHMENT_ID = {
    "name": "attachment_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer"},
    "description": "Identifiant de la pièce jointe.",
}
INVALID = json_response(
    "Saisie invalide : `error.fields` donne les messages (en français) par champ.", ref("Error")
)
CONFLICT = json_response("L'état du dossier ne permet pas cette action.", ref("Error"))

BUDGET_LINE = schema(
    "BudgetLine",
    {
        "type": "object",
        "required": ["year", "account", "amount"],
        "properties": {
            "year": {"type": "integer"},
            "account": {"type": "string", "enum": list(rules.ACCOUNTS)},
            "label": {"type": "string", "maxLength": 200},
            "amount": {"oneOf": [MONEY, MONEY_INPUT]},
            "is_request": {
                "type": "boolean",
                "description": "Montant demandé au financeur de l'appel (compte 74 seulement).",
            },
        },
    },
)
EXPENSE = schema(
    "InvestmentExpense",
    {
        "type": "object",
        "required": ["label", "amount"],
        "properties": {
            "label": {"type": "string", "maxLength": 200},
            "amount": {"oneOf": [MONEY, MONEY_INPUT]},
            "eligible": {"type": "boolean"},
        },
    },
)
FUNDING_SOURCE = schema(
    "FundingSource",
    {
        "type": "object",
        "required": ["name", "funder_type", "amount"],
        "properties": {
            "name": {"type": "string", "maxLength": 200},
            "funder_type": {"type": "string", "enum": [t.value for t in FunderType]},
            "amount": {"oneOf": [MONEY, MONEY_INPUT]},
            "status": {"type": "string", "enum": [s.value for s in FundingStatus]},
        },
    },
)
ATTACHMENT = schema(
    "Attachment",
    {
        "type": "object",
        "required": ["id", "filename", "content_type", "size", "sha256"],
        "properties": {
            "id": {"type": "integer"},
            "required_document_id": {"type": "integer", "nullable": True},
            "filename": {"type": "string"},
            "content_type": {"type": "string"},
            "size": {"type": "integer"},
            "sha256": {"type": "string"},
            "uploaded_at": {"type": "string", "format": "date-time"},
            "url": {"type": "string"},
        },
    },
)
_TEXT = {"type": "string"}
_FIELD_PROPERTIES = {
    "approvals": _TEXT,
    "title": {"type": "string", "maxLength": 200},
    "summary": _TEXT,
    "objectives": _TEXT,
    "target_public": _TEXT,
    "territory": {
        "type": "array",
        "items": {"type": "string", "pattern": r"^\d{5}$"},
        "description": "Codes INSEE des communes de la métropole où se déroule le projet.",
    },
    "in_qpv": {"type": "boolean"},
    "sector": {"type": "string", "nullable": True, "description": "Un des secteurs de l'appel."},
    "innovation": _TEXT,
    "partners": _TEXT,
    "jobs_created": {"type": "integer", "minimum": 0, "nullable": True},
    "jobs_maintained": {"type": "integer", "minimum": 0, "nullable": True},
    "start_date": {"type": "string", "format": "date", "nullable": True},
    "end_date": {"type": "string", "format": "date", "nullable": True},
    "signatory_name": {"type": "string", "maxLength": 200},
    "signatory_role": {"type": "string", "maxLength": 120},
    "certified": {"type": "boolean"},
}
PROBLEM = {
    "type": "object",
    "properties": {
        "code": {"type": "string"},
        "message": {"type": "string"},
        "step": {"type": "string"},
    },
}
APPLICATION = schema(
    "Application",
    {
        "type": "object",
        "required": ["id", "call_id", "organisation_id", "status"],
        "properties": {
            "id": {"type": "integer"},
            "call_id": {"type": "integer"},
            "organisation_id": {"type": "integer"},
            "organisation_name": {"type": "string"},
            "status": {"type": "string", "enum": [s.value for s in ApplicationStatus]},
            "status_label": {"type": "string"},
            "reference": {"type": "string", "nullable": True, "example": "AAP-2016-0007"},
            **_FIELD_PROPERTIES,
            "editable": {"type": "boolean"},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "submitted_at": {"type": "string", "format": "date-time", "nullable": True},
            "withdrawn_at": {"type": "string", "format": "date-time", "nullable": True},
            "budget_lines": {"type": "array", "items": BUDGET_LINE},
            "expenses": {"type": "array", "items": EXPENSE},
            "funding_sources": {"type": "array", "items": FUNDING_SOURCE},
            "requested_total": MONEY,
            "attachments": {"type": "array", "items": ATTACHMENT},
            "eligibility_problems": {
                "type": "array",
                "items": PROBLEM,
                "description": "Ce qui empêche encore le dépôt (dossier modifiable).",
            },
            "complement_requests": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "message": {"type": "string"},
                        "due_on": {"type": "string", "format": "date"},
                        "requested_at": {"type": "string", "format": "date-time"},
                        "answered_at": {"type": "string", "format": "date-time", "nullable": True},
                    },
                },
            },
            "receipt_url": {
                "type": "string",
                "nullable": True,
                "description": "L'accusé de réception PDF, une fois produit.",
            },
        },
    },
)
APPLICATION_LIST = schema(
    "ApplicationList",
    {
        "type": "object",
        "required": ["items", "page", "per_page", "total"],
        "properties": {
            "items": {"type": "array", "items": ref("Application")},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
            "total": {"type": "integer"},
        },
    },
)
APPLICATION_CREATE = schema(
    "ApplicationCreate",
    {
        "type": "object",
        "required": ["call_id", "organisation_id"],
        "properties": {"call_id": {"type": "integer"}, "organisation_id": {"type": "integer"}},
    },
)
APPLICATION_PATCH = schema(
    "ApplicationPatch",
    {
        "type": "object",
        "additionalProperties": False,
        "description": "Les champs à modifier (dossier en brouillon ou à compléter) ; une "
        "liste donnée (lignes de budget, dépenses, financements) remplace la liste entière.",
        "properties": {
            **_FIELD_PROPERTIES,
            "budget_lines": {"type": "array", "items": BUDGET_LINE},
            "expenses": {"type": "array", "items": EXPENSE},
            "funding_sources": {"type": "array", "items": FUNDING_SOURCE},
        },
    },
)


# --- Output -------------------------------------------------------------------------------


def _money(value) -> str:
    return format(Decimal(value).quantize(Decimal("0.01")), "f")


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def attachment_json(application: Application, attachment) -> dict:
    return {
        "id": attachment.id,
        "required_document_id": attachment.required_document_id,
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "sha256": attachment.sha256,
        "uploaded_at": _iso(attachment.uploaded_at),
        "url": url_for(
            "api.applications_attachment_get",
            application_id=application.id,
            attachment_id=attachment.id,
        ),
    }


def application_json(application: Application, detail: bool = True) -> dict:
    data = {
        "id": application.id,
        "call_id": application.call_id,
        "organisation_id": application.organisation_id,
        "organisation_name": application.organisation.name,
        "status": application.status.value,
        "status_label": APPLICATION_STATUS_LABELS[application.status],
        "reference": application.reference,
        "title": application.title,
        "sector": application.sector,
        "editable": application.is_editable,
        "created_at": _iso(application.created_at),
        "updated_at": _iso(application.updated_at),
        "submitted_at": _iso(application.submitted_at),
        "withdrawn_at": _iso(application.withdrawn_at),
    }
    if not detail:
        return data
    for name in operations.FIELDS:
        value = getattr(application, name)
        data[name] = value.isoformat() if hasattr(value, "isoformat") else value
    data["territory"] = list(application.territory or [])
    data["budget_lines"] = [
        {
            "year": line.year,
            "account": line.account,
            "label": line.label,
            "amount": _money(line.amount),
            "is_request": line.is_request,
        }
        for line in application.budget_lines
    ]
    data["expenses"] = [
        {"label": e.label, "amount": _money(e.amount), "eligible": e.eligible}
        for e in application.expenses
    ]
    data["funding_sources"] = [
        {
            "name": s.name,
            "funder_type": s.funder_type.value,
            "amount": _money(s.amount),
            "status": s.status.value,
        }
        for s in application.funding_sources
    ]
    data["requested_total"] = _money(queries.requested_total(application))
    data["attachments"] = [attachment_json(application, a) for a in application.attachments]
    data["eligibility_problems"] = (
        [
            {"code": p.code, "message": p.message, "step": rules.PROBLEM_STEPS.get(p.code, "")}
            for p in queries.eligibility(application)
        ]
        if application.is_editable
        else []
    )
    data["complement_requests"] = [
        {
            "message": r.message,
            "due_on": r.due_on.isoformat(),
            "requested_at": _iso(r.requested_at),
            "answered_at": _iso(r.answered_at),
        }
        for r in application.complement_requests
    ]
    data["receipt_url"] = (
        url_for("applications.receipt", application_id=application.id)
        if application.receipt_key
        else None
    )
    return data


# --- Helpers ------------------------------------------------------------------------------


def _payload() -> dict | None:
    try:
        data = json.loads(request.get_data(as_text=True) or "null", parse_float=Decimal)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _bad_body():
    return api_error(400, "Requête invalide", "Envoyez un objet JSON.")


def _not_found(what: str = "Ce dossier n'existe pas."):
    return api_error(404, "Ressource introuvable", what)


def _invalid(fields: dict):
    return api_error(422, "Saisie invalide", "Corrigez les champs signalés.", fields)


def _error(exc: operations.ApplicationError):
    titles = {403: "Action interdite", 404: "Ressource introuvable", 409: "Action impossible"}
    if exc.problems:
        fields: dict[str, list[str]] = {}
        for problem in exc.problems:
            fields.setdefault(problem.code, []).append(problem.message)
        return api_error(422, "Dépôt impossible", exc.message, fields)
    if exc.fields:
        return api_error(exc.status, "Saisie invalide", exc.message, exc.fields)
    return api_error(exc.status, titles.get(exc.status, "Action impossible"), exc.message)


def _load(application_id: int) -> Application | None:
    application = queries.get_application(application_id)
    if application is None or not application.can_view(current_user):
        return None
    return application


def _formdata(payload: dict, names) -> MultiDict:
    """The JSON values of ``names`` as the form data a browser would send."""
    data = MultiDict()
    for name in names:
        if name not in payload:
            continue
        value = payload[name]
        if value is None or value is False:
            continue  # empty input / unchecked box
        if value is True:
            data.add(name, "y")
        elif isinstance(value, list):
            for item in value:
                data.add(name, str(item))
        else:
            data.add(name, str(value))
    return data


def _type_errors(payload: dict) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for name, value in payload.items():
        spec = _FIELD_PROPERTIES.get(name)
        if spec is None:
            continue
        kind = spec.get("type")
        if value is None:
            if not spec.get("nullable") and kind != "string":
                errors[name] = ["Une valeur est attendue."]
            continue
        ok = {
            "string": isinstance(value, str),
            "boolean": isinstance(value, bool),
            "integer": isinstance(value, int) and not isinstance(value, bool),
            "array": isinstance(value, list),
        }[kind]
        if not ok:
            errors[name] = [
                {
                    "string": "Une chaîne de caractères est attendue.",
                    "boolean": "Un booléen (true ou false) est attendu.",
                    "integer": "Un nombre entier est attendu.",
                    "array": "Une liste est attendue.",
                }[kind]
            ]
    return errors


def _field_values(application: Application, payload: dict) -> tuple[dict, dict]:
    """The answers of ``payload`` validated by the step forms: ``(values, errors)``."""
    values: dict = {}
    errors = _type_errors(payload)
    wanted = [n for n in payload if n in operations.FIELDS and n not in errors]
    project = [n for n in wanted if n in forms.PROJECT_FIELDS]
    if project:
        form = forms.ProjectForm(
            formdata=_formdata(payload, project),
            meta={"csrf": False},
            sectors=application.call.sectors or [],
            communes=[(c.insee, c.name) for c in queries.communes()],
        )
        if "end_date" in project and "start_date" not in project:
            form.start_date.data = application.start_date
        form.validate()
        clean = form.values()
        for name in project:
            if form[name].errors:
                errors[name] = list(form[name].errors)
            else:
                values[name] = clean[name]
    others = [n for n in wanted if n in forms.ATTESTATION_FIELDS or n == "approvals"]
    if others:
        form = forms.AttestationForm(formdata=_formdata(payload, others), meta={"csrf": False})
        structure = forms.StructureForm(formdata=_formdata(payload, others), meta={"csrf": False})
        form.validate()
        structure.validate()
        clean = form.values()
        for name in others:
            source = structure if name == "approvals" else form
            if source[name].errors:
                errors[name] = list(source[name].errors)
            else:
                values[name] = (
                    clean[name] if name != "approvals" else (structure.approvals.data or "").strip()
                )
    return values, errors


def _amount(value, where: str, errors: dict) -> Decimal | None:
    try:
        return rules.parse_amount(value)
    except ValueError as exc:
        errors.setdefault(where, []).append(str(exc))
        return None


def _text_of(row: dict, name: str, limit: int, where: str, errors: dict, required: str = "") -> str:
    value = row.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors.setdefault(where, []).append("Une chaîne de caractères est attendue.")
        return ""
    value = value.strip()
    if len(value) > limit:
        errors.setdefault(where, []).append(f"{limit} caractères au plus.")
    if required and not value:
        errors.setdefault(where, []).append(required)
    return value


def _rows(payload: dict, name: str, errors: dict) -> list[dict] | None:
    rows = payload[name]
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        errors[name] = ["Une liste d'objets est attendue."]
        return None
    return rows


def _budget_lines(payload: dict, errors: dict) -> list[dict] | None:
    rows = _rows(payload, "budget_lines", errors)
    if rows is None:
        return None
    lines = []
    for n, row in enumerate(rows):
        where = f"budget_lines[{n}]"
        year = row.get("year")
        if isinstance(year, bool) or not isinstance(year, int):
            errors.setdefault(f"{where}.year", []).append("Un nombre entier est attendu.")
        account = row.get("account")
        if account not in rules.ACCOUNTS:
            errors.setdefault(f"{where}.account", []).append(
                "Choisissez un compte du plan comptable (60 à 68, 70 à 78, 86, 87)."
            )
        is_request = row.get("is_request", False)
        if not isinstance(is_request, bool):
            errors.setdefault(f"{where}.is_request", []).append("Un booléen est attendu.")
        elif is_request and account != rules.REQUEST_ACCOUNT:
            errors.setdefault(f"{where}.is_request", []).append(
                "Le montant demandé au financeur figure au compte 74."
            )
        label = _text_of(row, "label", 200, f"{where}.label", errors)
        amount = _amount(row.get("amount"), f"{where}.amount", errors)
        lines.append(
            {
                "year": year,
                "account": account,
                "label": label,
                "amount": amount,
                "is_request": is_request is True,
            }
        )
    return lines


def _expense_rows(payload: dict, errors: dict) -> list | None:
    rows = _rows(payload, "expenses", errors)
    if rows is None:
        return None
    result = []
    for n, row in enumerate(rows):
        where = f"expenses[{n}]"
        label = _text_of(
            row, "label", 200, f"{where}.label", errors, "Indiquez la nature de la dépense."
        )
        amount = _amount(row.get("amount"), f"{where}.amount", errors)
        eligible = row.get("eligible", True)
        if not isinstance(eligible, bool):
            errors.setdefault(f"{where}.eligible", []).append("Un booléen est attendu.")
        result.append(
            operations.RowInput(
                None, {"label": label, "amount": amount, "eligible": eligible is True}
            )
        )
    return result


def _source_rows(payload: dict, errors: dict) -> list | None:
    rows = _rows(payload, "funding_sources", errors)
    if rows is None:
        return None
    result = []
    for n, row in enumerate(rows):
        where = f"funding_sources[{n}]"
        name = _text_of(row, "name", 200, f"{where}.name", errors, "Indiquez le nom du financeur.")
        amount = _amount(row.get("amount"), f"{where}.amount", errors)
        try:
            funder_type = FunderType(row.get("funder_type"))
        except ValueError:
            errors.setdefault(f"{where}.funder_type", []).append(forms.INVALID_CHOICE)
            funder_type = None
        try:
            status = FundingStatus(row.get("status", "requested"))
        except ValueError:
            errors.setdefault(f"{where}.status", []).append(forms.INVALID_CHOICE)
            status = None
        result.append(
            operations.RowInput(
                None, {"name": name, "funder_type": funder_type, "amount": amount, "status": status}
            )
        )
    return result


# --- Routes -------------------------------------------------------------------------------


@bp.get("/applications")
@operation(
    "/applications",
    "get",
    {
        "summary": "Les dossiers (les siens pour un porteur, tous pour le service)",
        "tags": TAGS,
        "parameters": [
            {"name": "call_id", "in": "query", "schema": {"type": "integer"}},
            {
                "name": "status",
                "in": "query",
                "schema": {"type": "string", "enum": [s.value for s in ApplicationStatus]},
            },
            {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
            {
                "name": "per_page",
                "in": "query",
                "schema": {"type": "integer", "minimum": 1, "maximum": 100},
            },
        ],
        "responses": {"200": json_response("Une page de dossiers.", APPLICATION_LIST)},
    },
)
def applications_list():
    query = queries.visible_applications_query(current_user)
    call_id = request.args.get("call_id", type=int)
    if call_id is not None:
        query = query.where(Application.call_id == call_id)
    status = request.args.get("status", "")
    if status:
        if status not in {s.value for s in ApplicationStatus}:
            return _invalid({"status": [forms.INVALID_CHOICE]})
        query = query.where(Application.status == ApplicationStatus(status))
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    per_page = min(max(request.args.get("per_page", 25, type=int) or 25, 1), 100)
    pagination = db.paginate(query, page=page, per_page=per_page, error_out=False)
    return jsonify(
        {
            "items": [application_json(a, detail=False) for a in pagination.items],
            "page": page,
            "per_page": per_page,
            "total": pagination.total,
        }
    )


@bp.post("/applications")
@operation(
    "/applications",
    "post",
    {
        "summary": "Créer un dossier en brouillon sur un appel ouvert",
        "tags": TAGS,
        "requestBody": json_body(APPLICATION_CREATE),
        "responses": {
            "201": json_response("Le dossier créé.", APPLICATION),
            "409": CONFLICT,
            "422": INVALID,
        },
    },
)
def applications_create():
    from grants.organisations.models import Organisation

    payload = _payload()
    if payload is None:
        return _bad_body()
    errors = {}
    ids = {}
    for name in ("call_id", "organisation_id"):
        value = payload.get(name)
        if isinstance(value, bool) or not isinstance(value, int):
            errors[name] = ["Un identifiant (nombre entier) est attendu."]
        ids[name] = value
    if errors:
        return _invalid(errors)
    call = queries.get_call(ids["call_id"])
    if call is None or not call.is_public:
        return _invalid({"call_id": ["Cet appel n'existe pas."]})
    org = db.session.get(Organisation, ids["organisation_id"])
    if org is None or not org.is_member(current_user):
        return _invalid({"organisation_id": ["Choisissez l'une de vos structures."]})
    try:
        application = operations.start_application(call, org, current_user)
    except operations.ApplicationError as exc:
        db.session.rollback()
        return _error(exc)
    db.session.commit()
    application = queries.get_application(application.id)
    response = jsonify(application_json(application))
    response.status_code = 201
    response.headers["Location"] = url_for("api.applications_get", application_id=application.id)
    return response


@bp.get("/applications/<int:application_id>")
@operation(
    "/applications/{application_id}",
    "get",
    {
        "summary": "Un dossier",
        "tags": TAGS,
        "parameters": [APPLICATION_ID],
        "responses": {"200": json_response("Le dossier.", APPLICATION)},
    },
)
def applications_get(application_id: int):
    application = _load(application_id)
    if application is None:
        return _not_found()
    return jsonify(application_json(application))


@bp.patch("/applications/<int:application_id>")
@operation(
    "/applications/{application_id}",
    "patch",
    {
        "summary": "Modifier un dossier en brouillon ou à compléter (tout ou rien)",
        "tags": TAGS,
        "parameters": [APPLICATION_ID],
        "requestBody": json_body(APPLICATION_PATCH),
        "responses": {
            "200": json_response("Le dossier modifié.", APPLICATION),
            "409": CONFLICT,
            "422": INVALID,
        },
    },
)
def applications_patch(application_id: int):
    application = _load(application_id)
    if application is None:
        return _not_found()
    if not application.is_member(current_user):
        return api_error(
            403, "Action interdite", "Seuls les membres de la structure modifient ce dossier."
        )
    if not application.is_editable:
        return api_error(
            409,
            "Action impossible",
            f"Ce dossier est « {application.status.label} » : il n'est plus modifiable.",
        )
    payload = _payload()
    if payload is None:
        return _bad_body()
    known = set(_FIELD_PROPERTIES) | {"budget_lines", "expenses", "funding_sources"}
    errors: dict[str, list[str]] = {
        name: ["Champ inconnu."] for name in payload if name not in known
    }
    values, field_errors = _field_values(application, payload)
    errors.update(field_errors)
    is_investment = application.call.kind.value == "investment_aid"
    lines = expenses = sources = None
    if "budget_lines" in payload:
        if is_investment:
            errors["budget_lines"] = ["Ce dispositif n'a pas de budget par année : utilisez "
                                      "« expenses » et « funding_sources »."]  # fmt: skip
        else:
            lines = _budget_lines(payload, errors)
    for name, parser in (("expenses", _expense_rows), ("funding_sources", _source_rows)):
        if name in payload:
            if not is_investment:
                errors[name] = ["Seule une aide à l'investissement a un plan de financement."]
            elif name == "expenses":
                expenses = parser(payload, errors)
            else:
                sources = parser(payload, errors)
    if errors:
        return _invalid(errors)
    try:
        operations.update_fields(application, current_user, values)
        if lines is not None:
            operations.replace_budget(application, current_user, lines)
        if expenses is not None or sources is not None:
            operations.save_investment_plan(
                application, current_user, expenses, sources, replace=True
            )
    except operations.ApplicationError as exc:
        db.session.rollback()
        return _error(exc)
    db.session.commit()
    return jsonify(application_json(queries.get_application(application.id)))


# --- Attachments --------------------------------------------------------------------------


@bp.post("/applications/<int:application_id>/attachments")
@operation(
    "/applications/{application_id}/attachments",
    "post",
    {
        "summary": "Joindre un fichier (remplace la pièce déjà jointe pour ce document)",
        "tags": TAGS,
        "parameters": [APPLICATION_ID],
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "required_document_id": {
                                "type": "integer",
                                "description": "La pièce demandée par l'appel (absent : autre).",
                            },
                        },
                    }
                }
            },
        },
        "responses": {
            "201": json_response("La pièce jointe.", ATTACHMENT),
            "409": CONFLICT,
            "413": json_response("Fichier trop volumineux.", ref("Error")),
            "422": INVALID,
        },
    },
)
def applications_attachment_create(application_id: int):
    from grants.core.files import UploadRejected, inspect_upload

    application = _load(application_id)
    if application is None:
        return _not_found()
    if not application.is_member(current_user):
        return api_error(
            403, "Action interdite", "Seuls les membres de la structure joignent des pièces."
        )
    if not application.is_editable:
        return api_error(
            409,
            "Action impossible",
            f"Ce dossier est « {application.status.label} » : il n'est plus modifiable.",
        )
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _invalid({"file": ["Choisissez un fichier à envoyer."]})
    document_id = request.form.get("required_document_id", "").strip()
    if document_id and not document_id.isdigit():
        return _invalid({"required_document_id": ["Un identifiant (nombre entier) est attendu."]})
    try:
        document = operations.required_document(
            application, int(document_id) if document_id else None
        )
    except operations.ApplicationError as exc:
        return api_error(422, "Saisie invalide", exc.message, exc.fields)
    try:
        info = inspect_upload(
            upload.stream,
            upload.filename,
            set(document.accepted_types or []) if document else None,
            current_app.config["UPLOAD_MAX_BYTES"],
        )
    except UploadRejected as exc:
        return _invalid({"file": [exc.message]})
    attachment, old_keys = operations.add_attachment(application, current_user, info, document)
    db.session.commit()
    operations.delete_stored(old_keys)
    response = jsonify(attachment_json(application, attachment))
    response.status_code = 201
    return response


def _attachment(application: Application, attachment_id: int):
    return next((a for a in application.attachments if a.id == attachment_id), None)


@bp.get("/applications/<int:application_id>/attachments/<int:attachment_id>")
@operation(
    "/applications/{application_id}/attachments/{attachment_id}",
    "get",
    {
        "summary": "Télécharger une pièce jointe",
        "tags": TAGS,
        "parameters": [APPLICATION_ID, ATTACHMENT_ID],
        "responses": {
            "200": {
                "description": "Le fichier (en pièce jointe).",
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                },
            }
        },
    },
)
def applications_attachment_get(application_id: int, attachment_id: int):
    from grants.core.files import send_stored_file
    from grants.core.storage import StoredFileNotFound

    application = _load(application_id)
    attachment = _attachment(application, attachment_id) if application else None
    if attachment is None:
        return _not_found("Cette pièce jointe n'existe pas.")
    try:
        return send_stored_file(
            attachment.storage_key, attachment.filename, attachment.content_type
        )
    except StoredFileNotFound:
        return _not_found("Le fichier de cette pièce jointe est introuvable.")


@bp.delete("/applications/<int:application_id>/attachments/<int:attachment_id>")
@operation(
    "/applications/{application_id}/attachments/{attachment_id}",
    "delete",
    {
        "summary": "Supprimer une pièce jointe (dossier modifiable)",
        "tags": TAGS,
        "parameters": [APPLICATION_ID, ATTACHMENT_ID],
        "responses": {"204": {"description": "Supprimée."}, "409": CONFLICT},
    },
)
def applications_attachment_delete(application_id: int, attachment_id: int):
    application = _load(application_id)
    attachment = _attachment(application, attachment_id) if application else None
    if attachment is None:
        return _not_found("Cette pièce jointe n'existe pas.")
    try:
        key = operations.delete_attachment(application, current_user, attachment)
    except operations.ApplicationError as exc:
        db.session.rollback()
        return _error(exc)
    db.session.commit()
    operations.delete_stored([key])
    return "", 204


# --- Actions ------------------------------------------------------------------------------


def _action_spec(summary: str, body: dict | None = None) -> dict:
    spec = {
        "summary": summary,
        "tags": TAGS,
        "parameters": [APPLICATION_ID],
        "responses": {
            "200": json_response("Le dossier après l'action.", APPLICATION),
            "409": CONFLICT,
            "422": INVALID,
        },
    }
    if body is not None:
        spec["requestBody"] = json_body(body)
    return spec


@bp.post("/applications/<int:application_id>/submit")
@operation(
    "/applications/{application_id}/submit",
    "post",
    _action_spec(
        "Déposer le dossier (refusé après la date limite ; `error.fields` liste ce qui manque "
        "par code)"
    ),
)
def applications_submit(application_id: int):
    application = _load(application_id)
    if application is None:
        return _not_found()
    try:
        operations.submit(application, current_user)
    except operations.ApplicationError as exc:
        db.session.rollback()
        return _error(exc)
    db.session.commit()
    return jsonify(application_json(queries.get_application(application_id)))


WITHDRAW = schema(
    "WithdrawInput",
    {"type": "object", "required": ["reason"], "properties": {"reason": {"type": "string"}}},
)
COMPLEMENTS = schema(
    "ComplementRequestInput",
    {
        "type": "object",
        "required": ["message", "due_on"],
        "properties": {
            "message": {"type": "string"},
            "due_on": {"type": "string", "format": "date", "example": "2016-04-15"},
        },
    },
)


@bp.post("/applications/<int:application_id>/withdraw")
@operation(
    "/applications/{application_id}/withdraw",
    "post",
    _action_spec("Retirer le dossier (avant la décision, avec un motif)", WITHDRAW),
)
def applications_withdraw(application_id: int):
    application = _load(application_id)
    if application is None:
        return _not_found()
    payload = _payload()
    if payload is None:
        return _bad_body()
    reason = payload.get("reason")
    if not isinstance(reason, str):
        return _invalid({"reason": ["Indiquez pourquoi vous retirez le dossier."]})
    try:
        operations.withdraw(application, current_user, reason)
    except operations.ApplicationError as exc:
        db.session.rollback()
        return _error(exc)
    db.session.commit()
    return jsonify(application_json(queries.get_application(application_id)))


@bp.post("/applications/<int:application_id>/request-complements")
@operation(
    "/applications/{application_id}/request-complements",
    "post",
    _action_spec("Demander des compléments (service)", COMPLEMENTS),
)
def applications_request_complements(application_id: int):
    application = _load(application_id)
    if application is None:
        return _not_found()
    if not current_user.is_staff:
        return api_error(403, "Action interdite", "Réservé aux agents du service.")
    payload = _payload()
    if payload is None:
        return _bad_body()
    errors = {}
    message = payload.get("message")
    if not isinstance(message, str):
        errors["message"] = ["Indiquez les compléments attendus."]
    try:
        due_on = forms.parse_date_fr(payload.get("due_on") or "")
    except (ValueError, AttributeError, TypeError):
        errors["due_on"] = ["Indiquez une date valide, par exemple 2016-04-15."]
    if errors:
        return _invalid(errors)
    try:
        operations.request_complements(application, current_user, message, due_on)
    except operations.ApplicationError as exc:
        db.session.rollback()
        return _error(exc)
    db.session.commit()
    return jsonify(application_json(queries.get_application(application_id)))
