"""Schedules in the JSON API.

* ``GET /calls/{id}/schedules`` (staff): every award of the call with its tranches, the
  per-year totals against the envelopes and the last computation;
* ``POST /calls/{id}/schedules`` (staff): ask the worker for the schedules (202, the run);
* ``GET /schedule-runs/{id}`` (staff): a computation's status, progress and result;
* ``GET /awards/{id}/schedule``: one award's tranches — the members of the laureate
  organisation see their own award, staff every award; anyone else gets a 404 (an award's
  existence is not revealed);
* ``POST /calls/{id}/simulation`` (staff): the JSON of ``grants schedule simulate``
  computed on the call's data with overrides (``envelopes`` merged year by year,
  ``unit``, ``profile``, ``awards`` amounts by id); nothing is written.

Amounts are decimal strings.
"""

from __future__ import annotations

import json

from flask import jsonify, request
from flask_login import current_user

from grants.api.openapi import json_body, json_response, operation, ref, schema
from grants.api.views import api_error, bp
from grants.calls.models import CallKind
from grants.core.enums import Role
from grants.core.permissions import has_role
from grants.extensions import db
from grants.funding import operations, queries
from grants.funding import tasks as _tasks  # noqa: F401 (registers the worker task)
from grants.funding.investment import compute_for_call
from grants.funding.models import ScheduleRun
from grants.funding.rules import ScheduleInputError, parse_simulation, result_to_json

TAGS = ["Échéanciers"]
MONEY = {"type": "string", "pattern": r"^\d+\.\d{2}$", "example": "14545.00"}
YEAR_AMOUNTS = {
    "type": "object",
    "additionalProperties": {"type": "string"},
    "description": "Montant par année (clé : l'année), en chaîne décimale.",
    "example": {"2016": "60000", "2017": "55000", "2018": "50000"},
}
TRANCHE = schema(
    "ScheduleTranche",
    {
        "type": "object",
        "required": ["year", "amount", "status", "requested_amount", "paid_amount"],
        "properties": {
            "year": {"type": "integer"},
            "amount": MONEY,
            "status": {
                "type": "string",
                "enum": ["planned", "requested", "validated", "paid", "cancelled"],
            },
            "requested_amount": MONEY,
            "paid_amount": MONEY,
        },
    },
)
AWARD = schema(
    "AwardSchedule",
    {
        "type": "object",
        "required": ["id", "call_id", "application_id", "reference", "total", "tranches"],
        "properties": {
            "id": {"type": "integer"},
            "call_id": {"type": "integer"},
            "application_id": {"type": "integer"},
            "reference": {"type": "string"},
            "organisation": {"type": "string"},
            "rank": {"type": "integer"},
            "status": {
                "type": "string",
                "enum": ["proposed", "scheduled", "convention_signed", "in_payment", "closed"],
            },
            "total": MONEY,
            "allocated_total": MONEY,
            "schedule_error": {"type": "string", "nullable": True},
            "tranches": {"type": "array", "items": ref("ScheduleTranche")},
        },
    },
)
RUN = schema(
    "ScheduleRun",
    {
        "type": "object",
        "required": ["id", "call_id", "status", "progress", "total"],
        "properties": {
            "id": {"type": "integer"},
            "call_id": {"type": "integer"},
            "status": {"type": "string", "enum": ["queued", "running", "done", "failed"]},
            "progress": {"type": "integer", "description": "Aides traitées."},
            "total": {"type": "integer"},
            "created_at": {"type": "string", "format": "date-time"},
            "started_at": {"type": "string", "format": "date-time", "nullable": True},
            "finished_at": {"type": "string", "format": "date-time", "nullable": True},
            "error": {"type": "string", "nullable": True},
            "result": {
                "type": "object",
                "nullable": True,
                "description": "fits, totals, overflow, alternatives (si dépassement), "
                "errors, warnings, blocked (de minimis), conflicts (tranches engagées non "
                "modifiées), stored (les tranches sont-elles enregistrées), written, "
                "unchanged, notified.",
            },
        },
    },
)
CALL_SCHEDULES = schema(
    "CallSchedules",
    {
        "type": "object",
        "required": ["call_id", "envelopes", "totals", "awards"],
        "properties": {
            "call_id": {"type": "integer"},
            "envelopes": YEAR_AMOUNTS,
            "totals": {**YEAR_AMOUNTS, "description": "Tranches enregistrées (non annulées)."},
            "awards": {"type": "array", "items": ref("AwardSchedule")},
            "latest_run": {**ref("ScheduleRun"), "nullable": True},
        },
    },
)
SCHEDULE_ROWS = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"id": {"type": "string"}, "tranches": YEAR_AMOUNTS},
    },
}
SIMULATION_INPUT = schema(
    "ScheduleSimulationInput",
    {
        "type": "object",
        "additionalProperties": False,
        "description": "Ce qui change par rapport aux données de l'appel (tout est "
        "facultatif). Montants et poids en chaînes décimales.",
        "properties": {
            "envelopes": {**YEAR_AMOUNTS, "description": "Enveloppes remplacées, par année."},
            "unit": {"type": "string", "example": "1"},
            "profile": {
                "type": "array",
                "nullable": True,
                "items": {"type": "string"},
                "description": "Un poids par année, ou null pour le profil dérivé.",
            },
            "awards": {
                "type": "array",
                "description": "Montants remplacés, par identifiant d'aide (la référence du "
                "dossier) ; « 0 » retire l'aide de la simulation.",
                "items": {
                    "type": "object",
                    "required": ["id", "amount"],
                    "properties": {
                        "id": {"type": "string"},
                        "amount": {"type": "string"},
                        "rank": {"type": "integer"},
                    },
                },
            },
        },
    },
)
SIMULATION = schema(
    "ScheduleSimulation",
    {
        "type": "object",
        "required": ["fits", "schedules", "totals", "overflow"],
        "description": "La sortie de `grants schedule simulate`.",
        "properties": {
            "fits": {"type": "boolean"},
            "schedules": SCHEDULE_ROWS,
            "totals": YEAR_AMOUNTS,
            "overflow": YEAR_AMOUNTS,
            "alternatives": {
                "type": "object",
                "properties": {"proportional": SCHEDULE_ROWS, "by_rank": SCHEDULE_ROWS},
            },
            "errors": {"type": "object", "additionalProperties": {"type": "string"}},
            "warnings": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    },
)
CALL_ID = {"name": "call_id", "in": "path", "required": True, "schema": {"type": "integer"}}
ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}


