"""Calls in the JSON API (``/api/v1/calls``): public read, staff write.

``GET /calls`` and ``GET /calls/{id}`` need no token (the same information as the public
pages); with a staff token they also show drafts. Writing (create, patch, publish) needs a
staff token. The input is parsed with the same rules as the staff form (amounts as
strings, never floats) and checked by the same operations, so a value refused on the page
is refused here with the same French message, in ``error.fields``.
"""

from __future__ import annotations

import json
from decimal import Decimal

from flask import jsonify, request, url_for
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from grants.api.openapi import json_body, json_response, operation, ref, schema
from grants.api.views import PUBLIC_ENDPOINTS, api_error, bp
from grants.calls import operations, queries, rules
from grants.calls.models import CALL_STATUS_LABELS, FILE_TYPES, Call, CallKind, CallStatus
from grants.calls.views import phase
from grants.core.enums import Role
from grants.core.permissions import has_role
from grants.core.richtext import render_markdown
from grants.extensions import db
from grants.organisations.models import LegalForm

PUBLIC_ENDPOINTS.update({"api.calls_list", "api.calls_get"})

TAGS = ["Appels"]
MONEY = {
    "type": "string",
    "pattern": r"^\d+\.\d{2}$",
    "description": "Montant en euros, décimal en chaîne (jamais un flottant).",
    "example": "60000.00",
}
MONEY_INPUT = {
    "oneOf": [{"type": "string"}, {"type": "integer", "minimum": 0}],
    "description": "Montant en euros : « 60000 », « 60 000,00 » ou 60000. Pas de flottant "
    "binaire : un nombre décimal JSON est lu exactement.",
    "example": "60000.00",
}
DATETIME_INPUT = {
    "type": "string",
    "format": "date-time",
    "description": "ISO 8601 ; sans fuseau, l'heure est lue comme celle de Paris.",
    "example": "2016-03-01T09:00:00+01:00",
}
WEIGHT = {
    "type": "string",
    "description": "Poids décimal en chaîne (6 décimales au plus).",
    "example": "0.363637",
}
DOCUMENT = schema(
    "RequiredDocument",
    {
        "type": "object",
        "required": ["label", "mandatory", "accepted_types"],
        "properties": {
            "id": {
                "type": "integer",
                "description": "En écriture : présent pour modifier une pièce existante, "
                "absent pour en ajouter une.",
            },
            "label": {"type": "string", "maxLength": 200},
            "mandatory": {"type": "boolean"},
            "accepted_types": {
                "type": "array",
                "items": {"type": "string", "enum": list(FILE_TYPES)},
                "minItems": 1,
            },
        },
    },
)
CRITERION = schema(
    "Criterion",
    {
        "type": "object",
        "required": ["label", "weight", "scale_max"],
        "properties": {
            "id": {
                "type": "integer",
                "description": "En écriture : présent pour modifier un critère existant.",
            },
            "label": {"type": "string", "maxLength": 200},
            "description": {"type": "string"},
            "weight": {"type": "integer", "minimum": 1, "maximum": rules.MAX_WEIGHT},
            "scale_max": {"type": "integer", "minimum": 1, "maximum": rules.MAX_SCALE},
        },
    },
)
_YEAR_OUT = {
    "type": "object",
    "required": ["year", "envelope"],
    "properties": {
        "year": {"type": "integer"},
        "envelope": MONEY,
        "weight": {**WEIGHT, "nullable": True, "description": "Poids du profil appliqué."},
    },
}
_YEAR_IN = {
    "type": "object",
    "required": ["year", "envelope"],
    "additionalProperties": False,
    "properties": {
        "year": {"type": "integer", "minimum": rules.MIN_YEAR, "maximum": rules.MAX_YEAR},
        "envelope": MONEY_INPUT,
    },
}
_INPUT_PROPERTIES = {
    "kind": {"type": "string", "enum": [k.value for k in CallKind]},
    "title": {"type": "string", "maxLength": 200},
    "reference_prefix": {
        "type": "string",
        "maxLength": 20,
        "description": "Préfixe unique des références des dossiers.",
        "example": "AAP-2016",
    },
    "summary": {"type": "string", "maxLength": 500},
    "description": {"type": "string", "description": "Markdown."},
    "rules": {"type": "string", "description": "Règlement, Markdown."},
    "opens_at": DATETIME_INPUT,
    "closes_at": DATETIME_INPUT,
    "years": {"type": "array", "items": _YEAR_IN},
    "profile": {
        "type": "array",
        "nullable": True,
        "items": {"oneOf": [{"type": "string"}, {"type": "number"}]},
        "description": "Un poids par année, décroissants, de somme 1 ; null : dérivé des "
        "enveloppes.",
    },
    "eligible_legal_forms": {
        "type": "array",
        "items": {"type": "string", "enum": [f.value for f in LegalForm]},
    },
    "sectors": {"type": "array", "items": {"type": "string", "maxLength": 120}},
    "ceiling": {**MONEY_INPUT, "nullable": True},
    "max_expense_share": {
        "oneOf": [{"type": "string"}, {"type": "number"}],
        "nullable": True,
        "description": "Aide à l'investissement : part maximale des dépenses éligibles, "
        "entre 0 et 1 (4 décimales au plus), par exemple « 0.5 ».",
    },
    "reviews_required": {"type": "integer", "minimum": 1, "maximum": operations.MAX_REVIEWS},
    "share_review_comments": {
        "type": "boolean",
        "description": "Les porteurs lisent les commentaires des évaluateurs, anonymisés, "
        "avec la décision.",
    },
    "payment_years": {
        "type": "integer",
        "nullable": True,
        "minimum": 1,
        "maximum": operations.MAX_PAYMENT_YEARS,
        "description": "Aide à l'investissement : nombre de tranches annuelles ; null : une.",
    },
    "advance_share": {
        "oneOf": [{"type": "string"}, {"type": "number"}],
        "description": "Part de la première tranche versée à la signature, entre 0 et 1 "
        "(4 décimales au plus), par exemple « 0.3 ».",
    },
    "release_on_report": {
        "type": "boolean",
        "description": "Tranches suivantes versées après acceptation du compte rendu de "
        "l'année précédente.",
    },
    "report_due_month": {
        "type": "integer",
        "minimum": 1,
        "maximum": 12,
        "description": "Mois (de l'année suivante) à la fin duquel le compte rendu est dû.",
    },
    "documents": {"type": "array", "items": DOCUMENT},
    "criteria": {"type": "array", "items": CRITERION},
}
CALL = schema(
    "Call",
    {
        "type": "object",
        "required": ["id", "kind", "status", "title", "opens_at", "closes_at", "years"],
        "properties": {
            "id": {"type": "integer"},
            "kind": {"type": "string", "enum": [k.value for k in CallKind]},
            "kind_label": {"type": "string"},
            "status": {"type": "string", "enum": [s.value for s in CallStatus]},
            "status_label": {"type": "string"},
            "phase": {
                "type": "string",
                "enum": ["draft", "upcoming", "open", "closed"],
                "description": "Où en sont les dépôts.",
            },
            "is_open": {"type": "boolean"},
            "title": {"type": "string"},
            "reference_prefix": {"type": "string"},
            "summary": {"type": "string"},
            "description": {"type": "string", "description": "Source Markdown."},
            "description_html": {"type": "string", "description": "HTML filtré."},
            "rules": {"type": "string", "description": "Source Markdown."},
            "rules_html": {"type": "string", "description": "HTML filtré."},
            "opens_at": {"type": "string", "format": "date-time"},
            "closes_at": {"type": "string", "format": "date-time"},
            "published_at": {"type": "string", "format": "date-time", "nullable": True},
            "years": {"type": "array", "items": _YEAR_OUT},
            "total_envelope": MONEY,
            "profile": {
                "type": "array",
                "nullable": True,
                "items": WEIGHT,
                "description": "Profil configuré ; null : dérivé des enveloppes.",
            },
            "effective_profile": {
                "type": "array",
                "nullable": True,
                "items": WEIGHT,
                "description": "Le profil appliqué aux échéanciers (null : aucun possible).",
            },
            "eligible_legal_forms": {"type": "array", "items": {"type": "string"}},
            "sectors": {"type": "array", "items": {"type": "string"}},
            "ceiling": {**MONEY, "nullable": True},
            "max_expense_share": {"type": "string", "nullable": True, "example": "0.5000"},
            "reviews_required": {"type": "integer"},
            "share_review_comments": {"type": "boolean"},
            "payment_years": {"type": "integer", "nullable": True},
            "advance_share": {"type": "string", "example": "1.0000"},
            "release_on_report": {"type": "boolean"},
            "report_due_month": {"type": "integer"},
            "documents": {"type": "array", "items": DOCUMENT},
            "criteria": {"type": "array", "items": CRITERION},
            "url": {"type": "string", "description": "La page publique de l'appel."},
        },
    },
)
CALL_INPUT = schema(
    "CallInput",
    {
        "type": "object",
        "required": ["kind", "title", "reference_prefix", "opens_at", "closes_at"],
        "additionalProperties": False,
        "properties": _INPUT_PROPERTIES,
    },
)
CALL_PATCH = schema(
    "CallPatch",
    {
        "type": "object",
        "additionalProperties": False,
        "description": "Les champs à modifier ; les autres restent inchangés. Une liste "
        "(années, pièces, critères) donnée remplace la liste entière.",
        "properties": _INPUT_PROPERTIES,
    },
)
CALL_LIST = schema(
    "CallList",
    {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": ref("Call")}},
    },
)
CALL_ID = {
    "name": "call_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer"},
    "description": "Identifiant de l'appel.",
}
INVALID = json_response(
    "Saisie invalide : `error.fields` donne les messages (en français) par champ.", ref("Error")
)
CONFLICT = json_response("L'état de l'appel ne permet pas cette action.", ref("Error"))
BAD_BODY = json_response("Corps JSON absent ou illisible.", ref("Error"))
#: public reads: the token is optional
OPTIONAL_AUTH = [{}, {"bearerAuth": []}]


