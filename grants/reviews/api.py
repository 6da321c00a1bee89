"""Reviews in the JSON API: the same rights and French messages as the pages.

Staff manage a call's pool, assign (by hand — 409 with the reason on a declared conflict,
likely conflicts returned as warnings — or automatically), unassign and reopen. A
reviewer reads and scores their own reviews, declares conflicts and links. A review the
user may not see (not theirs, or a file they are in conflict on) answers 404; other
reviewers' reviews appear only once one's own is submitted. Input errors answer 422 with
``error.fields``: ``score_<criterion_id>``, ``comment_<criterion_id>``, ``opinion``,
``summary``, ``reason``, ``reviewer_id``, ``due_on``…
"""

from __future__ import annotations

from datetime import date

from flask import jsonify, request, url_for
from flask_login import current_user

from grants.accounts.models import User
from grants.api.openapi import json_body, json_response, operation, ref, schema
from grants.api.views import api_error, bp
from grants.applications import queries as application_queries
from grants.applications.models import Attachment
from grants.core.enums import Role
from grants.core.permissions import has_role
from grants.extensions import db
from grants.organisations.models import Organisation
from grants.reviews import operations, queries
from grants.reviews.models import (
    LINK_KIND_LABELS,
    LinkKind,
    Opinion,
    Review,
    ReviewerLink,
    ReviewStatus,
)

TAGS = ["Évaluations"]


def _id_param(name: str, description: str) -> dict:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "integer"},
        "description": description,
    }


CALL_ID = _id_param("call_id", "Identifiant de l'appel.")
APPLICATION_ID = _id_param("application_id", "Identifiant du dossier.")
REVIEW_ID = _id_param("review_id", "Identifiant de l'évaluation (affectation).")
REVIEWER_ID = _id_param("reviewer_id", "Identifiant de l'utilisateur évaluateur.")
LINK_ID = _id_param("link_id", "Identifiant du lien déclaré.")
ATTACHMENT_ID = _id_param("attachment_id", "Identifiant de la pièce jointe.")

INVALID = json_response(
    "Saisie invalide : `error.fields` donne les messages (en français) par champ.", ref("Error")
)
CONFLICT = json_response(
    "Action impossible dans l'état actuel (ou conflit d'intérêts déclaré).", ref("Error")
)
DATE = {"type": "string", "format": "date", "nullable": True}

