"""Ranking, scores, committee sessions and decisions in the JSON API (on grants.api.views.bp).

Staff read the ranking and a file's scores, record sessions and decide; the members of the
organisation read the decision on their file (outcome, amount, reason, date — never the
reviewers or their scores; the reviewers' comments anonymised when the call shares them).
A file someone may not see answers 404; an action they may not do on a file they see, 403.
Amounts and scores are decimal strings (a JSON number is read exactly, never as a float).
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from flask import jsonify, request
from flask_login import current_user

from grants.api.openapi import json_body, json_response, operation, ref, schema
from grants.api.views import api_error, bp
from grants.applications.rules import parse_amount
from grants.decisions import operations, queries, rules
from grants.decisions.models import CommitteeSession, Decision, Outcome
from grants.extensions import db

TAGS = ["Comité"]
MONEY = {"type": "string", "pattern": r"^\d+\.\d{2}$", "example": "10000.00"}
SCORE = {
    "type": "string",
    "nullable": True,
    "pattern": r"^-?\d+\.\d{2}$",
    "description": "Décimal arrondi au centième (chaîne).",
}
CALL_ID = {
    "name": "call_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer"},
    "description": "Identifiant de l'appel.",
}
APPLICATION_ID = {
    "name": "application_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer"},
    "description": "Identifiant du dossier.",
}
SORT = {
    "name": "sort",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "enum": list(rules.SORT_KEYS), "default": rules.DEFAULT_SORT},
    "description": "Tri : note, note normalisée, montant demandé ou référence.",
}
INVALID = json_response(
    "Saisie invalide : `error.fields` donne les messages (en français) par champ.", ref("Error")
)
BAD_BODY = json_response("Le corps n'est pas un objet JSON.", ref("Error"))

SESSION = schema(
    "CommitteeSession",
    {
        "type": "object",
        "required": ["id", "call_id", "held_on", "members_present", "deliberation_ref"],
        "properties": {
            "id": {"type": "integer"},
            "call_id": {"type": "integer"},
            "held_on": {"type": "string", "format": "date"},
            "members_present": {"type": "array", "items": {"type": "string"}},
            "deliberation_ref": {"type": "string", "description": "Numéro de délibération."},
        },
    },
)
SESSION_INPUT = schema(
    "CommitteeSessionInput",
    {
        "type": "object",
        "required": ["held_on", "members_present"],
        "properties": {
            "held_on": {"type": "string", "format": "date"},
            "members_present": {"type": "array", "items": {"type": "string"}},
            "deliberation_ref": {"type": "string", "maxLength": 80},
        },
    },
)
AGGREGATE = {
    "type": "object",
    "properties": {
        "count": {"type": "integer", "description": "Avis rendus."},
        "required": {"type": "integer", "description": "Avis requis par l'appel."},
        "score": {**SCORE, "description": "Moyenne sur 100 des avis rendus."},
        "std_dev": {**SCORE, "description": "Écart type de population des avis rendus."},
        "spread": {**SCORE, "description": "Écart entre la meilleure et la moins bonne note."},
        "disagreement": {
            "type": "boolean",
            "description": f"Écart de plus de {rules.DISAGREEMENT_THRESHOLD} points sur 100.",
        },
        "normalised": {**SCORE, "description": "Moyenne des scores z par évaluateur."},
    },
}
RUNNING_YEAR = {
    "type": "object",
    "properties": {
        "year": {"type": "integer"},
        "requested": MONEY,
        "cumulative": MONEY,
        "envelope": MONEY,
        "over": {"type": "boolean", "description": "Le cumul dépasse l'enveloppe de l'année."},
        "runs_out": {"type": "boolean", "description": "L'enveloppe est dépassée à ce dossier."},
    },
}
DECISION_SUMMARY = {
    "type": "object",
    "nullable": True,
    "properties": {
        "outcome": {"type": "string", "enum": [o.value for o in Outcome]},
        "outcome_label": {"type": "string"},
        "awarded_total": {**MONEY, "nullable": True},
        "reason": {"type": "string"},
        "decided_at": {"type": "string", "format": "date-time"},
        "session": {"type": "string"},
    },
}
RANKING = schema(
    "Ranking",
    {
        "type": "object",
        "properties": {
            "call_id": {"type": "integer"},
            "sort": {"type": "string"},
            "envelopes": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"year": {"type": "integer"}, "envelope": MONEY},
                },
            },
            "envelope_total": MONEY,
            "awarded_total": MONEY,
            "disagreement_threshold": MONEY,
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "rank": {"type": "integer"},
                        "application_id": {"type": "integer"},
                        "reference": {"type": "string", "nullable": True},
                        "organisation": {"type": "string"},
                        "title": {"type": "string"},
                        "status": {"type": "string"},
                        **AGGREGATE["properties"],
                        "requested": {"type": "array", "items": RUNNING_YEAR},
                        "requested_total": MONEY,
                        "cumulative_total": MONEY,
                        "over_total": {"type": "boolean"},
                        "decision": DECISION_SUMMARY,
                    },
                },
            },
        },
    },
)
SCORES = schema(
    "ApplicationScores",
    {
        "type": "object",
        "properties": {
            "application_id": {"type": "integer"},
            **AGGREGATE["properties"],
            "criteria": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "label": {"type": "string"},
                        "weight": {"type": "integer"},
                        "scale_max": {"type": "integer"},
                    },
                },
            },
            "reviews": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "reviewer": {
                            "type": "object",
                            "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
                        },
                        "status": {"type": "string"},
                        "opinion": {"type": "string", "nullable": True},
                        "summary": {"type": "string"},
                        "score": SCORE,
                        "scores": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "criterion_id": {"type": "integer"},
                                    "score": {"type": "integer"},
                                    "comment": {"type": "string"},
                                },
                            },
                        },
                    },
                },
            },
        },
    },
)
DECISION = schema(
    "Decision",
    {
        "type": "object",
        "required": ["application_id", "outcome", "reason", "decided_at"],
        "properties": {
            "application_id": {"type": "integer"},
            "outcome": {"type": "string", "enum": [o.value for o in Outcome]},
            "outcome_label": {"type": "string"},
            "awarded_total": {**MONEY, "nullable": True},
            "reason": {"type": "string", "description": "Le motif communiqué au porteur."},
            "decided_at": {"type": "string", "format": "date-time"},
            "shared_reviews": {
                "type": "array",
                "description": "Commentaires anonymisés, si l'appel les partage.",
                "items": {
                    "type": "object",
                    "properties": {
                        "label": {"type": "string", "example": "Évaluateur 1"},
                        "summary": {"type": "string"},
                        "comments": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "criterion": {"type": "string"},
                                    "comment": {"type": "string"},
                                },
                            },
                        },
                    },
                },
            },
            "session": {**SESSION, "nullable": True, "description": "Agents seulement."},
            "decided_by": {
                "type": "object",
                "nullable": True,
                "description": "Agents seulement.",
                "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
            },
        },
    },
)
DECISION_INPUT = schema(
    "DecisionInput",
    {
        "type": "object",
        "required": ["outcome", "session_id"],
        "properties": {
            "outcome": {"type": "string", "enum": [o.value for o in Outcome]},
            "awarded_total": {
                "oneOf": [{"type": "string"}, {"type": "number"}],
                "description": "Retenu : montant attribué (> 0, au plus le montant demandé).",
            },
            "reason": {"type": "string", "description": "Obligatoire pour un refus."},
            "session_id": {"type": "integer", "description": "La séance du comité de l'appel."},
            "override_reason": {
                "type": "string",
                "description": "Motif pour décider sans tous les avis requis (journal d'audit).",
            },
        },
    },
)


# --- helpers ------------------------------------------------------------------------------


def _is_staff() -> bool:
    return bool(current_user.is_authenticated and current_user.is_staff)


def _forbidden():
    return api_error(403, "Action interdite", "Réservé aux agents du service.")


def _not_found(message: str):
    return api_error(404, "Ressource introuvable", message)


def _payload() -> dict | None:
    try:
        data = json.loads(request.get_data(as_text=True) or "null", parse_float=Decimal)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _bad_body():
    return api_error(400, "Requête invalide", "Envoyez un objet JSON.")


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(Decimal(value).quantize(rules.CENT))


def _score(value: Decimal | None) -> str | None:
    return None if value is None else str(rules.display(value))


def _error(exc: operations.DecisionError):
    if isinstance(exc, operations.EnvelopeExceeded):
        return api_error(409, "Enveloppe dépassée", exc.message, exc.fields)
    if exc.status == 403:
        return api_error(403, "Action interdite", exc.message)
    if exc.fields:
        return api_error(exc.status, "Saisie invalide", exc.message, exc.fields)
    return api_error(exc.status, "Action impossible", exc.message)


def _load_application(application_id: int):
    application = queries.get_application(application_id)
    if application is None or not application.can_view(current_user):
        return None
    return application


def _session_json(session: CommitteeSession) -> dict:
    return {
        "id": session.id,
        "call_id": session.call_id,
        "held_on": session.held_on.isoformat(),
        "members_present": list(session.members_present or []),
        "deliberation_ref": session.deliberation_ref,
    }


def _aggregate_json(aggregate: rules.Aggregate, required: int, normalised) -> dict:
    return {
        "count": aggregate.count,
        "required": required,
        "score": _score(aggregate.mean),
        "std_dev": _score(aggregate.std_dev),
        "spread": _score(aggregate.spread),
        "disagreement": aggregate.disagreement,
        "normalised": _score(normalised),
    }


def decision_json(decision: Decision, application, staff: bool) -> dict:
    data = {
        "application_id": decision.application_id,
        "outcome": decision.outcome.value,
        "outcome_label": decision.outcome.label,
        "awarded_total": _money(decision.awarded_total),
        "reason": decision.reason,
        "decided_at": decision.decided_at.isoformat(),
        "shared_reviews": [
            {
                "label": review.label,
                "summary": review.summary,
                "comments": [{"criterion": c, "comment": t} for c, t in review.comments],
            }
            for review in (
                queries.shared_reviews(application)
                if application.call.share_review_comments
                else []
            )
        ],
    }
    if staff:
        data["session"] = _session_json(decision.session) if decision.session else None
        data["decided_by"] = (
            {"id": decision.decided_by.id, "name": decision.decided_by.display_name}
            if decision.decided_by
            else None
        )
    return data


# --- routes -------------------------------------------------------------------------------


@bp.get("/calls/<int:call_id>/ranking")
@operation(
    "/calls/{call_id}/ranking",
    "get",
    {
        "summary": "Le classement des dossiers recevables d'un appel (agents)",
        "description": "Notes (moyenne sur 100, écart type, nombre d'avis, désaccord, note "
        "normalisée), montants demandés par année et cumuls face aux enveloppes, décisions.",
        "tags": TAGS,
        "parameters": [CALL_ID, SORT],
        "responses": {"200": json_response("Le classement.", RANKING)},
    },
)
def decisions_call_ranking(call_id: int):
    if not _is_staff():
        return _forbidden()
    call = queries.get_call(call_id)
    if call is None:
        return _not_found("Cet appel n'existe pas.")
    ranking = queries.ranking(call, request.args.get("sort", rules.DEFAULT_SORT))
    items = []
    for row in ranking.rows:
        running = row.running
        decision = row.decision
        items.append(
            {
                "rank": row.rank,
                "application_id": row.id,
                "reference": row.reference,
                "organisation": row.organisation,
                "title": row.title,
                "status": row.status.value,
                "count": row.review_count,
                "required": row.reviews_required,
                "score": _score(row.score),
                "std_dev": _score(row.std_dev),
                "spread": _score(row.spread),
                "disagreement": row.disagreement,
                "normalised": _score(row.normalised),
                "requested": [
                    {
                        "year": y.year,
                        "requested": _money(row.requested.get(y.year, rules.ZERO)),
                        "cumulative": _money(y.cumulative),
                        "envelope": _money(y.envelope),
                        "over": y.over,
                        "runs_out": y.runs_out,
                    }
                    for y in running.years
                ],
                "requested_total": _money(row.requested_total),
                "cumulative_total": _money(running.cumulative_total),
                "over_total": running.over_total,
                "decision": (
                    {
                        "outcome": decision.outcome.value,
                        "outcome_label": decision.outcome.label,
                        "awarded_total": _money(decision.awarded_total),
                        "reason": decision.reason,
                        "decided_at": decision.decided_at.isoformat(),
                        "session": decision.session_label,
                    }
                    if decision
                    else None
                ),
            }
        )
    return jsonify(
        {
            "call_id": call.id,
            "sort": ranking.sort,
            "envelopes": [
                {"year": y, "envelope": _money(ranking.envelopes[y])} for y in ranking.years
            ],
            "envelope_total": _money(ranking.envelope_total),
            "awarded_total": _money(ranking.awarded_total),
            "disagreement_threshold": _money(rules.DISAGREEMENT_THRESHOLD),
            "items": items,
        }
    )


@bp.get("/applications/<int:application_id>/scores")
@operation(
    "/applications/{application_id}/scores",
    "get",
    {
        "summary": "Les avis et notes d'un dossier (agents)",
        "description": "Chaque évaluation (évaluateur, état, notes par critère, note sur 100) "
        "et l'agrégat des avis rendus.",
        "tags": TAGS,
        "parameters": [APPLICATION_ID],
        "responses": {"200": json_response("Les notes du dossier.", SCORES)},
    },
)
def decisions_application_scores(application_id: int):
    application = _load_application(application_id)
    if application is None:
        return _not_found("Ce dossier n'existe pas.")
    if not _is_staff():
        return _forbidden()
    scores = queries.file_scores(application)
    return jsonify(
        {
            "application_id": application.id,
            **_aggregate_json(scores.aggregate, scores.reviews_required, scores.normalised),
            "criteria": [
                {"id": c.id, "label": c.label, "weight": c.weight, "scale_max": c.scale_max}
                for c in scores.criteria
            ],
            "reviews": [
                {
                    "id": review.id,
                    "reviewer": {"id": review.reviewer_id, "name": review.reviewer.display_name},
                    "status": review.status.value,
                    "opinion": review.opinion.value if review.opinion else None,
                    "summary": review.summary,
                    "score": _score(scores.review_scores[review.id]),
                    "scores": [
                        {"criterion_id": s.criterion_id, "score": s.score, "comment": s.comment}
                        for s in sorted(review.scores, key=lambda s: s.criterion_id)
                    ],
                }
                for review in scores.reviews
            ],
        }
    )


@bp.get("/calls/<int:call_id>/sessions")
@operation(
    "/calls/{call_id}/sessions",
    "get",
    {
        "summary": "Les séances du comité d'un appel (agents)",
        "tags": TAGS,
        "parameters": [CALL_ID],
        "responses": {
            "200": json_response(
                "Les séances, la plus récente d'abord.",
                {"type": "object", "properties": {"items": {"type": "array", "items": SESSION}}},
            )
        },
    },
)
def decisions_call_sessions(call_id: int):
    if not _is_staff():
        return _forbidden()
    if queries.get_call(call_id) is None:
        return _not_found("Cet appel n'existe pas.")
    return jsonify({"items": [_session_json(s) for s, _n in queries.sessions_of(call_id)]})


@bp.post("/calls/<int:call_id>/sessions")
@operation(
    "/calls/{call_id}/sessions",
    "post",
    {
        "summary": "Enregistrer une séance du comité (agents)",
        "tags": TAGS,
        "parameters": [CALL_ID],
        "requestBody": json_body(SESSION_INPUT),
        "responses": {
            "201": json_response("La séance enregistrée.", SESSION),
            "400": BAD_BODY,
            "409": json_response("L'appel n'admet pas de séance.", ref("Error")),
            "422": INVALID,
        },
    },
)
def decisions_create_session(call_id: int):
    if not _is_staff():
        return _forbidden()
    call = queries.get_call(call_id)
    if call is None:
        return _not_found("Cet appel n'existe pas.")
    payload = _payload()
    if payload is None:
        return _bad_body()
    errors: dict[str, list[str]] = {}
    held_on = None
    try:
        held_on = date.fromisoformat(str(payload.get("held_on") or ""))
    except ValueError:
        errors["held_on"] = ["Indiquez la date de la séance (AAAA-MM-JJ)."]
    members = payload.get("members_present") or []
    if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
        errors["members_present"] = ["Donnez la liste des membres présents (des textes)."]
        members = []
    deliberation_ref = payload.get("deliberation_ref") or ""
    if not isinstance(deliberation_ref, str):
        errors["deliberation_ref"] = ["Le numéro de délibération est un texte."]
        deliberation_ref = ""
    if errors:
        return api_error(422, "Saisie invalide", "Corrigez les champs signalés.", errors)
    try:
        session = operations.create_session(call, current_user, held_on, members, deliberation_ref)
    except operations.DecisionError as exc:
        db.session.rollback()
        return _error(exc)
    db.session.commit()
    response = jsonify(_session_json(session))
    response.status_code = 201
    return response


@bp.post("/applications/<int:application_id>/decision")
@operation(
    "/applications/{application_id}/decision",
    "post",
    {
        "summary": "Décider sur un dossier (agents)",
        "description": "Retenir (avec le montant attribué), ne pas retenir (avec le motif) ou "
        "mettre en liste d'attente, lors d'une séance du comité. Une acceptation qui "
        "dépasserait l'enveloppe totale de l'appel est refusée (409), même quand deux agents "
        "acceptent au même moment.",
        "tags": TAGS,
        "parameters": [APPLICATION_ID],
        "requestBody": json_body(DECISION_INPUT),
        "responses": {
            "200": json_response("La décision enregistrée.", DECISION),
            "400": BAD_BODY,
            "409": json_response(
                "Enveloppe dépassée, ou l'état du dossier ne permet pas de décider.",
                ref("Error"),
            ),
            "422": INVALID,
        },
    },
)
def decisions_decide(application_id: int):
    application = _load_application(application_id)
    if application is None:
        return _not_found("Ce dossier n'existe pas.")
    if not _is_staff():
        return _forbidden()
    payload = _payload()
    if payload is None:
        return _bad_body()
    errors: dict[str, list[str]] = {}
    try:
        outcome = Outcome(payload.get("outcome"))
    except ValueError:
        outcome = None
        errors["outcome"] = ["Choisissez une décision : accepted, rejected ou waitlisted."]
    amount = None
    if payload.get("awarded_total") not in (None, ""):
        try:
            amount = parse_amount(payload["awarded_total"])
        except (ValueError, TypeError) as exc:
            errors["awarded_total"] = [str(exc)]
    session_id = payload.get("session_id")
    if session_id is not None and (isinstance(session_id, bool) or not isinstance(session_id, int)):
        errors["session_id"] = ["Donnez l'identifiant (entier) de la séance."]
        session_id = None
    texts = {}
    for name in ("reason", "override_reason"):
        value = payload.get(name) or ""
        if not isinstance(value, str):
            errors[name] = ["Ce champ est un texte."]
            value = ""
        texts[name] = value
    if errors:
        return api_error(422, "Saisie invalide", "Corrigez les champs signalés.", errors)
    data = operations.DecisionInput(
        outcome=outcome,
        awarded_total=amount,
        reason=texts["reason"],
        session_id=session_id,
        override_reason=texts["override_reason"],
    )
    try:
        decision, _message = operations.decide(application, current_user, data)
    except operations.DecisionError as exc:
        db.session.rollback()
        return _error(exc)
    db.session.commit()
    decision = queries.get_decision(application.id)
    return jsonify(decision_json(decision, application, staff=True))


@bp.get("/applications/<int:application_id>/decision")
@operation(
    "/applications/{application_id}/decision",
    "get",
    {
        "summary": "La décision du comité sur un dossier",
        "description": "Les membres de la structure lisent la décision, le montant, le motif "
        "et la date (et les commentaires anonymisés si l'appel les partage) ; les agents "
        "aussi la séance et l'auteur.",
        "tags": TAGS,
        "parameters": [APPLICATION_ID],
        "responses": {"200": json_response("La décision.", DECISION)},
    },
)
def decisions_get_decision(application_id: int):
    application = _load_application(application_id)
    if application is None:
        return _not_found("Ce dossier n'existe pas.")
    decision = queries.get_decision(application.id)
    if decision is None:
        return _not_found("Aucune décision n'a encore été prise sur ce dossier.")
    return jsonify(decision_json(decision, application, staff=_is_staff()))
