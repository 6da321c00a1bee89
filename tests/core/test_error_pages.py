"""French error pages (and JSON errors under /api/)."""

from __future__ import annotations

from html import unescape


def test_unknown_page_is_a_french_404(client):
    response = client.get("/cette-page-n-existe-pas")

    assert response.status_code == 404
    assert response.mimetype == "text/html"
    html = unescape(response.get_data(as_text=True))
    assert '<html lang="fr">' in html
    assert "Page introuvable" in html
    assert "La page demandée n'existe pas" in html


def test_unknown_api_resource_is_a_json_404(client):
    response = client.get("/api/v1/n-existe-pas")

    assert response.status_code == 404
    assert response.is_json
    assert response.get_json()["error"]["status"] == 404


def test_a_body_above_max_content_length_is_refused_in_french(app, client):
    limit = app.config["MAX_CONTENT_LENGTH"]
    assert 0 < limit <= 64 * 1024 * 1024

    response = client.post("/connexion", data={"email": "x" * (limit + 1)})

    assert response.status_code == 413
    html = unescape(response.get_data(as_text=True))
    assert "Fichier trop volumineux" in html
    assert "dépasse la taille autorisée" in html


def test_a_body_below_the_limit_is_not_refused(client):
    response = client.post("/connexion", data={"email": "x" * 1000})

    assert response.status_code != 413