def _is_staff() -> bool:
    return has_role(current_user, Role.staff, Role.admin)


def _forbidden():
    return api_error(403, "Action interdite", "Réservé aux agents du service.")


def _money(value) -> str:
    return operations._money(value)


def _iso(value):
    return value.isoformat() if value is not None else None


def tranche_json(tranche) -> dict:
    return {
        "year": tranche.year,
        "amount": _money(tranche.amount),
        "status": tranche.status.value,
        "requested_amount": _money(tranche.requested_amount),
        "paid_amount": _money(tranche.paid_amount),
    }


def award_json(award) -> dict:
    return {
        "id": award.id,
        "call_id": award.call_id,
        "application_id": award.application_id,
        "reference": queries.reference_of(award.application.reference, award.application_id),
        "organisation": award.application.organisation.name,
        "rank": award.rank,
        "status": award.status.value,
        "total": _money(award.total),
        "allocated_total": _money(award.allocated_total),
        "schedule_error": award.schedule_error,
        "tranches": [tranche_json(t) for t in award.tranches],
    }


def run_json(run: ScheduleRun) -> dict:
    return {
        "id": run.id,
        "call_id": run.call_id,
        "status": run.status.value,
        "progress": run.progress,
        "total": run.total,
        "created_at": _iso(run.created_at),
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "error": run.error,
        "result": run.result,
    }


def _call_or_404(call_id: int):
    call = queries.get_call(call_id)
    if call is None:
        return None, api_error(404, "Ressource introuvable", "Cet appel n'existe pas.")
    return call, None


@bp.get("/calls/<int:call_id>/schedules")
@operation(
    "/calls/{call_id}/schedules",
    "get",
    {
        "summary": "Les échéanciers d'un appel (agents)",
        "tags": TAGS,
        "parameters": [CALL_ID],
        "responses": {"200": json_response("Les aides et leurs tranches.", CALL_SCHEDULES)},
    },
)
def call_schedules(call_id: int):
    if not _is_staff():
        return _forbidden()
    call, error = _call_or_404(call_id)
    if error:
        return error
    table = queries.stored_table(call, with_targets=False)
    run = queries.latest_run(call.id)
    return jsonify(
        {
            "call_id": call.id,
            "envelopes": {str(y): _money(e) for y, e in table.envelopes.items()},
            "totals": {str(y): _money(t) for y, t in table.totals.items()},
            "awards": [award_json(row.award) for row in table.rows],
            "latest_run": run_json(run) if run else None,
        }
    )


@bp.post("/calls/<int:call_id>/schedules")
@operation(
    "/calls/{call_id}/schedules",
    "post",
    {
        "summary": "Lancer le calcul des échéanciers d'un appel (agents)",
        "description": "Les aides sont mises à jour depuis les décisions, puis le calcul est "
        "confié au serveur de tâches ; suivez-le avec GET /schedule-runs/{id}.",
        "tags": TAGS,
        "parameters": [CALL_ID],
        "responses": {
            "202": json_response("Le calcul demandé (ou celui qui attend déjà).", RUN),
            "409": json_response("L'appel ne permet pas le calcul.", ref("Error")),
        },
    },
)
def start_schedules(call_id: int):
    if not _is_staff():
        return _forbidden()
    call, error = _call_or_404(call_id)
    if error:
        return error
    try:
        run = operations.request_schedule(call, current_user)
    except operations.ScheduleError as exc:
        db.session.rollback()
        return api_error(exc.status, "Calcul refusé", exc.message, exc.fields or None)
    db.session.commit()
    response = jsonify(run_json(run))
    response.status_code = 202
    return response


