"""Public pages of calls: no login, open/upcoming/previous, drafts hidden, rich text sanitised."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.calls.conftest import plain


def _now():
    return datetime.now(UTC)


def test_the_public_list_needs_no_login_and_sorts_calls(client, create_call):
    create_call(title="Appel ouvert")
    create_call(
        title="Appel à venir",
        opens_at=_now() + timedelta(days=10),
        closes_at=_now() + timedelta(days=40),
    )
    create_call(
        title="Appel terminé",
        opens_at=_now() - timedelta(days=60),
        closes_at=_now() - timedelta(days=1),
    )
    create_call(title="Appel décidé", status="decided")
    create_call(title="Appel en préparation", status="draft")
    response = client.get("/appels")
    assert response.status_code == 200
    page = plain(response.get_data(as_text=True))
    current, previous = page.split("Appels précédents")
    assert "Appel ouvert" in current and "Appel à venir" in current
    assert "Ouvert" in current and "À venir" in current
    assert "Appel terminé" in previous and "Appel décidé" in previous
    assert "Appel terminé" not in current
    assert "Appel en préparation" not in page
    assert "165 000,00 €" in current
    assert "2016 : 60 000,00 €" in current


def test_the_call_page_shows_what_an_applicant_needs(client, create_call):
    opens = datetime(2030, 3, 1, 8, 0, tzinfo=UTC)
    call_id = create_call(opens_at=opens, closes_at=datetime(2030, 4, 30, 10, 0, tzinfo=UTC))
    response = client.get(f"/appels/{call_id}")
    assert response.status_code == 200
    page = plain(response.get_data(as_text=True))
    assert "Appel à projets" in page
    assert "À venir" in page
    # Dates in Europe/Paris: 08:00 UTC in March is 09:00, 10:00 UTC in April is 12:00.
    assert "01/03/2030 09:00" in page
    assert "30/04/2030 12:00" in page
    assert "60 000,00 €" in page and "55 000,00 €" in page and "50 000,00 €" in page
    assert "165 000,00 €" in page
    assert "40 000,00 €" in page  # ceiling
    assert "SCOP (société coopérative et participative)" in page
    assert "Économie circulaire" in page
    assert "Statuts de la structure" in page
    assert "PDF, Texte OpenDocument (ODT), Word (DOCX)" in page
    assert "<strong>innovants</strong>" in response.get_data(as_text=True)
    assert "Déposer un dossier" not in page  # not open yet
    assert "Les dépôts ouvriront le 01/03/2030 09:00" in page


def test_an_open_call_has_the_apply_button(client, create_call):
    call_id = create_call()
    page = client.get(f"/appels/{call_id}").get_data(as_text=True)
    match = re.search(r'<a class="button" href="([^"]+)">Déposer un dossier</a>', page)
    assert match
    assert match.group(1) == f"/appels/{call_id}/candidater"
    assert "Ouvert" in page


def test_a_closed_call_says_so(client, create_call):
    call_id = create_call(
        opens_at=_now() - timedelta(days=30), closes_at=_now() - timedelta(minutes=1)
    )
    page = plain(client.get(f"/appels/{call_id}").get_data(as_text=True))
    assert "Les dépôts sont clos." in page
    assert "Déposer un dossier" not in page


def test_an_investment_aid_shows_its_share(client, create_call):
    call_id = create_call(
        kind="investment_aid", title="Aide à l'investissement 2016", years={2016: "159000"}
    )
    page = plain(client.get(f"/appels/{call_id}").get_data(as_text=True))
    assert "Aide à l'investissement" in page
    assert "Part maximale des dépenses éligibles" in page
    assert "50 %" in page
    assert "159 000,00 €" in page


def test_a_draft_is_404_for_the_public_and_for_applicants(client, create_call, create_user, login):
    call_id = create_call(status="draft", title="Brouillon secret")
    assert client.get(f"/appels/{call_id}").status_code == 404
    create_user(email="porteur@example.org")
    login(client, "porteur@example.org")
    response = client.get(f"/appels/{call_id}")
    assert response.status_code == 404
    assert "Brouillon secret" not in response.get_data(as_text=True)
    assert client.get("/appels/999999").status_code == 404


def test_staff_preview_a_draft(staff_client, create_call):
    call_id = create_call(status="draft", title="Brouillon de l'agent")
    response = staff_client.get(f"/appels/{call_id}")
    assert response.status_code == 200
    page = plain(response.get_data(as_text=True))
    assert "Aperçu d'un brouillon" in page
    assert "Brouillon de l'agent" in page


HOSTILE = (
    "Règlement **important**.\n\n"
    "<script>alert('xss')</script>\n\n"
    '<img src="x" onerror="alert(1)">\n\n'
    '<a href="javascript:alert(2)">piège</a> [lien](javascript:alert(3)) '
    '<a href="https://www.bordeaux-metropole.fr" onclick="alert(4)">site</a>\n\n'
    '<p style="color:red">rouge</p><iframe src="https://evil.example"></iframe>'
)


@pytest.mark.parametrize("field", ["rules", "description"])
def test_rich_text_is_sanitised_on_the_public_page(client, create_call, field):
    call_id = create_call(**{field: HOSTILE})
    page = client.get(f"/appels/{call_id}").get_data(as_text=True)
    assert "<strong>important</strong>" in page
    assert "<script>alert" not in page
    assert "alert('xss')" not in page
    assert "onerror" not in page
    assert "onclick" not in page
    assert "javascript:" not in page
    assert "<iframe" not in page
    assert 'style="' not in page
    assert '<a href="https://www.bordeaux-metropole.fr" rel="noopener noreferrer">site</a>' in page


def test_the_summary_is_escaped(client, create_call):
    call_id = create_call(summary="<b>gras</b> & co")
    page = client.get(f"/appels/{call_id}").get_data(as_text=True)
    assert "&lt;b&gt;gras&lt;/b&gt; &amp; co" in page
