"""Budget lines, the ``funding`` feature's budget side, in the JSON API (staff tokens only).

``/api/v1/budget/lines`` (list, create), ``/budget/lines/{id}`` (read, patch),
``/budget/lines/{id}/calls`` (link a call to the line, unlink it), ``/budget/report?year=``
(the same JSON as ``grants budget report --format json``) and ``/budget/commitments``
(conventions and PLIE outside the calls). Amounts are decimal strings in the answers; in
the input, strings (``"20000"``, ``"20 000,50"``) or JSON numbers read exactly (never
through a binary float). The checks are those of the staff pages, with the same French
messages in ``error.fields``.
"""

from __future__ import annotations

import json
from decimal import Decimal

from flask import jsonify, request
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from grants.api.openapi import json_body, json_response, operation, ref, schema
from grants.api.views import api_error, bp
from grants.calls.models import Call
from grants.core.enums import Role
from grants.core.models import default_funder
from grants.core.permissions import has_role
from grants.extensions import db
from grants.funding import budget, budget_operations, budget_queries
from grants.funding.models import Commitment, CommitmentKind, FundingLine

TAGS = ["Budget"]
MONEY = {
    "type": "string",
    "pattern": r"^-?\d+\.\d{2}$",
    "description": "Montant en euros, décimal en chaîne (jamais un flottant).",
    "example": "445520.00",
}
MONEY_INPUT = {
    "oneOf": [{"type": "string"}, {"type": "number", "minimum": 0}],
    "description": "Montant en euros : « 20000 », « 20 000,50 » ou 20000.5 (lu exactement, "
    "jamais comme un flottant binaire).",
    "example": "20000.00",
}
SECTION = {"type": "string", "enum": list(budget.SECTIONS)}
VOTES = {
    "type": "object",
    "additionalProperties": MONEY,
    "description": "Montant voté par année (clé : l'année).",
    "example": {"2016": "20000.00", "2017": "20000.00"},
}
LINE = schema(
    "BudgetLine",
    {
        "type": "object",
        "required": ["id", "section", "rubric", "label", "votes"],
        "properties": {
            "id": {"type": "integer"},
            "section": SECTION,
            "rubric": {"type": "string"},
            "label": {"type": "string", "description": "Le libellé de la ligne."},
            "votes": VOTES,
            "calls": {
                "type": "array",
                "description": "Les appels dont les aides consomment la ligne (lecture d'une "
                "ligne seulement).",
                "items": {
                    "type": "object",
                    "properties": {"id": {"type": "integer"}, "title": {"type": "string"}},
                },
            },
        },
    },
)
_LINE_INPUT = {
    "section": SECTION,
    "rubric": {"type": "string", "maxLength": budget.RUBRIC_MAX},
    "label": {"type": "string", "maxLength": budget.LABEL_MAX},
    "votes": {
        "type": "object",
        "additionalProperties": {**MONEY_INPUT, "nullable": True},
        "description": "Montant voté par année (clé : l'année, ex. « 2016 »). En "
        "modification, null retire le vote de l'année ; les années absentes restent.",
    },
}
LINE_INPUT_FIELDS = set(_LINE_INPUT)
LINE_INPUT = schema(
    "BudgetLineInput",
    {
        "type": "object",
        "required": ["section", "rubric", "label"],
        "additionalProperties": False,
        "properties": _LINE_INPUT,
    },
)
LINE_PATCH = schema(
    "BudgetLinePatch",
    {"type": "object", "additionalProperties": False, "properties": _LINE_INPUT},
)
LINE_LIST = schema(
    "BudgetLineList",
    {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": ref("BudgetLine")}},
    },
)
_FIGURES = {"voted": MONEY, "committed": MONEY, "paid": MONEY, "remaining": MONEY}
REPORT = schema(
    "BudgetReport",
    {
        "type": "object",
        "required": ["year", "sections"],
        "description": "Engagé = tranches de l'année (non annulées) des aides des appels "
        "rattachés à la ligne + engagements hors appels (conventions, PLIE) ; versé = "
        "montants versés sur ces tranches ; reste = voté − engagé (négatif en cas de "
        "dépassement).",
        "properties": {
            "year": {"type": "integer"},
            "sections": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["section", *_FIGURES, "lines"],
                    "properties": {
                        "section": SECTION,
                        **_FIGURES,
                        "lines": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["rubric", "line", *_FIGURES],
                                "properties": {
                                    "rubric": {"type": "string"},
                                    "line": {"type": "string"},
                                    **_FIGURES,
                                },
                            },
                        },
                    },
                },
            },
        },
    },
)
KIND = {
    "type": "string",
    "enum": [k.value for k in CommitmentKind],
    "description": "fixed : convention à montant annuel fixe (têtes de réseau) ; plie : part "
    "fixe + montant par heure d'insertion réalisée.",
}
COMMITMENT = schema(
    "Commitment",
    {
        "type": "object",
        "required": ["id", "line_id", "year", "kind", "beneficiary", "fixed_amount", "amount"],
        "properties": {
            "id": {"type": "integer"},
            "line_id": {"type": "integer"},
            "year": {"type": "integer"},
            "kind": KIND,
            "beneficiary": {"type": "string"},
            "organisation_id": {"type": "integer", "nullable": True},
            "fixed_amount": {**MONEY, "description": "Montant annuel, ou part fixe du PLIE."},
            "hourly_rate": {**MONEY, "nullable": True},
            "hours": {"type": "string", "nullable": True, "example": "1250.50"},
            "note": {"type": "string"},
            "amount": {
                **MONEY,
                "description": "Le montant engagé : fixe, ou part fixe + taux × heures "
                "(arrondi au centime).",
            },
        },
    },
)
_COMMITMENT_INPUT = {
    "line_id": {"type": "integer"},
    "kind": KIND,
    "year": {"type": "integer"},
    "beneficiary": {"type": "string", "maxLength": budget.BENEFICIARY_MAX},
    "organisation_id": {"type": "integer", "nullable": True},
    "fixed_amount": MONEY_INPUT,
    "hourly_rate": {**MONEY_INPUT, "description": "PLIE : euros par heure (1 par défaut)."},
    "hours": {
        "oneOf": [{"type": "string"}, {"type": "number", "minimum": 0}],
        "nullable": True,
        "description": "PLIE : heures d'insertion réalisées (null : pas encore connues).",
    },
    "note": {"type": "string", "maxLength": budget.NOTE_MAX},
}
COMMITMENT_INPUT = schema(
    "CommitmentInput",
    {
        "type": "object",
        "required": ["line_id", "kind", "year", "beneficiary"],
        "additionalProperties": False,
        "description": "PLIE : part fixe de 5 000 € et 1 € par heure par défaut.",
        "properties": _COMMITMENT_INPUT,
    },
)
COMMITMENT_PATCH = schema(
    "CommitmentPatch",
    {
        "type": "object",
        "additionalProperties": False,
        "description": "Les champs à modifier (la ligne et la nature ne changent pas).",
        "properties": {k: v for k, v in _COMMITMENT_INPUT.items() if k not in {"line_id", "kind"}},
    },
)
COMMITMENT_LIST = schema(
    "CommitmentList",
    {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": ref("Commitment")}},
    },
)
LINE_ID = {"name": "line_id", "in": "path", "required": True, "schema": {"type": "integer"}}
CALL_ID = {"name": "call_id", "in": "path", "required": True, "schema": {"type": "integer"}}
COMMITMENT_ID = {
    "name": "commitment_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer"},
}
YEAR_QUERY = {
    "name": "year",
    "in": "query",
    "schema": {"type": "integer"},
    "description": "Année budgétaire.",
}
INVALID = json_response(
    "Saisie invalide : `error.fields` donne les messages (en français) par champ.", ref("Error")
)
BAD_BODY = json_response("Corps JSON absent ou illisible.", ref("Error"))


