"""Notifications in the JSON API: one's own inbox and e-mail preferences.

A user only ever sees their own notifications: another user's notification answers 404,
as on the pages.
"""

from __future__ import annotations

from flask import jsonify, request
from flask_login import current_user

from grants.api.openapi import json_body, json_response, operation, ref, schema
from grants.api.views import api_error, bp, json_payload
from grants.extensions import db
from grants.notifications import operations, queries
from grants.notifications.models import Notification

API_PER_PAGE = 50
TAGS = ["Notifications"]

NOTIFICATION = schema(
    "Notification",
    {
        "type": "object",
        "required": ["id", "event", "subject", "body", "essential", "created_at", "read"],
        "properties": {
            "id": {"type": "integer"},
            "event": {
                "type": "string",
                "description": "Nom de l'événement, par exemple `application.submitted`.",
            },
            "object_type": {"type": "string", "description": "Type de l'objet concerné."},
            "object_id": {"type": "string"},
            "subject": {"type": "string"},
            "body": {"type": "string", "description": "Le texte de l'e-mail (en français)."},
            "link": {"type": "string", "nullable": True, "description": "URL absolue."},
            "essential": {
                "type": "boolean",
                "description": "false : un rappel (désactivable par e-mail).",
            },
            "created_at": {"type": "string", "format": "date-time"},
            "read": {"type": "boolean"},
            "read_at": {"type": "string", "format": "date-time", "nullable": True},
        },
    },
)
NOTIFICATION_PAGE = schema(
    "NotificationPage",
    {
        "type": "object",
        "required": ["items", "page", "per_page", "total", "pages", "unread"],
        "properties": {
            "items": {"type": "array", "items": ref("Notification")},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
            "total": {"type": "integer"},
            "pages": {"type": "integer"},
            "unread": {"type": "integer", "description": "Notifications non lues (toutes)."},
        },
    },
)
PREFERENCES = schema(
    "NotificationPreferences",
    {
        "type": "object",
        "required": ["email_reminders"],
        "properties": {
            "email_reminders": {
                "type": "boolean",
                "description": "Recevoir aussi les rappels par e-mail. Les e-mails essentiels "
                "(accusé de réception, compléments, décision, convention, versement…) sont "
                "toujours envoyés.",
            },
            "essential": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Les e-mails qui ne peuvent pas être désactivés.",
            },
        },
    },
)
PREFERENCES_PATCH = schema(
    "NotificationPreferencesPatch",
    {
        "type": "object",
        "additionalProperties": False,
        "properties": {"email_reminders": {"type": "boolean"}},
    },
)


def notification_json(n: Notification) -> dict:
    return {
        "id": n.id,
        "event": n.event,
        "object_type": n.object_type,
        "object_id": n.object_id,
        "subject": n.subject,
        "body": n.body,
        "link": n.link,
        "essential": n.essential,
        "created_at": n.created_at.isoformat(),
        "read": n.read_at is not None,
        "read_at": n.read_at.isoformat() if n.read_at else None,
    }


def _preferences_json() -> dict:
    pref = operations.preferences_of(current_user)
    return {
        "email_reminders": pref.email_reminders,
        "essential": list(operations.ESSENTIAL_KINDS),
    }


@bp.get("/notifications")
@operation(
    "/notifications",
    "get",
    {
        "summary": "Mes notifications, les plus récentes en premier",
        "tags": TAGS,
        "parameters": [
            {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
            {
                "name": "per_page",
                "in": "query",
                "schema": {"type": "integer", "minimum": 1, "maximum": 100},
            },
            {
                "name": "unread",
                "in": "query",
                "schema": {"type": "boolean"},
                "description": "true : les non lues seulement.",
            },
        ],
        "responses": {"200": json_response("Une page de notifications.", NOTIFICATION_PAGE)},
    },
)
def list_notifications():
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    per_page = min(max(request.args.get("per_page", API_PER_PAGE, type=int) or 1, 1), 100)
    unread_only = request.args.get("unread", "").lower() in {"1", "true", "yes"}
    pagination = queries.inbox_page(current_user.id, page, unread_only, per_page=per_page)
    return jsonify(
        {
            "items": [notification_json(n) for n in pagination.items],
            "page": pagination.page,
            "per_page": pagination.per_page,
            "total": pagination.total,
            "pages": pagination.pages,
            "unread": queries.unread_count(current_user.id),
        }
    )


@bp.post("/notifications/<int:notification_id>/read")
@operation(
    "/notifications/{notification_id}/read",
    "post",
    {
        "summary": "Marquer une de mes notifications comme lue",
        "tags": TAGS,
        "parameters": [
            {
                "name": "notification_id",
                "in": "path",
                "required": True,
                "schema": {"type": "integer"},
            }
        ],
        "responses": {"200": json_response("La notification, lue.", NOTIFICATION)},
    },
)
def read_notification(notification_id: int):
    notification = queries.own_notification(notification_id, current_user.id)
    if notification is None:
        return api_error(404, "Notification introuvable")
    operations.mark_read(notification, current_user)
    db.session.commit()
    return jsonify(notification_json(notification))


@bp.get("/me/notification-preferences")
@operation(
    "/me/notification-preferences",
    "get",
    {
        "summary": "Mes préférences de notification",
        "tags": TAGS,
        "responses": {"200": json_response("Les préférences.", PREFERENCES)},
    },
)
def get_preferences():
    return jsonify(_preferences_json())


@bp.patch("/me/notification-preferences")
@operation(
    "/me/notification-preferences",
    "patch",
    {
        "summary": "Changer mes préférences de notification",
        "tags": TAGS,
        "requestBody": json_body(PREFERENCES_PATCH),
        "responses": {
            "200": json_response("Les préférences enregistrées.", PREFERENCES),
            "422": json_response("Saisie invalide.", ref("Error")),
        },
    },
)
def patch_preferences():
    payload = json_payload()
    errors: dict[str, list[str]] = {}
    for name, value in payload.items():
        if name != "email_reminders":
            errors[name] = [
                "Champ inconnu."
                if name != "essential"
                else "Les e-mails essentiels ne peuvent pas être désactivés."
            ]
        elif not isinstance(value, bool):
            errors[name] = ["Un booléen est attendu (true ou false)."]
    if errors:
        return api_error(422, "Saisie invalide", "Corrigez les champs signalés.", errors)
    if "email_reminders" in payload:
        operations.set_preferences(current_user, email_reminders=payload["email_reminders"])
        db.session.commit()
    return jsonify(_preferences_json())
