"""Organisations in the JSON API (``/api/v1/organisations``).

The same checks as the pages: the input goes through :class:`OrganisationForm` (CSRF off,
the token authenticates) and then the same operations, so a value refused on the page is
refused here with the same French message; who may see or change what comes from the
model predicates (404 when one may not see, 403 when one may see but not change).
"""

from __future__ import annotations

from decimal import Decimal

from flask import jsonify, request, url_for
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import MultiDict

from grants.api.openapi import json_body, json_response, operation, ref, schema
from grants.api.views import api_error, bp, json_payload
from grants.extensions import db
from grants.organisations import operations, queries, rules
from grants.organisations.forms import OrganisationForm
from grants.organisations.models import LEGAL_FORM_LABELS, Organisation

API_PER_PAGE = 50

TEXT_FIELDS = ("name", "legal_form", "siret", "address", "postal_code", "city")
NULLABLE_TEXT_FIELDS = ("rna", "commune_insee")
BOOL_FIELDS = ("in_qpv", "esus_approved", "has_economic_activity")
INT_FIELDS = ("employees", "volunteers")
INPUT_FIELDS = (*TEXT_FIELDS, *NULLABLE_TEXT_FIELDS, *BOOL_FIELDS, *INT_FIELDS, "fte")

_INPUT_PROPERTIES = {
    "name": {"type": "string", "maxLength": 200, "description": "Nom de la structure."},
    "legal_form": {
        "type": "string",
        "enum": [f.value for f in LEGAL_FORM_LABELS],
        "description": "Forme juridique : "
        + ", ".join(f"`{f.value}` ({label})" for f, label in LEGAL_FORM_LABELS.items()),
    },
    "siret": {
        "type": "string",
        "description": "14 chiffres, clé de Luhn valide (espaces acceptés). Unique.",
        "example": "73282932000074",
    },
    "rna": {
        "type": "string",
        "nullable": True,
        "description": "Associations uniquement (obligatoire pour elles) : W + 9 chiffres.",
        "example": "W332001234",
    },
    "address": {"type": "string", "maxLength": 300},
    "postal_code": {"type": "string", "pattern": "^[0-9]{5}$"},
    "city": {"type": "string", "maxLength": 120},
    "commune_insee": {
        "type": "string",
        "nullable": True,
        "description": "Code INSEE d'une des 28 communes de la métropole ; null : hors métropole.",
        "example": "33063",
    },
    "in_qpv": {"type": "boolean", "description": "Située en quartier prioritaire (QPV)."},
    "esus_approved": {"type": "boolean", "description": "Agrément ESUS."},
    "has_economic_activity": {
        "type": "boolean",
        "description": "Activité économique (aides de minimis).",
    },
    "employees": {"type": "integer", "minimum": 0},
    "fte": {
        "oneOf": [{"type": "string"}, {"type": "number", "minimum": 0}],
        "description": "Équivalents temps plein, 2 décimales au plus (« 2,5 » ou 2.5).",
        "example": "2.50",
    },
    "volunteers": {"type": "integer", "minimum": 0},
}

ORGANISATION = schema(
    "Organisation",
    {
        "type": "object",
        "required": ["id", "name", "legal_form", "siret", "siren"],
        "properties": {
            "id": {"type": "integer"},
            **{k: v for k, v in _INPUT_PROPERTIES.items() if k != "fte"},
            "fte": {"type": "string", "description": "Décimal en chaîne, par exemple « 2.50 »."},
            "legal_form_label": {"type": "string"},
            "siren": {"type": "string", "description": "Les 9 premiers chiffres du SIRET."},
            "commune_name": {"type": "string", "nullable": True},
            "in_metropolis": {"type": "boolean"},
            "is_ess": {
                "type": "boolean",
                "description": "Forme juridique de l'ESS (ou société agréée ESUS).",
            },
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    },
)
ORGANISATION_INPUT = schema(
    "OrganisationInput",
    {
        "type": "object",
        "required": [
            "name",
            "legal_form",
            "siret",
            "address",
            "postal_code",
            "city",
            "commune_insee",
        ],
        "additionalProperties": False,
        "properties": _INPUT_PROPERTIES,
    },
)
ORGANISATION_PATCH = schema(
    "OrganisationPatch",
    {
        "type": "object",
        "additionalProperties": False,
        "description": "Les champs à modifier ; les autres restent inchangés.",
        "properties": _INPUT_PROPERTIES,
    },
)
ORGANISATION_PAGE = schema(
    "OrganisationPage",
    {
        "type": "object",
        "required": ["items", "page", "per_page", "total", "pages"],
        "properties": {
            "items": {"type": "array", "items": ref("Organisation")},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
            "total": {"type": "integer"},
            "pages": {"type": "integer"},
        },
    },
)
MEMBER = schema(
    "Member",
    {
        "type": "object",
        "required": ["user_id", "email", "full_name", "joined_at"],
        "properties": {
            "user_id": {"type": "integer"},
            "email": {"type": "string", "format": "email"},
            "full_name": {"type": "string"},
            "joined_at": {"type": "string", "format": "date-time"},
        },
    },
)
MEMBER_LIST = schema(
    "MemberList",
    {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": MEMBER}},
    },
)

ORG_ID = {
    "name": "org_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer"},
    "description": "Identifiant de la structure.",
}
INVALID = json_response(
    "Saisie invalide : `error.fields` donne les messages (en français) par champ.", ref("Error")
)
TAGS = ["Structures"]


