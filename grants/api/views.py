"""JSON API v1, authenticated by personal access tokens (``Authorization: Bearer``).

Cookies are ignored here (see :mod:`grants.core.security`), so the blueprint is exempt
from CSRF. Each feature adds its routes in ``grants/<feature>/api.py`` on this blueprint
and declares them with :func:`grants.api.openapi.operation`.
"""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, request
from flask_login import current_user

from grants.api.openapi import document, json_response, operation, schema
from grants.extensions import db

bp = Blueprint("api", __name__, url_prefix="/api/v1")

PUBLIC_ENDPOINTS = {"api.openapi_json"}


@bp.before_request
def _require_token():
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        response = jsonify(
            {
                "error": {
                    "status": 401,
                    "title": "Authentification requise",
                    "message": "Envoyez un jeton valide : Authorization: Bearer <jeton>.",
                }
            }
        )
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="grants"'
        return response
    return None


@bp.after_request
def _commit_token_use(response):
    # ``last_used_at`` of the token (and nothing else on a read) is saved here.
    if request.method in {"GET", "HEAD"}:
        db.session.commit()
    return response


def api_error(status: int, title: str, message: str = "", fields: dict | None = None):
    body: dict = {"status": status, "title": title}
    if message:
        body["message"] = message
    if fields:
        body["fields"] = fields
    return jsonify({"error": body}), status


def json_payload() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400)
    return data


USER = schema(
    "User",
    {
        "type": "object",
        "required": ["id", "email", "full_name", "roles", "email_confirmed"],
        "properties": {
            "id": {"type": "integer"},
            "email": {"type": "string", "format": "email"},
            "full_name": {"type": "string"},
            "roles": {
                "type": "array",
                "items": {"type": "string", "enum": ["applicant", "reviewer", "staff", "admin"]},
            },
            "email_confirmed": {"type": "boolean"},
        },
    },
)


@bp.get("/openapi.json")
def openapi_json():
    from importlib.metadata import version

    return jsonify(document(version("grants")))


@bp.get("/me")
@operation(
    "/me",
    "get",
    {
        "summary": "L'utilisateur du jeton",
        "tags": ["Comptes"],
        "responses": {"200": json_response("L'utilisateur authentifié.", USER)},
    },
)
def me():
    user = current_user
    return jsonify(
        {
            "id": user.id,
            "email": user.email,
            "full_name": user.full_name,
            "roles": sorted(r.value for r in user.roles),
            "email_confirmed": user.is_confirmed,
        }
    )