SCORE = schema(
    "ReviewScore",
    {
        "type": "object",
        "required": ["criterion_id", "score"],
        "properties": {
            "criterion_id": {"type": "integer"},
            "score": {"type": "integer", "minimum": 0, "nullable": True},
            "comment": {"type": "string"},
        },
    },
)
CRITERION = schema(
    "GridCriterion",
    {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "label": {"type": "string"},
            "description": {"type": "string"},
            "weight": {"type": "integer"},
            "scale_max": {"type": "integer"},
        },
    },
)
WARNING = schema(
    "ConflictWarning",
    {
        "type": "object",
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        "description": "Conflit d'intérêts probable, avec sa raison.",
    },
)
_REVIEW_PROPERTIES = {
    "id": {"type": "integer"},
    "application_id": {"type": "integer"},
    "reviewer_id": {"type": "integer"},
    "status": {"type": "string", "enum": [s.value for s in ReviewStatus]},
    "status_label": {"type": "string"},
    "due_on": DATE,
    "late": {"type": "boolean"},
    "assigned_at": {"type": "string", "format": "date-time"},
    "submitted_at": {"type": "string", "format": "date-time", "nullable": True},
    "opinion": {"type": "string", "enum": [o.value for o in Opinion], "nullable": True},
    "summary": {"type": "string"},
    "reopened_reason": {"type": "string", "nullable": True},
    "scores": {"type": "array", "items": SCORE},
}
REVIEW = schema(
    "Review",
    {
        "type": "object",
        "required": ["id", "application_id", "status"],
        "properties": {
            **_REVIEW_PROPERTIES,
            "reviewer": {
                "type": "object",
                "description": "Pour le service seulement.",
                "properties": {
                    "id": {"type": "integer"},
                    "email": {"type": "string"},
                    "full_name": {"type": "string"},
                },
            },
            "application": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "reference": {"type": "string", "nullable": True},
                    "title": {"type": "string"},
                    "call_id": {"type": "integer"},
                    "call_title": {"type": "string"},
                    "organisation_name": {"type": "string"},
                    "status": {"type": "string"},
                },
            },
            "grid": {"type": "array", "items": CRITERION},
            "file": {
                "type": "object",
                "description": "Le dossier complet, en lecture seule (évaluation seule).",
            },
            "other_reviews": {
                "type": "array",
                "description": "Les évaluations rendues des autres évaluateurs (anonymes) — "
                "présentes seulement une fois la sienne rendue.",
                "items": {
                    "type": "object",
                    "properties": {
                        k: _REVIEW_PROPERTIES[k]
                        for k in ("status", "submitted_at", "opinion", "summary", "scores")
                    },
                },
            },
        },
    },
)
REVIEW_LIST = schema(
    "ReviewList",
    {
        "type": "object",
        "required": ["items", "page", "per_page", "total"],
        "properties": {
            "items": {"type": "array", "items": ref("Review")},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
            "total": {"type": "integer"},
        },
    },
)
REVIEW_PATCH = schema(
    "ReviewPatch",
    {
        "type": "object",
        "additionalProperties": False,
        "description": "Les champs à modifier (évaluation non rendue) ; une note `null` "
        "l'efface. Tout ou rien : avec une erreur, rien n'est enregistré.",
        "properties": {
            "scores": {"type": "array", "items": SCORE},
            "opinion": {"type": "string", "enum": [o.value for o in Opinion], "nullable": True},
            "summary": {"type": "string"},
        },
    },
)
REASON = schema(
    "ReasonInput",
    {
        "type": "object",
        "required": ["reason"],
        "properties": {"reason": {"type": "string", "maxLength": operations.MAX_REASON}},
    },
)
POOL_MEMBER = schema(
    "PoolMember",
    {
        "type": "object",
        "properties": {
            "reviewer_id": {"type": "integer"},
            "email": {"type": "string"},
            "full_name": {"type": "string"},
            "assigned": {"type": "integer", "description": "Évaluations confiées sur l'appel."},
            "submitted": {"type": "integer"},
        },
    },
)
POOL_INPUT = schema(
    "PoolInput",
    {
        "type": "object",
        "required": ["reviewer_id"],
        "properties": {"reviewer_id": {"type": "integer"}},
    },
)
ASSIGN_INPUT = schema(
    "AssignmentInput",
    {
        "type": "object",
        "required": ["reviewer_id"],
        "properties": {"reviewer_id": {"type": "integer"}, "due_on": DATE},
    },
)
ASSIGNMENT = schema(
    "Assignment",
    {
        "type": "object",
        "properties": {"review": ref("Review"), "warnings": {"type": "array", "items": WARNING}},
    },
)
AUTO_INPUT = schema("AutoAssignInput", {"type": "object", "properties": {"due_on": DATE}})
AUTO_RESULT = schema(
    "AutoAssignResult",
    {
        "type": "object",
        "properties": {
            "assigned": {"type": "integer"},
            "assignments": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "review_id": {"type": "integer"},
                        "application_id": {"type": "integer"},
                        "reviewer_id": {"type": "integer"},
                    },
                },
            },
            "shortfalls": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "application_id": {"type": "integer"},
                        "reference": {"type": "string", "nullable": True},
                        "required": {"type": "integer"},
                        "assigned": {"type": "integer"},
                        "message": {"type": "string"},
                    },
                },
            },
        },
    },
)
CONFLICT_RESULT = schema(
    "ConflictResult",
    {
        "type": "object",
        "properties": {
            "application_id": {"type": "integer"},
            "reassigned": {
                "type": "boolean",
                "description": "Le dossier a été confié à un autre évaluateur du vivier.",
            },
        },
    },
)
LINK = schema(
    "ReviewerLink",
    {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "organisation_id": {"type": "integer", "nullable": True},
            "organisation_name": {"type": "string"},
            "kind": {"type": "string", "enum": [k.value for k in LinkKind]},
            "kind_label": {"type": "string"},
            "note": {"type": "string"},
            "declared_at": {"type": "string", "format": "date-time"},
        },
    },
)
LINK_INPUT = schema(
    "ReviewerLinkInput",
    {
        "type": "object",
        "required": ["kind"],
        "description": "Une structure inscrite (`organisation_id`) ou nommée "
        "(`organisation_name`, par exemple un cofinanceur).",
        "properties": {
            "organisation_id": {"type": "integer"},
            "organisation_name": {"type": "string", "maxLength": 200},
            "kind": {"type": "string", "enum": [k.value for k in LinkKind]},
            "note": {"type": "string", "maxLength": 500},
        },
    },
)