def organisation_json(org: Organisation) -> dict:
    return {
        "id": org.id,
        "name": org.name,
        "legal_form": org.legal_form.value,
        "legal_form_label": org.legal_form.label,
        "siret": org.siret,
        "siren": org.siren,
        "rna": org.rna,
        "address": org.address,
        "postal_code": org.postal_code,
        "city": org.city,
        "commune_insee": org.commune_insee,
        "commune_name": org.commune.name if org.commune else None,
        "in_metropolis": org.in_metropolis,
        "in_qpv": org.in_qpv,
        "esus_approved": org.esus_approved,
        "has_economic_activity": org.has_economic_activity,
        "is_ess": rules.is_ess_form(org.legal_form.value, org.esus_approved),
        "employees": org.employees,
        "fte": str(Decimal(org.fte).quantize(Decimal("0.01"))),
        "volunteers": org.volunteers,
        "created_at": org.created_at.isoformat(),
        "updated_at": org.updated_at.isoformat(),
    }


def _current_values(org: Organisation) -> dict:
    """The organisation as API input (the base a PATCH is applied to)."""
    data = organisation_json(org)
    return {name: data[name] for name in INPUT_FIELDS}


def _type_errors(payload: dict) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for name, value in payload.items():
        if name not in INPUT_FIELDS:
            errors[name] = ["Champ inconnu."]
        elif name in TEXT_FIELDS and not isinstance(value, str):
            errors[name] = ["Une chaîne de caractères est attendue."]
        elif name in NULLABLE_TEXT_FIELDS and not (value is None or isinstance(value, str)):
            errors[name] = ["Une chaîne de caractères (ou null) est attendue."]
        elif name in BOOL_FIELDS and not isinstance(value, bool):
            errors[name] = ["Un booléen est attendu (true ou false)."]
        elif name in INT_FIELDS and (isinstance(value, bool) or not isinstance(value, int)):
            errors[name] = ["Un nombre entier est attendu."]
        elif name == "fte" and (
            isinstance(value, bool) or not isinstance(value, int | float | str)
        ):
            errors[name] = ["Un nombre est attendu, par exemple 2.5."]
    return errors


def _formdata(values: dict) -> MultiDict:
    data = MultiDict()
    for name, value in values.items():
        if name in BOOL_FIELDS:
            data[name] = "y" if value else ""
        elif name == "commune_insee" and value is None:
            data[name] = queries.OUTSIDE_METROPOLIS
        elif value is None:
            data[name] = ""
        else:
            data[name] = str(value)
    return data


def _validated(payload: dict, base: dict):
    """(values, None) or (None, errors): the page's form validates the merged input."""
    errors = _type_errors(payload)
    if errors:
        return None, errors
    values = {**base, **payload}
    if values.get("commune_insee") == queries.OUTSIDE_METROPOLIS:
        values["commune_insee"] = "invalide"  # the form's sentinel is not an INSEE code
    form = OrganisationForm(
        formdata=_formdata(values),
        meta={"csrf": False},
        commune_choices=queries.commune_choices(),
    )
    if not form.validate():
        return None, {name: list(msgs) for name, msgs in form.errors.items()}
    return form.values(), None


def _invalid(fields: dict):
    return api_error(422, "Saisie invalide", "Corrigez les champs signalés.", fields)