# --- output -----------------------------------------------------------------------------------


def _money(value: Decimal | None) -> str | None:
    return None if value is None else format(Decimal(value).quantize(Decimal("0.01")), "f")


def call_json(call: Call) -> dict:
    envelopes = [y.envelope for y in call.years]
    effective = rules.effective_profile(call.profile, envelopes)
    return {
        "id": call.id,
        "kind": call.kind.value,
        "kind_label": call.kind.label,
        "status": call.status.value,
        "status_label": CALL_STATUS_LABELS[call.status],
        "phase": phase(call)[0],
        "is_open": call.is_open,
        "title": call.title,
        "reference_prefix": call.reference_prefix,
        "summary": call.summary or "",
        "description": call.description or "",
        "description_html": str(render_markdown(call.description)),
        "rules": call.rules or "",
        "rules_html": str(render_markdown(call.rules)),
        "opens_at": call.opens_at.isoformat(),
        "closes_at": call.closes_at.isoformat(),
        "published_at": call.published_at.isoformat() if call.published_at else None,
        "years": [
            {
                "year": y.year,
                "envelope": _money(y.envelope),
                "weight": format(effective[n], "f") if effective else None,
            }
            for n, y in enumerate(call.years)
        ],
        "total_envelope": _money(call.total_envelope),
        "profile": [str(w) for w in call.profile] if call.profile else None,
        "effective_profile": [format(w, "f") for w in effective] if effective else None,
        "eligible_legal_forms": list(call.eligible_legal_forms or []),
        "sectors": list(call.sectors or []),
        "ceiling": _money(call.ceiling),
        "max_expense_share": (
            None if call.max_expense_share is None else format(call.max_expense_share, "f")
        ),
        "reviews_required": call.reviews_required,
        "share_review_comments": bool(call.share_review_comments),
        "payment_years": call.payment_years,
        "advance_share": format(Decimal(call.advance_share), "f"),
        "release_on_report": bool(call.release_on_report),
        "report_due_month": call.report_due_month,
        "documents": [
            {
                "id": d.id,
                "label": d.label,
                "mandatory": d.mandatory,
                "accepted_types": list(d.accepted_types or []),
            }
            for d in call.documents
        ],
        "criteria": [
            {
                "id": c.id,
                "label": c.label,
                "description": c.description or "",
                "weight": c.weight,
                "scale_max": c.scale_max,
            }
            for c in call.criteria
        ],
        "url": url_for("calls.public_show", call_id=call.id, _external=False),
    }