# --- Helpers ------------------------------------------------------------------------------


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _bad_body():
    return api_error(400, "Requête invalide", "Envoyez un objet JSON.")


def _not_found(what: str = "Cette évaluation n'existe pas."):
    return api_error(404, "Ressource introuvable", what)


def _forbidden(what: str = "Action réservée au service."):
    return api_error(403, "Action interdite", what)


def _invalid(fields: dict):
    return api_error(422, "Saisie invalide", "Corrigez les champs signalés.", fields)


def _error(exc: operations.ReviewError):
    titles = {403: "Action interdite", 404: "Ressource introuvable", 409: "Action impossible"}
    if exc.fields:
        title = "Saisie invalide" if exc.status == 422 else titles.get(exc.status, "Refusé")
        return api_error(exc.status, title, exc.message, exc.fields)
    return api_error(exc.status, titles.get(exc.status, "Action impossible"), exc.message)


def _payload() -> dict | None:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else None


def _is_staff() -> bool:
    return bool(current_user.is_staff)


def _is_reviewer() -> bool:
    return has_role(current_user, Role.reviewer)


def _date(payload: dict, name: str, errors: dict) -> date | None:
    value = payload.get(name)
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        errors[name] = ["Une date AAAA-MM-JJ est attendue."]
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors[name] = ["Une date AAAA-MM-JJ est attendue."]
        return None


def _int(payload: dict, name: str, errors: dict, message: str) -> int | None:
    value = payload.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        errors[name] = [message]
        return None
    return value


def _score_json(score) -> dict:
    return {"criterion_id": score.criterion_id, "score": score.score, "comment": score.comment}


def review_json(review: Review, *, detail: bool = False, staff: bool = False) -> dict:
    application = review.application
    data = {
        "id": review.id,
        "application_id": review.application_id,
        "reviewer_id": review.reviewer_id,
        "status": review.status.value,
        "status_label": review.status.label,
        "due_on": _iso(review.due_on),
        "late": queries.is_late(review),
        "assigned_at": _iso(review.assigned_at),
        "submitted_at": _iso(review.submitted_at),
        "opinion": review.opinion.value if review.opinion else None,
        "summary": review.summary or "",
        "reopened_reason": review.reopened_reason,
        "scores": [_score_json(s) for s in sorted(review.scores, key=lambda s: s.criterion_id)],
        "application": {
            "id": application.id,
            "reference": application.reference,
            "title": application.title,
            "call_id": application.call_id,
            "call_title": application.call.title,
            "organisation_name": application.organisation.name,
            "status": application.status.value,
        },
    }
    if staff:
        data["reviewer"] = {
            "id": review.reviewer.id,
            "email": review.reviewer.email,
            "full_name": review.reviewer.full_name,
        }
    if detail:
        data["grid"] = [
            {
                "id": c.id,
                "label": c.label,
                "description": c.description,
                "weight": c.weight,
                "scale_max": c.scale_max,
            }
            for c in queries.grid(application.call_id)
        ]
        if review.status == ReviewStatus.submitted or staff:
            data["other_reviews"] = [
                {
                    "status": other.status.value,
                    "submitted_at": _iso(other.submitted_at),
                    "opinion": other.opinion.value if other.opinion else None,
                    "summary": other.summary or "",
                    "scores": [_score_json(s) for s in other.scores],
                }
                for other in queries.other_submitted_reviews(review)
            ]
        if review.is_reviewer(current_user):
            data["file"] = _file_json(review)
    return data


def _file_json(review: Review) -> dict:
    """The file, read-only, with attachments downloadable through the review."""
    from grants.applications.api import application_json

    application = application_queries.get_application(review.application_id)
    data = application_json(application)
    for name in ("eligibility_problems", "complement_requests", "receipt_url", "editable"):
        data.pop(name, None)
    for item in data.get("attachments", []):
        item["url"] = url_for(
            "api.reviews_attachment", review_id=review.id, attachment_id=item["id"]
        )
    return data


def _own(review_id: int) -> Review | None:
    return queries.visible_review(review_id, current_user)