def _load(org_id: int, verb: str = "view"):
    """(organisation, None) or (None, error response): 404 unseen, 403 seen but not allowed."""
    org = queries.get_organisation(org_id)
    if org is None or not org.can_view(current_user):
        return None, api_error(404, "Ressource introuvable", "Cette structure n'existe pas.")
    if verb != "view" and not getattr(org, f"can_{verb}")(current_user):
        return None, api_error(403, "Action interdite", "Seuls les membres peuvent modifier.")
    return org, None


def _commit_or_conflict():
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return _invalid({"siret": [operations.SIRET_TAKEN]})
    return None


@bp.get("/organisations")
@operation(
    "/organisations",
    "get",
    {
        "summary": "Mes structures (toutes pour les agents)",
        "description": "Les structures dont l'utilisateur est membre ; "
        "pour un agent ou un administrateur, toutes les structures.",
        "tags": TAGS,
        "parameters": [
            {
                "name": "page",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "default": 1},
            }
        ],
        "responses": {"200": json_response("Une page de structures.", ORGANISATION_PAGE)},
    },
)
def organisations_list():
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    pagination = queries.paginate(
        queries.visible_organisations_query(current_user), page, API_PER_PAGE
    )
    return jsonify(
        {
            "items": [organisation_json(org) for org in pagination.items],
            "page": pagination.page,
            "per_page": pagination.per_page,
            "total": pagination.total,
            "pages": pagination.pages,
        }
    )


@bp.post("/organisations")
@operation(
    "/organisations",
    "post",
    {
        "summary": "Créer une structure",
        "description": "L'utilisateur du jeton en devient membre.",
        "tags": TAGS,
        "requestBody": json_body(ORGANISATION_INPUT),
        "responses": {
            "201": json_response("La structure créée.", ORGANISATION),
            "400": json_response("Corps JSON absent ou illisible.", ref("Error")),
            "422": INVALID,
        },
    },
)
def organisations_create():
    values, errors = _validated(json_payload(), {})
    if errors:
        return _invalid(errors)
    try:
        org = operations.create_organisation(current_user, values)
    except operations.OrganisationError as exc:
        db.session.rollback()
        return _invalid(exc.fields or {"__all__": [exc.message]})
    if (conflict := _commit_or_conflict()) is not None:
        return conflict
    response = jsonify(organisation_json(org))
    response.status_code = 201
    response.headers["Location"] = url_for("api.organisations_get", org_id=org.id)
    return response


@bp.get("/organisations/<int:org_id>")
@operation(
    "/organisations/{org_id}",
    "get",
    {
        "summary": "Une structure",
        "tags": TAGS,
        "parameters": [ORG_ID],
        "responses": {"200": json_response("La structure.", ORGANISATION)},
    },
)
def organisations_get(org_id: int):
    org, error = _load(org_id)
    if error:
        return error
    return jsonify(organisation_json(org))


@bp.patch("/organisations/<int:org_id>")
@operation(
    "/organisations/{org_id}",
    "patch",
    {
        "summary": "Modifier une structure (membres seulement)",
        "tags": TAGS,
        "parameters": [ORG_ID],
        "requestBody": json_body(ORGANISATION_PATCH),
        "responses": {
            "200": json_response("La structure modifiée.", ORGANISATION),
            "400": json_response("Corps JSON absent ou illisible.", ref("Error")),
            "422": INVALID,
        },
    },
)
def organisations_patch(org_id: int):
    org, error = _load(org_id, "edit")
    if error:
        return error
    values, errors = _validated(json_payload(), _current_values(org))
    if errors:
        return _invalid(errors)
    try:
        operations.update_organisation(org, current_user, values)
    except operations.OrganisationError as exc:
        db.session.rollback()
        return _invalid(exc.fields or {"__all__": [exc.message]})
    if (conflict := _commit_or_conflict()) is not None:
        return conflict
    return jsonify(organisation_json(org))


@bp.get("/organisations/<int:org_id>/members")
@operation(
    "/organisations/{org_id}/members",
    "get",
    {
        "summary": "Les membres d'une structure",
        "tags": TAGS,
        "parameters": [ORG_ID],
        "responses": {"200": json_response("Les membres.", MEMBER_LIST)},
    },
)
def organisations_members(org_id: int):
    org, error = _load(org_id)
    if error:
        return error
    return jsonify(
        {
            "items": [
                {
                    "user_id": m.user_id,
                    "email": m.user.email,
                    "full_name": m.user.full_name,
                    "joined_at": m.joined_at.isoformat(),
                }
                for m in sorted(org.memberships, key=lambda m: (m.joined_at, m.user_id))
            ]
        }
    )