# --- helpers -----------------------------------------------------------------------------------


def _forbidden():
    return api_error(403, "Action interdite", "Réservé aux agents du service.")


def _is_staff() -> bool:
    return has_role(current_user, Role.staff, Role.admin)


def _not_found(message: str):
    return api_error(404, "Ressource introuvable", message)


def _invalid(fields: dict):
    return api_error(422, "Saisie invalide", "Corrigez les champs signalés.", fields)


def _payload() -> dict | None:
    try:
        data = json.loads(request.get_data(as_text=True) or "null", parse_float=Decimal)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _bad_body():
    return api_error(400, "Requête invalide", "Envoyez un objet JSON.")


def _unknown(payload: dict, allowed) -> dict:
    return {k: ["Champ inconnu."] for k in payload if k not in allowed}


def _year_query() -> tuple[int | None, object]:
    text = request.args.get("year")
    if text is None:
        return None, None
    try:
        return budget.parse_year(text), None
    except ValueError as exc:
        return None, _invalid({"year": [str(exc)]})


def line_json(line: FundingLine, calls: list[Call] | None = None) -> dict:
    data = {
        "id": line.id,
        "section": line.section.value,
        "rubric": line.rubric,
        "label": line.label,
        "votes": {str(v.year): budget.money_str(v.voted) for v in line.years},
    }
    if calls is not None:
        data["calls"] = [{"id": c.id, "title": c.title} for c in calls]
    return data