def _readable(review_id: int) -> Review | None:
    """Own (not conflicted) review, or any review for staff."""
    review = _own(review_id)
    if review is None and _is_staff():
        review = queries.get_review(review_id)
    return review


# --- Staff: pool --------------------------------------------------------------------------


def _pool_json(call_id: int) -> list[dict]:
    loads = queries.loads(call_id)
    result = []
    for member in queries.pool(call_id):
        load = loads.get(member.reviewer_id)
        result.append(
            {
                "reviewer_id": member.reviewer_id,
                "email": member.reviewer.email,
                "full_name": member.reviewer.full_name,
                "assigned": load.total if load else 0,
                "submitted": load.submitted if load else 0,
            }
        )
    return result


POOL_LIST = {"type": "array", "items": POOL_MEMBER}


@bp.get("/calls/<int:call_id>/reviewers")
@operation(
    "/calls/{call_id}/reviewers",
    "get",
    {
        "summary": "Le vivier d'évaluateurs d'un appel, avec leur charge (service)",
        "tags": TAGS,
        "parameters": [CALL_ID],
        "responses": {"200": json_response("Les évaluateurs du vivier.", POOL_LIST)},
    },
)
def reviews_pool_list(call_id: int):
    if not _is_staff():
        return _forbidden()
    call = queries.get_call(call_id)
    if call is None:
        return _not_found("Cet appel n'existe pas.")
    return jsonify(_pool_json(call.id))


@bp.post("/calls/<int:call_id>/reviewers")
@operation(
    "/calls/{call_id}/reviewers",
    "post",
    {
        "summary": "Ajouter un évaluateur au vivier d'un appel (service)",
        "tags": TAGS,
        "parameters": [CALL_ID],
        "requestBody": json_body(POOL_INPUT),
        "responses": {
            "201": json_response("Ajouté ; le vivier.", POOL_LIST),
            "200": json_response("Déjà dans le vivier ; le vivier.", POOL_LIST),
            "422": INVALID,
        },
    },
)
def reviews_pool_add(call_id: int):
    if not _is_staff():
        return _forbidden()
    call = queries.get_call(call_id)
    if call is None:
        return _not_found("Cet appel n'existe pas.")
    payload = _payload()
    if payload is None:
        return _bad_body()
    errors: dict = {}
    reviewer_id = _int(payload, "reviewer_id", errors, "Un identifiant d'utilisateur est attendu.")
    if errors:
        return _invalid(errors)
    reviewer = db.session.get(User, reviewer_id)
    if reviewer is None:
        return _invalid({"reviewer_id": ["Cet utilisateur n'existe pas."]})
    try:
        added = operations.add_to_pool(call, current_user, reviewer)
    except operations.ReviewError as exc:
        db.session.rollback()
        return _error(exc)
    db.session.commit()
    return jsonify(_pool_json(call.id)), 201 if added else 200


@bp.delete("/calls/<int:call_id>/reviewers/<int:reviewer_id>")
@operation(
    "/calls/{call_id}/reviewers/{reviewer_id}",
    "delete",
    {
        "summary": "Retirer un évaluateur du vivier (ses évaluations restent) (service)",
        "tags": TAGS,
        "parameters": [CALL_ID, REVIEWER_ID],
        "responses": {"204": {"description": "Retiré."}},
    },
)
def reviews_pool_remove(call_id: int, reviewer_id: int):
    if not _is_staff():
        return _forbidden()
    call = queries.get_call(call_id)
    reviewer = db.session.get(User, reviewer_id)
    if call is None or reviewer is None:
        return _not_found("Cet évaluateur n'est pas dans le vivier de cet appel.")
    if not operations.remove_from_pool(call, current_user, reviewer):
        return _not_found("Cet évaluateur n'est pas dans le vivier de cet appel.")
    db.session.commit()
    return "", 204