# --- input ------------------------------------------------------------------------------------

TEXT_FIELDS = ("kind", "title", "reference_prefix", "summary", "description", "rules")


class _Invalid(Exception):
    def __init__(self, message: str):
        self.message = message


def _text(value, *, nullable: bool = False) -> str | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise _Invalid("Une chaîne de caractères est attendue.")
    return value


def _int(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid("Un nombre entier est attendu.")
    return value


def _str_list(value) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Invalid("Une liste de chaînes de caractères est attendue.")
    return value


def _rows(value, what: str) -> list[dict]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise _Invalid(f"Une liste d'objets ({what}) est attendue.")
    return value


def _parse(parser, value):
    try:
        return parser(value)
    except ValueError as exc:
        raise _Invalid(str(exc)) from exc


def _share(value) -> Decimal | None:
    if value is None:
        return None
    share = _parse(rules.parse_weight, value if isinstance(value, Decimal) else _text(value))
    if share is not None and -share.as_tuple().exponent > 4:
        raise _Invalid("La part a au plus 4 décimales (par exemple 0.3333).")
    return share


def _bool(value) -> bool:
    if not isinstance(value, bool):
        raise _Invalid("Un booléen (true ou false) est attendu.")
    return value


def _years(value) -> list[dict]:
    rows = []
    for n, row in enumerate(_rows(value, "année, enveloppe"), start=1):
        unknown = set(row) - {"year", "envelope"}
        if unknown:
            raise _Invalid(f"Ligne {n} : champ inconnu ({', '.join(sorted(unknown))}).")
        try:
            rows.append(
                {
                    "year": _int(row.get("year")),
                    "envelope": _parse(rules.parse_money, row.get("envelope")),
                }
            )
        except _Invalid as exc:
            raise _Invalid(f"Ligne {n} : {exc.message}") from exc
    return rows


def _documents(value) -> list[dict]:
    rows = []
    for n, row in enumerate(_rows(value, "pièces"), start=1):
        try:
            mandatory = row.get("mandatory", True)
            if not isinstance(mandatory, bool):
                raise _Invalid("« mandatory » est un booléen.")
            rows.append(
                {
                    "id": None if row.get("id") is None else _int(row.get("id")),
                    "label": _text(row.get("label", "")),
                    "mandatory": mandatory,
                    "accepted_types": _str_list(row.get("accepted_types", list(FILE_TYPES))),
                }
            )
        except _Invalid as exc:
            raise _Invalid(f"Document {n} : {exc.message}") from exc
    return rows


def _criteria(value) -> list[dict]:
    rows = []
    for n, row in enumerate(_rows(value, "critères"), start=1):
        try:
            rows.append(
                {
                    "id": None if row.get("id") is None else _int(row.get("id")),
                    "label": _text(row.get("label", "")),
                    "description": _text(row.get("description", "")),
                    "weight": None if row.get("weight") is None else _int(row.get("weight")),
                    "scale_max": _int(row.get("scale_max", 5)),
                }
            )
        except _Invalid as exc:
            raise _Invalid(f"Critère {n} : {exc.message}") from exc
    return rows


def _profile(value) -> list | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise _Invalid("Une liste de poids (ou null) est attendue.")
    weights = []
    for n, weight in enumerate(value, start=1):
        try:
            weights.append(
                _parse(rules.parse_weight, weight if isinstance(weight, Decimal) else _text(weight))
            )
        except _Invalid as exc:
            raise _Invalid(f"Poids {n} : {exc.message}") from exc
    return weights or None


PARSERS = {
    **{name: _text for name in TEXT_FIELDS},
    "opens_at": lambda v: _parse(rules.parse_iso_datetime, _text(v)),
    "closes_at": lambda v: _parse(rules.parse_iso_datetime, _text(v)),
    "years": _years,
    "profile": _profile,
    "eligible_legal_forms": _str_list,
    "sectors": _str_list,
    "ceiling": lambda v: _parse(rules.parse_money, v),
    "max_expense_share": _share,
    "reviews_required": _int,
    "share_review_comments": _bool,
    "payment_years": lambda v: None if v is None else _int(v),
    "advance_share": _share,
    "release_on_report": _bool,
    "report_due_month": _int,
    "documents": _documents,
    "criteria": _criteria,
}


def _payload() -> dict | None:
    """The JSON body with decimals read exactly (``parse_float=Decimal``), or None."""
    try:
        data = json.loads(request.get_data(as_text=True) or "null", parse_float=Decimal)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _values(payload: dict, base: dict) -> tuple[dict, dict[str, list[str]]]:
    """``base`` with the payload's fields parsed over it; type errors by field."""
    values = dict(base)
    errors: dict[str, list[str]] = {}
    for name, raw in payload.items():
        parser = PARSERS.get(name)
        if parser is None:
            errors[name] = ["Champ inconnu."]
            continue
        try:
            values[name] = parser(raw)
        except _Invalid as exc:
            errors[name] = [exc.message]
            values[name] = None
    return values, errors


def _invalid(fields: dict):
    return api_error(422, "Saisie invalide", "Corrigez les champs signalés.", fields)


def _bad_body():
    return api_error(400, "Requête invalide", "Envoyez un objet JSON.")


def _forbidden():
    return api_error(403, "Action interdite", "Réservé aux agents du service.")


def _is_staff() -> bool:
    return has_role(current_user, Role.staff, Role.admin)


def _not_found():
    return api_error(404, "Ressource introuvable", "Cet appel n'existe pas.")


def _checked(payload: dict, base: dict, call: Call | None):
    """``(values, None)`` or ``(None, error response)``: types, then the operations' checks."""
    values, errors = _values(payload, base)
    try:
        _clean, problems = operations.validation_errors(values, call)
    except operations.CallError as exc:
        return None, api_error(409, "Modification impossible", exc.message)
    for name, messages in problems.items():
        errors.setdefault(name, messages)
    if errors:
        return None, _invalid(errors)
    return values, None


def _commit():
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return _invalid({"reference_prefix": [operations.PREFIX_TAKEN]})
    return None


# --- routes -----------------------------------------------------------------------------------


@bp.get("/calls")
@operation(
    "/calls",
    "get",
    {
        "summary": "Les appels publiés (et les brouillons pour les agents)",
        "description": "Lecture publique, sans jeton. Avec le jeton d'un agent, les "
        "brouillons sont inclus.",
        "tags": TAGS,
        "security": OPTIONAL_AUTH,
        "responses": {"200": json_response("Les appels.", CALL_LIST)},
    },
)
def calls_list():
    calls = queries.api_calls(include_drafts=_is_staff())
    return jsonify({"items": [call_json(c) for c in calls]})


@bp.get("/calls/<int:call_id>")
@operation(
    "/calls/{call_id}",
    "get",
    {
        "summary": "Un appel",
        "description": "Lecture publique, sans jeton ; un brouillon n'est visible que des agents.",
        "tags": TAGS,
        "security": OPTIONAL_AUTH,
        "parameters": [CALL_ID],
        "responses": {"200": json_response("L'appel.", CALL)},
    },
)
def calls_get(call_id: int):
    call = queries.get_call(call_id)
    if call is None or (not call.is_public and not _is_staff()):
        return _not_found()
    return jsonify(call_json(call))


@bp.post("/calls")
@operation(
    "/calls",
    "post",
    {
        "summary": "Créer un appel (brouillon ; agents)",
        "tags": TAGS,
        "requestBody": json_body(CALL_INPUT),
        "responses": {
            "201": json_response("L'appel créé, en brouillon.", CALL),
            "400": BAD_BODY,
            "422": INVALID,
        },
    },
)
def calls_create():
    if not _is_staff():
        return _forbidden()
    payload = _payload()
    if payload is None:
        return _bad_body()
    values, error = _checked(payload, operations.default_values(), None)
    if error:
        return error
    try:
        call = operations.create_call(current_user, values)
    except operations.CallError as exc:
        db.session.rollback()
        return _invalid(exc.fields or {"__all__": [exc.message]})
    if (conflict := _commit()) is not None:
        return conflict
    response = jsonify(call_json(queries.get_call(call.id)))
    response.status_code = 201
    response.headers["Location"] = url_for("api.calls_get", call_id=call.id)
    return response


@bp.patch("/calls/<int:call_id>")
@operation(
    "/calls/{call_id}",
    "patch",
    {
        "summary": "Modifier un appel (agents)",
        "description": "Une fois des dossiers déposés, la clôture ne peut qu'être reportée "
        "(les porteurs ayant un brouillon sont prévenus) ; la grille est figée dès la "
        "première évaluation.",
        "tags": TAGS,
        "parameters": [CALL_ID],
        "requestBody": json_body(CALL_PATCH),
        "responses": {
            "200": json_response("L'appel modifié.", CALL),
            "400": BAD_BODY,
            "409": CONFLICT,
            "422": INVALID,
        },
    },
)
def calls_patch(call_id: int):
    if not _is_staff():
        return _forbidden()
    call = queries.get_call(call_id)
    if call is None:
        return _not_found()
    payload = _payload()
    if payload is None:
        return _bad_body()
    values, error = _checked(payload, operations.call_values(call), call)
    if error:
        return error
    try:
        operations.update_call(call, current_user, values)
    except operations.CallError as exc:
        db.session.rollback()
        if not exc.fields:
            return api_error(409, "Modification impossible", exc.message)
        return _invalid(exc.fields)
    if (conflict := _commit()) is not None:
        return conflict
    return jsonify(call_json(queries.get_call(call_id)))


@bp.post("/calls/<int:call_id>/publish")
@operation(
    "/calls/{call_id}/publish",
    "post",
    {
        "summary": "Publier un appel (agents)",
        "description": "Brouillon → publié. Refusé (422, `error.fields.publish`) tant que "
        "l'appel est incomplet : années, fenêtre, grille, profil dégressif…",
        "tags": TAGS,
        "parameters": [CALL_ID],
        "responses": {
            "200": json_response("L'appel publié.", CALL),
            "409": CONFLICT,
            "422": INVALID,
        },
    },
)
def calls_publish(call_id: int):
    if not _is_staff():
        return _forbidden()
    call = queries.get_call(call_id)
    if call is None:
        return _not_found()
    try:
        operations.publish_call(call, current_user)
    except operations.InvalidTransition as exc:
        db.session.rollback()
        return api_error(409, "Action impossible", exc.message)
    except operations.CallError as exc:
        db.session.rollback()
        return _invalid(exc.fields or {"__all__": [exc.message]})
    db.session.commit()
    return jsonify(call_json(queries.get_call(call_id)))