def commitment_json(c: Commitment) -> dict:
    return {
        "id": c.id,
        "line_id": c.line_id,
        "year": c.year,
        "kind": c.kind.value,
        "beneficiary": c.beneficiary,
        "organisation_id": c.organisation_id,
        "fixed_amount": budget.money_str(c.fixed_amount),
        "hourly_rate": None if c.hourly_rate is None else budget.money_str(c.hourly_rate),
        "hours": None if c.hours is None else format(budget.cents(c.hours), "f"),
        "note": c.note,
        "amount": budget.money_str(budget_operations.commitment_amount(c)),
    }


def _line_or_none(line_id: int):
    return budget_queries.get_line(line_id, default_funder().id)


def _commit_line():
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return _invalid({"label": [budget_operations.LINE_TAKEN]})
    return None


# --- lines -------------------------------------------------------------------------------------


@bp.get("/budget/lines")
@operation(
    "/budget/lines",
    "get",
    {
        "summary": "Les lignes budgétaires et leurs votes",
        "tags": TAGS,
        "parameters": [{**YEAR_QUERY, "description": "Seulement les lignes votées cette année."}],
        "responses": {"200": json_response("Les lignes.", LINE_LIST), "422": INVALID},
    },
)
def budget_lines_list():
    if not _is_staff():
        return _forbidden()
    year, error = _year_query()
    if error:
        return error
    lines = budget_queries.lines(default_funder().id, year)
    return jsonify({"items": [line_json(line) for line in lines]})


@bp.post("/budget/lines")
@operation(
    "/budget/lines",
    "post",
    {
        "summary": "Créer une ligne budgétaire",
        "tags": TAGS,
        "requestBody": json_body(LINE_INPUT),
        "responses": {
            "201": json_response("La ligne créée.", LINE),
            "400": BAD_BODY,
            "422": INVALID,
        },
    },
)
def budget_lines_create():
    if not _is_staff():
        return _forbidden()
    payload = _payload()
    if payload is None:
        return _bad_body()
    unknown = _unknown(payload, LINE_INPUT_FIELDS)
    clean, errors = budget_operations.clean_line(payload)
    if unknown or errors:
        return _invalid({**errors, **unknown})
    try:
        line = budget_operations.create_line(current_user, clean)
    except budget_operations.BudgetError as exc:
        db.session.rollback()
        return _invalid(exc.fields)
    if (response := _commit_line()) is not None:
        return response
    return jsonify(line_json(line, [])), 201


@bp.get("/budget/lines/<int:line_id>")
@operation(
    "/budget/lines/{line_id}",
    "get",
    {
        "summary": "Une ligne budgétaire",
        "tags": TAGS,
        "parameters": [LINE_ID],
        "responses": {"200": json_response("La ligne, ses votes et ses appels.", LINE)},
    },
)
def budget_lines_get(line_id: int):
    if not _is_staff():
        return _forbidden()
    line = _line_or_none(line_id)
    if line is None:
        return _not_found("Cette ligne budgétaire n'existe pas.")
    return jsonify(line_json(line, budget_queries.linked_calls(line.id)))


@bp.patch("/budget/lines/<int:line_id>")
@operation(
    "/budget/lines/{line_id}",
    "patch",
    {
        "summary": "Modifier une ligne budgétaire ou ses votes",
        "tags": TAGS,
        "parameters": [LINE_ID],
        "requestBody": json_body(LINE_PATCH),
        "responses": {
            "200": json_response("La ligne modifiée.", LINE),
            "400": BAD_BODY,
            "422": INVALID,
        },
    },
)
def budget_lines_patch(line_id: int):
    if not _is_staff():
        return _forbidden()
    line = _line_or_none(line_id)
    if line is None:
        return _not_found("Cette ligne budgétaire n'existe pas.")
    payload = _payload()
    if payload is None:
        return _bad_body()
    unknown = _unknown(payload, LINE_INPUT_FIELDS)
    clean, errors = budget_operations.clean_line(payload, partial=True)
    if unknown or errors:
        return _invalid({**errors, **unknown})
    try:
        budget_operations.update_line(line, current_user, clean)
    except budget_operations.BudgetError as exc:
        db.session.rollback()
        return _invalid(exc.fields)
    if (response := _commit_line()) is not None:
        return response
    return jsonify(line_json(line, budget_queries.linked_calls(line.id)))