@bp.post("/calls/<int:call_id>/auto-assign")
@operation(
    "/calls/{call_id}/auto-assign",
    "post",
    {
        "summary": "Affecter automatiquement les dossiers de l'appel au vivier (service)",
        "description": "Chaque dossier déposé ou en instruction reçoit les évaluations "
        "requises par l'appel ; charge équilibrée à un dossier près ; jamais de conflit "
        "d'intérêts déclaré ou probable. `shortfalls` liste les dossiers qui n'ont pas pu "
        "être complétés.",
        "tags": TAGS,
        "parameters": [CALL_ID],
        "requestBody": {
            "required": False,
            "content": {"application/json": {"schema": AUTO_INPUT}},
        },
        "responses": {
            "200": json_response("Le résultat.", AUTO_RESULT),
            "409": CONFLICT,
            "422": INVALID,
        },
    },
)
def reviews_auto_assign(call_id: int):
    if not _is_staff():
        return _forbidden()
    call = queries.get_call(call_id)
    if call is None:
        return _not_found("Cet appel n'existe pas.")
    payload = _payload() if request.get_data() else {}
    if payload is None:
        return _bad_body()
    errors: dict = {}
    due_on = _date(payload, "due_on", errors)
    if errors:
        return _invalid(errors)
    try:
        result = operations.auto_assign_call(call, current_user, due_on)
    except operations.ReviewError as exc:
        db.session.rollback()
        return _error(exc)
    db.session.commit()
    return jsonify(
        {
            "assigned": len(result.reviews),
            "assignments": [
                {
                    "review_id": r.id,
                    "application_id": r.application_id,
                    "reviewer_id": r.reviewer_id,
                }
                for r in result.reviews
            ],
            "shortfalls": [
                {
                    "application_id": a.id,
                    "reference": a.reference,
                    "required": s.required,
                    "assigned": s.assigned,
                    "message": s.message,
                }
                for a, s in result.shortfalls
            ],
        }
    )


# --- Staff: assignments of a file ---------------------------------------------------------


@bp.get("/applications/<int:application_id>/assignments")
@operation(
    "/applications/{application_id}/assignments",
    "get",
    {
        "summary": "Les évaluations d'un dossier, notes comprises (service)",
        "tags": TAGS,
        "parameters": [APPLICATION_ID],
        "responses": {"200": json_response("Les évaluations.", {"type": "array", "items": REVIEW})},
    },
)
def reviews_assignments_list(application_id: int):
    if not _is_staff():
        return _forbidden()
    application = application_queries.get_application(application_id)
    if application is None:
        return _not_found("Ce dossier n'existe pas.")
    reviews = queries.reviews_of_application(application.id)
    return jsonify([review_json(r, staff=True) for r in reviews])


@bp.post("/applications/<int:application_id>/assignments")
@operation(
    "/applications/{application_id}/assignments",
    "post",
    {
        "summary": "Confier un dossier à un évaluateur (service)",
        "description": "Refusé (409, avec la raison) en cas de conflit d'intérêts déclaré ; "
        "un conflit probable est accepté et renvoyé dans `warnings`.",
        "tags": TAGS,
        "parameters": [APPLICATION_ID],
        "requestBody": json_body(ASSIGN_INPUT),
        "responses": {
            "201": json_response("L'évaluation créée et les avertissements.", ASSIGNMENT),
            "409": CONFLICT,
            "422": INVALID,
        },
    },
)
def reviews_assignments_create(application_id: int):
    if not _is_staff():
        return _forbidden()
    application = application_queries.get_application(application_id)
    if application is None:
        return _not_found("Ce dossier n'existe pas.")
    payload = _payload()
    if payload is None:
        return _bad_body()
    errors: dict = {}
    reviewer_id = _int(payload, "reviewer_id", errors, "Un identifiant d'utilisateur est attendu.")
    due_on = _date(payload, "due_on", errors)
    if errors:
        return _invalid(errors)
    reviewer = db.session.get(User, reviewer_id)
    if reviewer is None:
        return _invalid({"reviewer_id": ["Cet utilisateur n'existe pas."]})
    try:
        review, warnings = operations.assign(application, reviewer, current_user, due_on)
    except operations.ReviewError as exc:
        db.session.rollback()
        return _error(exc)
    db.session.commit()
    review = queries.get_review(review.id)
    response = jsonify(
        {
            "review": review_json(review, staff=True),
            "warnings": [{"code": w.code, "message": w.message} for w in warnings],
        }
    )
    response.status_code = 201
    return response


