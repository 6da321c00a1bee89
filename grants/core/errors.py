"""French error pages; JSON errors under ``/api/``."""

from __future__ import annotations

from flask import jsonify, render_template, request
from werkzeug.exceptions import HTTPException

MESSAGES = {
    400: ("Requête invalide", "La requête n'a pas pu être comprise."),
    401: ("Authentification requise", "Connectez-vous pour accéder à cette ressource."),
    403: ("Accès refusé", "Vous n'avez pas le droit d'accéder à cette page."),
    404: ("Page introuvable", "La page demandée n'existe pas ou a été déplacée."),
    405: ("Méthode non autorisée", "Cette action n'est pas possible sur cette page."),
    413: (
        "Fichier trop volumineux",
        "Le fichier ou le formulaire envoyé dépasse la taille autorisée.",
    ),
    429: (
        "Trop de tentatives",
        "Vous avez fait trop de tentatives en peu de temps. Patientez quelques minutes "
        "avant de réessayer.",
    ),
    500: ("Erreur interne", "Une erreur inattendue s'est produite. L'équipe a été prévenue."),
}


def _render(code: int, description: str | None = None):
    title, text = MESSAGES.get(code, (f"Erreur {code}", description or ""))
    if request.path.startswith("/api/"):
        return jsonify({"error": {"status": code, "title": title, "message": text}}), code
    return render_template("errors/error.html", code=code, title=title, text=text), code


def register_error_handlers(app) -> None:
    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if exc.code == 400 and "CSRF" in (exc.description or ""):
            title = "Formulaire expiré"
            text = (
                "Le formulaire a expiré ou n'a pas été envoyé depuis cette application. "
                "Rechargez la page et réessayez."
            )
            if request.path.startswith("/api/"):
                return jsonify({"error": {"status": 400, "title": title}}), 400
            return render_template("errors/error.html", code=400, title=title, text=text), 400
        return _render(exc.code or 500, exc.description)

    @app.errorhandler(500)
    def _unexpected(exc):
        from grants.extensions import db

        db.session.rollback()
        return _render(500)