@bp.post("/budget/lines/<int:line_id>/calls")
@operation(
    "/budget/lines/{line_id}/calls",
    "post",
    {
        "summary": "Rattacher un appel à la ligne (ses aides la consomment)",
        "tags": TAGS,
        "parameters": [LINE_ID],
        "requestBody": json_body(
            {
                "type": "object",
                "required": ["call_id"],
                "additionalProperties": False,
                "properties": {"call_id": {"type": "integer"}},
            }
        ),
        "responses": {
            "200": json_response("La ligne et ses appels.", LINE),
            "400": BAD_BODY,
            "422": INVALID,
        },
    },
)
def budget_lines_link_call(line_id: int):
    if not _is_staff():
        return _forbidden()
    line = _line_or_none(line_id)
    if line is None:
        return _not_found("Cette ligne budgétaire n'existe pas.")
    payload = _payload()
    if payload is None:
        return _bad_body()
    call_id = payload.get("call_id")
    if isinstance(call_id, bool) or not isinstance(call_id, int):
        return _invalid({"call_id": ["Identifiant d'appel (entier) attendu."]})
    call = db.session.get(Call, call_id)
    if call is None:
        return _invalid({"call_id": ["Cet appel n'existe pas."]})
    try:
        budget_operations.link_call(line, call, current_user)
    except budget_operations.BudgetError as exc:
        db.session.rollback()
        return _invalid(exc.fields)
    db.session.commit()
    return jsonify(line_json(line, budget_queries.linked_calls(line.id)))


@bp.delete("/budget/lines/<int:line_id>/calls/<int:call_id>")
@operation(
    "/budget/lines/{line_id}/calls/{call_id}",
    "delete",
    {
        "summary": "Détacher un appel de la ligne",
        "tags": TAGS,
        "parameters": [LINE_ID, CALL_ID],
        "responses": {"204": json_response("L'appel n'est plus rattaché à la ligne.")},
    },
)
def budget_lines_unlink_call(line_id: int, call_id: int):
    if not _is_staff():
        return _forbidden()
    line = _line_or_none(line_id)
    call = db.session.get(Call, call_id)
    if line is None or call is None or call.funding_line_id != line.id:
        return _not_found("Cet appel n'est pas rattaché à cette ligne.")
    budget_operations.unlink_call(call, current_user)
    db.session.commit()
    return "", 204


# --- report ------------------------------------------------------------------------------------


@bp.get("/budget/report")
@operation(
    "/budget/report",
    "get",
    {
        "summary": "État du budget d'une année : voté, engagé, versé, reste",
        "description": "Le même JSON que `grants budget report --format json`.",
        "tags": TAGS,
        "parameters": [{**YEAR_QUERY, "required": True}],
        "responses": {"200": json_response("L'état du budget.", REPORT), "422": INVALID},
    },
)
def budget_report():
    if not _is_staff():
        return _forbidden()
    year, error = _year_query()
    if error:
        return error
    if year is None:
        return _invalid({"year": ["Indiquez l'année (paramètre year, ex. ?year=2016)."]})
    return jsonify(budget_queries.report(default_funder().id, year).as_json())


# --- commitments -------------------------------------------------------------------------------


@bp.get("/budget/commitments")
@operation(
    "/budget/commitments",
    "get",
    {
        "summary": "Les engagements hors appels (conventions, PLIE)",
        "tags": TAGS,
        "parameters": [
            {"name": "line_id", "in": "query", "schema": {"type": "integer"}},
            YEAR_QUERY,
        ],
        "responses": {"200": json_response("Les engagements.", COMMITMENT_LIST), "422": INVALID},
    },
)
def budget_commitments_list():
    if not _is_staff():
        return _forbidden()
    year, error = _year_query()
    if error:
        return error
    line_id = request.args.get("line_id", type=int)
    items = budget_queries.api_commitments(default_funder().id, line_id, year)
    return jsonify({"items": [commitment_json(c) for c in items]})


