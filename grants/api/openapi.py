"""The OpenAPI 3 document, built from the specs that each API route declares."""

from __future__ import annotations

from typing import Any

_PATHS: dict[str, dict[str, Any]] = {}
_SCHEMAS: dict[str, dict[str, Any]] = {}


def operation(path: str, method: str, spec: dict[str, Any]):
    """Declare the OpenAPI operation of a route (``path`` in OpenAPI syntax)."""

    def decorator(view):
        _PATHS.setdefault(path, {})[method.lower()] = spec
        return view

    return decorator


def schema(name: str, spec: dict[str, Any]) -> dict[str, str]:
    """Register a component schema; returns a ``$ref`` to it."""
    _SCHEMAS[name] = spec
    return ref(name)


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_body(schema_ref: dict, description: str = "") -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema_ref}}}


def json_response(description: str, schema_ref: dict | None = None) -> dict:
    response: dict[str, Any] = {"description": description}
    if schema_ref is not None:
        response["content"] = {"application/json": {"schema": schema_ref}}
    return response


ERROR = schema(
    "Error",
    {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["status", "title"],
                "properties": {
                    "status": {"type": "integer"},
                    "title": {"type": "string"},
                    "message": {"type": "string"},
                    "fields": {
                        "type": "object",
                        "additionalProperties": {"type": "array", "items": {"type": "string"}},
                        "description": "Messages d'erreur (en français) par champ.",
                    },
                },
            }
        },
    },
)

STANDARD_ERRORS = {
    "401": json_response("Jeton absent, invalide ou révoqué.", ERROR),
    "403": json_response("Action interdite pour cet utilisateur.", ERROR),
    "404": json_response("Ressource introuvable.", ERROR),
}


def document(version: str) -> dict[str, Any]:
    paths = {}
    for path, operations in sorted(_PATHS.items()):
        paths[path] = {}
        for method, spec in operations.items():
            spec = dict(spec)
            spec.setdefault("responses", {})
            spec["responses"] = {**STANDARD_ERRORS, **spec["responses"]}
            paths[path][method] = spec
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "grants — API des subventions ESS",
            "version": version,
            "description": (
                "API JSON de l'application. Authentification par jeton d'accès personnel "
                "(page « Mon compte » ou `grants users token EMAIL`), envoyé dans l'en-tête "
                "`Authorization: Bearer <jeton>`. Les droits sont ceux des pages."
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "grt_…"}
            },
            "schemas": dict(sorted(_SCHEMAS.items())),
        },
    }