@bp.delete("/applications/<int:application_id>/assignments/<int:review_id>")
@operation(
    "/applications/{application_id}/assignments/{review_id}",
    "delete",
    {
        "summary": "Retirer une évaluation non rendue (service)",
        "tags": TAGS,
        "parameters": [APPLICATION_ID, REVIEW_ID],
        "responses": {"204": {"description": "Retirée."}, "409": CONFLICT},
    },
)
def reviews_assignments_delete(application_id: int, review_id: int):
    if not _is_staff():
        return _forbidden()
    review = queries.get_review(review_id)
    if review is None or review.application_id != application_id:
        return _not_found()
    try:
        operations.unassign(review, current_user)
    except operations.ReviewError as exc:
        db.session.rollback()
        return _error(exc)
    db.session.commit()
    return "", 204


# --- Reviewer: own reviews ----------------------------------------------------------------


@bp.get("/reviews")
@operation(
    "/reviews",
    "get",
    {
        "summary": "Mes évaluations (évaluateur)",
        "tags": TAGS,
        "parameters": [
            {
                "name": "status",
                "in": "query",
                "schema": {"type": "string", "enum": [s.value for s in ReviewStatus]},
            },
            {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
            {
                "name": "per_page",
                "in": "query",
                "schema": {"type": "integer", "minimum": 1, "maximum": 100},
            },
        ],
        "responses": {"200": json_response("Une page d'évaluations.", REVIEW_LIST)},
    },
)
def reviews_list():
    if not _is_reviewer():
        return _forbidden("Réservé aux évaluateurs.")
    query = queries.own_reviews_query(current_user)
    status = request.args.get("status", "")
    if status:
        if status not in {s.value for s in ReviewStatus}:
            return _invalid({"status": ["Choisissez une valeur dans la liste."]})
        query = query.where(Review.status == ReviewStatus(status))
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    per_page = min(max(request.args.get("per_page", 25, type=int) or 25, 1), 100)
    pagination = db.paginate(query, page=page, per_page=per_page, error_out=False)
    return jsonify(
        {
            "items": [review_json(r) for r in pagination.items],
            "page": page,
            "per_page": per_page,
            "total": pagination.total,
        }
    )


@bp.get("/reviews/<int:review_id>")
@operation(
    "/reviews/{review_id}",
    "get",
    {
        "summary": "Une de mes évaluations, avec le dossier et la grille",
        "tags": TAGS,
        "parameters": [REVIEW_ID],
        "responses": {"200": json_response("L'évaluation.", REVIEW)},
    },
)
def reviews_get(review_id: int):
    review = _readable(review_id) if (_is_reviewer() or _is_staff()) else None
    if review is None:
        return _not_found()
    return jsonify(
        review_json(review, detail=True, staff=_is_staff() and not review.is_reviewer(current_user))
    )


def _review_input(review: Review, payload: dict) -> tuple[operations.ReviewInput, dict]:
    errors: dict[str, list[str]] = {}
    data = operations.ReviewInput()
    for name in payload:
        if name not in {"scores", "opinion", "summary"}:
            errors[name] = ["Champ inconnu."]
    if "scores" in payload:
        rows = payload["scores"]
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            errors["scores"] = ["Une liste d'objets {criterion_id, score, comment} est attendue."]
        else:
            for n, row in enumerate(rows):
                cid = row.get("criterion_id")
                if isinstance(cid, bool) or not isinstance(cid, int):
                    errors[f"scores[{n}].criterion_id"] = ["Un identifiant de critère est attendu."]
                    continue
                if "score" in row:
                    score = row["score"]
                    if score is not None and (
                        isinstance(score, bool) or not isinstance(score, int)
                    ):
                        errors[f"score_{cid}"] = ["La note est un nombre entier."]
                    else:
                        data.scores[cid] = score
                if "comment" in row:
                    comment = row["comment"]
                    if comment is not None and not isinstance(comment, str):
                        errors[f"comment_{cid}"] = ["Une chaîne de caractères est attendue."]
                    else:
                        data.comments[cid] = comment or ""
    if "opinion" in payload:
        opinion = payload["opinion"]
        if opinion is not None and opinion not in {o.value for o in Opinion}:
            errors["opinion"] = ["Choisissez favourable, reserved ou unfavourable."]
        else:
            data.opinion = opinion
    if "summary" in payload:
        summary = payload["summary"]
        if summary is not None and not isinstance(summary, str):
            errors["summary"] = ["Une chaîne de caractères est attendue."]
        else:
            data.summary = summary or ""
    return data, errors


def _own_or_404(review_id: int):
    if not _is_reviewer():
        return None
    return _own(review_id)


@bp.patch("/reviews/<int:review_id>")
@operation(
    "/reviews/{review_id}",
    "patch",
    {
        "summary": "Enregistrer le brouillon de mon évaluation (tout ou rien)",
        "tags": TAGS,
        "parameters": [REVIEW_ID],
        "requestBody": json_body(REVIEW_PATCH),
        "responses": {
            "200": json_response("L'évaluation.", REVIEW),
            "409": CONFLICT,
            "422": INVALID,
        },
    },
)
def reviews_patch(review_id: int):
    review = _own_or_404(review_id)
    if review is None:
        return _not_found()
    payload = _payload()
    if payload is None:
        return _bad_body()
    data, errors = _review_input(review, payload)
    if errors:
        return _invalid(errors)
    try:
        operations.save_review(review, current_user, data)
    except operations.ReviewError as exc:
        db.session.rollback()
        return _error(exc)
    db.session.commit()
    return jsonify(review_json(queries.get_review(review_id), detail=True))


@bp.post("/reviews/<int:review_id>/submit")
@operation(
    "/reviews/{review_id}/submit",
    "post",
    {
        "summary": "Rendre mon évaluation (tous les critères notés, avis global) ; verrouillée",
        "tags": TAGS,
        "parameters": [REVIEW_ID],
        "responses": {
            "200": json_response("L'évaluation rendue.", REVIEW),
            "409": CONFLICT,
            "422": INVALID,
        },
    },
)
def reviews_submit(review_id: int):
    review = _own_or_404(review_id)
    if review is None:
        return _not_found()
    try:
        problems = operations.save_review(
            review, current_user, operations.ReviewInput(), submit=True
        )
    except operations.ReviewError as exc:
        db.session.rollback()
        return _error(exc)
    if problems:
        db.session.rollback()
        return api_error(422, "Évaluation incomplète", "Complétez les champs signalés.", problems)
    db.session.commit()
    return jsonify(review_json(queries.get_review(review_id), detail=True))


def _reason(payload: dict) -> tuple[str, dict]:
    reason = payload.get("reason", "")
    if not isinstance(reason, str):
        return "", {"reason": ["Une chaîne de caractères est attendue."]}
    return reason, {}


@bp.post("/reviews/<int:review_id>/conflict")
@operation(
    "/reviews/{review_id}/conflict",
    "post",
    {
        "summary": "Déclarer un conflit d'intérêts : le dossier m'est retiré et réaffecté",
        "tags": TAGS,
        "parameters": [REVIEW_ID],
        "requestBody": json_body(REASON),
        "responses": {
            "200": json_response("Conflit enregistré.", CONFLICT_RESULT),
            "409": CONFLICT,
            "422": INVALID,
        },
    },
)
def reviews_conflict(review_id: int):
    review = _own_or_404(review_id)
    if review is None:
        return _not_found()
    payload = _payload()
    if payload is None:
        return _bad_body()
    reason, errors = _reason(payload)
    if errors:
        return _invalid(errors)
    application_id = review.application_id
    try:
        result = operations.declare_conflict(review, current_user, reason)
    except operations.ReviewError as exc:
        db.session.rollback()
        return _error(exc)
    db.session.commit()
    return jsonify({"application_id": application_id, "reassigned": bool(result.reassigned)})


@bp.post("/reviews/<int:review_id>/reopen")
@operation(
    "/reviews/{review_id}/reopen",
    "post",
    {
        "summary": "Rouvrir une évaluation rendue, avec un motif (service)",
        "tags": TAGS,
        "parameters": [REVIEW_ID],
        "requestBody": json_body(REASON),
        "responses": {
            "200": json_response("L'évaluation rouverte.", REVIEW),
            "409": CONFLICT,
            "422": INVALID,
        },
    },
)
def reviews_reopen(review_id: int):
    if not _is_staff():
        return _forbidden()
    review = queries.get_review(review_id)
    if review is None:
        return _not_found()
    payload = _payload()
    if payload is None:
        return _bad_body()
    reason, errors = _reason(payload)
    if errors:
        return _invalid(errors)
    try:
        operations.reopen(review, current_user, reason)
    except operations.ReviewError as exc:
        db.session.rollback()
        return _error(exc)
    db.session.commit()
    return jsonify(review_json(queries.get_review(review_id), staff=True))


@bp.get("/reviews/<int:review_id>/attachments/<int:attachment_id>")
@operation(
    "/reviews/{review_id}/attachments/{attachment_id}",
    "get",
    {
        "summary": "Télécharger une pièce jointe du dossier de mon évaluation",
        "tags": TAGS,
        "parameters": [REVIEW_ID, ATTACHMENT_ID],
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
def reviews_attachment(review_id: int, attachment_id: int):
    from grants.core.files import send_stored_file
    from grants.core.storage import StoredFileNotFound

    review = _own_or_404(review_id)
    attachment = db.session.get(Attachment, attachment_id) if review else None
    if attachment is None or attachment.application_id != review.application_id:
        return _not_found("Cette pièce jointe n'existe pas.")
    try:
        return send_stored_file(
            attachment.storage_key, attachment.filename, attachment.content_type
        )
    except StoredFileNotFound:
        return _not_found("Le fichier de cette pièce jointe est introuvable.")


# --- Reviewer: declared links -------------------------------------------------------------


def link_json(link: ReviewerLink) -> dict:
    return {
        "id": link.id,
        "organisation_id": link.organisation_id,
        "organisation_name": link.organisation.name
        if link.organisation is not None
        else link.organisation_name,
        "kind": link.kind.value,
        "kind_label": LINK_KIND_LABELS[link.kind],
        "note": link.note,
        "declared_at": _iso(link.declared_at),
    }


LINK_LIST = {"type": "array", "items": LINK}


@bp.get("/me/links")
@operation(
    "/me/links",
    "get",
    {
        "summary": "Mes liens d'intérêts déclarés (évaluateur)",
        "tags": TAGS,
        "responses": {"200": json_response("Les liens.", LINK_LIST)},
    },
)
def reviews_links_list():
    if not _is_reviewer():
        return _forbidden("Réservé aux évaluateurs.")
    return jsonify([link_json(link) for link in queries.links_of(current_user.id)])


@bp.post("/me/links")
@operation(
    "/me/links",
    "post",
    {
        "summary": "Déclarer un lien avec une structure (évaluateur)",
        "description": "Les évaluations non rendues sur les dossiers de cette structure "
        "deviennent des conflits d'intérêts : elles sont retirées et réaffectées.",
        "tags": TAGS,
        "requestBody": json_body(LINK_INPUT),
        "responses": {
            "201": json_response("Le lien.", LINK),
            "409": CONFLICT,
            "422": INVALID,
        },
    },
)
def reviews_links_create():
    if not _is_reviewer():
        return _forbidden("Réservé aux évaluateurs.")
    payload = _payload()
    if payload is None:
        return _bad_body()
    errors: dict = {}
    organisation = None
    if payload.get("organisation_id") is not None:
        org_id = _int(
            payload, "organisation_id", errors, "Un identifiant de structure est attendu."
        )
        if org_id is not None:
            organisation = db.session.get(Organisation, org_id)
            if organisation is None:
                errors["organisation_id"] = ["Cette structure n'existe pas."]
    try:
        kind = LinkKind(payload.get("kind"))
    except ValueError:
        errors["kind"] = ["Choisissez la nature du lien : " + ", ".join(k.value for k in LinkKind)]
        kind = None
    name = payload.get("organisation_name", "")
    note = payload.get("note", "")
    for field_name, value in (("organisation_name", name), ("note", note)):
        if value is not None and not isinstance(value, str):
            errors[field_name] = ["Une chaîne de caractères est attendue."]
    if errors:
        return _invalid(errors)
    try:
        result = operations.add_link(
            current_user, kind, organisation=organisation, name=name or "", note=note or ""
        )
    except operations.ReviewError as exc:
        db.session.rollback()
        return _error(exc)
    db.session.commit()
    link = db.session.get(ReviewerLink, result.link.id)
    return jsonify(link_json(link)), 201


@bp.delete("/me/links/<int:link_id>")
@operation(
    "/me/links/{link_id}",
    "delete",
    {
        "summary": "Supprimer un de mes liens déclarés",
        "tags": TAGS,
        "parameters": [LINK_ID],
        "responses": {"204": {"description": "Supprimé."}},
    },
)
def reviews_links_delete(link_id: int):
    link = db.session.get(ReviewerLink, link_id)
    if link is None or link.reviewer_id != current_user.id:
        return _not_found("Ce lien n'existe pas.")
    operations.delete_link(link, current_user)
    db.session.commit()
    return "", 204