@bp.post("/budget/commitments")
@operation(
    "/budget/commitments",
    "post",
    {
        "summary": "Créer un engagement (convention ou PLIE) sur une ligne",
        "tags": TAGS,
        "requestBody": json_body(COMMITMENT_INPUT),
        "responses": {
            "201": json_response("L'engagement créé.", COMMITMENT),
            "400": BAD_BODY,
            "422": INVALID,
        },
    },
)
def budget_commitments_create():
    if not _is_staff():
        return _forbidden()
    payload = _payload()
    if payload is None:
        return _bad_body()
    errors = _unknown(payload, _COMMITMENT_INPUT)
    line = None
    line_id = payload.get("line_id")
    if isinstance(line_id, bool) or not isinstance(line_id, int):
        errors["line_id"] = ["Identifiant de ligne (entier) attendu."]
    else:
        line = _line_or_none(line_id)
        if line is None:
            errors["line_id"] = ["Cette ligne budgétaire n'existe pas."]
    try:
        kind = CommitmentKind(payload.get("kind"))
    except ValueError:
        errors["kind"] = ["Nature attendue : fixed (convention) ou plie."]
        kind = CommitmentKind.fixed
    raw = {k: v for k, v in payload.items() if k not in {"line_id", "kind"}}
    if kind == CommitmentKind.plie:
        raw.setdefault("fixed_amount", budget.PLIE_FIXED_DEFAULT)
        raw.setdefault("hourly_rate", budget.PLIE_RATE_DEFAULT)
    clean, problems = budget_operations.clean_commitment(raw, kind)
    errors.update({k: v for k, v in problems.items() if k not in errors})
    if errors or line is None:
        return _invalid(errors)
    commitment = budget_operations.create_commitment(line, current_user, clean)
    db.session.commit()
    return jsonify(commitment_json(commitment)), 201


def _commitment_or_none(commitment_id: int):
    return budget_queries.get_commitment(commitment_id, default_funder().id)


@bp.get("/budget/commitments/<int:commitment_id>")
@operation(
    "/budget/commitments/{commitment_id}",
    "get",
    {
        "summary": "Un engagement",
        "tags": TAGS,
        "parameters": [COMMITMENT_ID],
        "responses": {"200": json_response("L'engagement.", COMMITMENT)},
    },
)
def budget_commitments_get(commitment_id: int):
    if not _is_staff():
        return _forbidden()
    commitment = _commitment_or_none(commitment_id)
    if commitment is None:
        return _not_found("Cet engagement n'existe pas.")
    return jsonify(commitment_json(commitment))


@bp.patch("/budget/commitments/<int:commitment_id>")
@operation(
    "/budget/commitments/{commitment_id}",
    "patch",
    {
        "summary": "Modifier un engagement (par exemple les heures réalisées du PLIE)",
        "tags": TAGS,
        "parameters": [COMMITMENT_ID],
        "requestBody": json_body(COMMITMENT_PATCH),
        "responses": {
            "200": json_response("L'engagement modifié.", COMMITMENT),
            "400": BAD_BODY,
            "422": INVALID,
        },
    },
)
def budget_commitments_patch(commitment_id: int):
    if not _is_staff():
        return _forbidden()
    commitment = _commitment_or_none(commitment_id)
    if commitment is None:
        return _not_found("Cet engagement n'existe pas.")
    payload = _payload()
    if payload is None:
        return _bad_body()
    allowed = set(_COMMITMENT_INPUT) - {"line_id", "kind"}
    errors = _unknown(payload, allowed)
    base = {name: getattr(commitment, name) for name in allowed}
    clean, problems = budget_operations.clean_commitment(
        {k: v for k, v in payload.items() if k in allowed}, commitment.kind, base=base
    )
    errors.update(problems)
    if errors:
        return _invalid(errors)
    budget_operations.update_commitment(commitment, current_user, clean)
    db.session.commit()
    return jsonify(commitment_json(commitment))


@bp.delete("/budget/commitments/<int:commitment_id>")
@operation(
    "/budget/commitments/{commitment_id}",
    "delete",
    {
        "summary": "Supprimer un engagement",
        "tags": TAGS,
        "parameters": [COMMITMENT_ID],
        "responses": {"204": json_response("L'engagement est supprimé.")},
    },
)
def budget_commitments_delete(commitment_id: int):
    if not _is_staff():
        return _forbidden()
    commitment = _commitment_or_none(commitment_id)
    if commitment is None:
        return _not_found("Cet engagement n'existe pas.")
    budget_operations.delete_commitment(commitment, current_user)
    db.session.commit()
    return "", 204