@bp.get("/schedule-runs/<int:id>")
@operation(
    "/schedule-runs/{id}",
    "get",
    {
        "summary": "Un calcul d'échéanciers : état, progression, résultat (agents)",
        "tags": TAGS,
        "parameters": [ID],
        "responses": {"200": json_response("Le calcul.", RUN)},
    },
)
def schedule_run(id: int):  # noqa: A002 (the path parameter)
    if not _is_staff():
        return _forbidden()
    run = queries.get_run(id)
    if run is None:
        return api_error(404, "Ressource introuvable", "Ce calcul n'existe pas.")
    return jsonify(run_json(run))


@bp.get("/awards/<int:id>/schedule")
@operation(
    "/awards/{id}/schedule",
    "get",
    {
        "summary": "L'échéancier d'une aide",
        "description": "Les membres de la structure lauréate voient leur aide ; les agents "
        "toutes les aides.",
        "tags": TAGS,
        "parameters": [ID],
        "responses": {"200": json_response("L'aide et ses tranches.", AWARD)},
    },
)
def award_schedule(id: int):  # noqa: A002 (the path parameter)
    award = queries.get_award(id)
    if award is None or not (_is_staff() or award.application.organisation.is_member(current_user)):
        return api_error(404, "Ressource introuvable", "Cette aide n'existe pas.")
    return jsonify(award_json(award))


@bp.post("/calls/<int:call_id>/simulation")
@operation(
    "/calls/{call_id}/simulation",
    "post",
    {
        "summary": "Simuler les échéanciers d'un appel (agents ; rien n'est enregistré)",
        "tags": TAGS,
        "parameters": [CALL_ID],
        "requestBody": json_body(SIMULATION_INPUT),
        "responses": {
            "200": json_response("Le tableau simulé.", SIMULATION),
            "422": json_response(
                "Saisie invalide (messages en français dans error.fields.simulation).",
                ref("Error"),
            ),
        },
    },
)
def simulate_call(call_id: int):
    if not _is_staff():
        return _forbidden()
    call, error = _call_or_404(call_id)
    if error:
        return error
    try:
        overrides = json.loads(request.get_data(as_text=True) or "{}")
    except ValueError:
        overrides = None
    if not isinstance(overrides, dict):
        return api_error(400, "Requête invalide", "Envoyez un objet JSON.")
    try:
        data = merge_simulation(queries.simulation_input(call), overrides)
        simulation = parse_simulation(data)
        result = compute_for_call(
            call.kind.value,
            simulation.envelopes,
            simulation.awards,
            unit=simulation.unit,
            profile=simulation.profile,
            payment_years=call.payment_years if call.kind == CallKind.investment_aid else None,
        )
    except ScheduleInputError as exc:
        db.session.rollback()
        return api_error(
            422, "Saisie invalide", " ".join(exc.problems), {"simulation": exc.problems}
        )
    db.session.rollback()  # nothing to write, ever
    return jsonify(result_to_json(result))


def merge_simulation(base: dict, overrides: dict) -> dict:
    """The call's simulation input with ``overrides`` (ScheduleInputError when unknown)."""
    allowed = {"envelopes", "unit", "profile", "awards"}
    unknown = [k for k in overrides if k not in allowed]
    if unknown:
        raise ScheduleInputError(
            f"Clé inconnue : « {unknown[0]} » (clés acceptées : {', '.join(sorted(allowed))})."
        )
    data = dict(base)
    if "envelopes" in overrides:
        if not isinstance(overrides["envelopes"], dict):
            raise ScheduleInputError("« envelopes » doit être un objet année → montant.")
        data["envelopes"] = {**base["envelopes"], **overrides["envelopes"]}
    for key in ("unit", "profile"):
        if key in overrides:
            data[key] = overrides[key]
    if "awards" in overrides:
        items = overrides["awards"]
        if not isinstance(items, list):
            raise ScheduleInputError("« awards » doit être une liste d'objets {id, amount}.")
        awards = {a["id"]: dict(a) for a in base["awards"]}
        for n, item in enumerate(items, start=1):
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                raise ScheduleInputError(f"Aide n° {n} : attendu un objet {{id, amount}}.")
            if item["id"] not in awards:
                raise ScheduleInputError(
                    f"Aide « {item['id']} » : ce n'est pas une aide de l'appel."
                )
            extra = [k for k in item if k not in ("id", "amount", "rank")]
            if extra:
                raise ScheduleInputError(f"Aide « {item['id']} » : clé inconnue « {extra[0]} ».")
            awards[item["id"]].update({k: v for k, v in item.items() if k != "id"})
        data["awards"] = [a for a in awards.values() if a.get("amount") not in ("0", "0.00")]
    return data
