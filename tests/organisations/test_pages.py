"""Organisation pages: create, view, edit, lists; who may see and change what."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.fixtures.organisations import org_form
from tests.organisations.html import (
    field_errors,
    input_value,
    is_checked,
    select_options,
    text,
)


@pytest.fixture
def alice(create_user, login, client):
    """A logged-in applicant; returns her id."""
    user_id = create_user(email="alice@example.org", full_name="Alice Martin")
    login(client, "alice@example.org")
    return user_id


def _org(app, org_id):
    from grants.extensions import db
    from grants.organisations.models import Organisation

    with app.app_context():
        org = db.session.get(Organisation, org_id)
        values = {c.key: getattr(org, c.key) for c in Organisation.__table__.columns}
        db.session.remove()
    return values


def _org_ids(app):
    from grants.extensions import db
    from grants.organisations.models import Organisation

    with app.app_context():
        ids = list(db.session.scalars(sa.select(Organisation.id).order_by(Organisation.id)))
        db.session.remove()
    return ids


def _post(client, get_csrf, url, data, form_url=None):
    token = get_csrf(client, form_url or url)
    return client.post(url, data={**data, "csrf_token": token})


# --- create ----------------------------------------------------------------------------


def test_pages_need_a_login(client):
    for url in ("/structures/", "/structures/nouvelle", "/structures/1", "/structures/toutes"):
        response = client.get(url)
        assert response.status_code == 302
        assert "/connexion" in response.headers["Location"]


def test_create_goes_back_to_the_page_that_asked(app, client, alice, get_csrf):
    """Starting an application without an organisation comes back to it after creating one."""
    url = "/structures/nouvelle?next=/appels/3/candidater"
    response = _post(client, get_csrf, url, org_form(), form_url=url)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/appels/3/candidater")


def test_create_never_redirects_off_site(app, client, alice, get_csrf):
    url = "/structures/nouvelle?next=//evil.example/x"
    response = _post(client, get_csrf, url, org_form(), form_url=url)
    (org_id,) = _org_ids(app)
    assert response.headers["Location"].endswith(f"/structures/{org_id}")


def test_create_with_a_real_siret(app, client, alice, get_csrf, org_member_ids, audit_entries):
    response = _post(
        client,
        get_csrf,
        "/structures/nouvelle",
        org_form(in_qpv="y", has_economic_activity="y"),
    )
    assert response.status_code == 302, field_errors(response, "siret")
    (org_id,) = _org_ids(app)
    assert response.headers["Location"].endswith(f"/structures/{org_id}")

    org = _org(app, org_id)
    assert org["siret"] == "73282932000074"  # spaces removed
    assert org["legal_form"].value == "scic"
    assert org["rna"] is None
    assert org["commune_insee"] == "33063"
    assert org["in_qpv"] is True and org["esus_approved"] is False
    assert org["has_economic_activity"] is True
    assert (org["employees"], org["volunteers"]) == (7, 12)
    assert str(org["fte"]) == "5.50"
    assert org_member_ids(org_id) == {alice}

    (entry,) = audit_entries("organisation.create")
    assert entry["actor_id"] == alice
    assert entry["object_type"] == "organisation" and entry["object_id"] == str(org_id)
    assert entry["changes"]["siret"] == [None, "73282932000074"]

    page = client.get(f"/structures/{org_id}")
    assert page.status_code == 200
    body = text(page)
    assert "Les Ateliers Solidaires" in body
    assert "732 829 320 00074" in body
    assert "732 829 320" in body  # the SIREN, derived
    assert "Bordeaux" in body
    assert "5,5" in body
    assert "Alice Martin" in body

    listing = text(client.get("/structures/"))
    assert "Les Ateliers Solidaires" in listing


def test_invalid_siret_is_shown_next_to_the_field_and_nothing_is_lost(app, client, alice, get_csrf):
    data = org_form(siret="73282932000079", in_qpv="y", fte="2,75", legal_form="scop")
    response = _post(client, get_csrf, "/structures/nouvelle", data)
    assert response.status_code == 200
    errors = field_errors(response, "siret")
    assert len(errors) == 1 and "clé de contrôle est incorrecte" in errors[0]
    assert "Le formulaire contient des erreurs" in text(response)
    # every other field is kept as typed
    assert input_value(response, "siret") == "73282932000079"
    assert input_value(response, "name") == "Les Ateliers Solidaires"
    assert input_value(response, "address") == "12 cours Victor Hugo"
    assert input_value(response, "fte") == "2,75"
    assert input_value(response, "employees") == "7"
    assert is_checked(response, "in_qpv")
    assert ("scop", "SCOP (société coopérative et participative)", True) in select_options(
        response, "legal_form"
    )
    assert [o for o in select_options(response, "commune_insee") if o[2]][0][0] == "33063"
    assert _org_ids(app) == []


def test_siret_of_the_wrong_length(client, alice, get_csrf):
    response = _post(client, get_csrf, "/structures/nouvelle", org_form(siret="7328293200"))
    assert "14 chiffres" in field_errors(response, "siret")[0]


def test_siret_already_registered(app, client, alice, get_csrf, create_organisation):
    create_organisation(siret="73282932000074", name="Déjà là")
    response = _post(client, get_csrf, "/structures/nouvelle", org_form())
    assert response.status_code == 200
    assert field_errors(response, "siret") == [
        "Une structure avec ce SIRET est déjà enregistrée : "
        "demandez à l'un de ses membres de vous inviter."
    ]
    assert input_value(response, "name") == "Les Ateliers Solidaires"
    assert len(_org_ids(app)) == 1


def test_several_errors_each_next_to_its_field(client, alice, get_csrf):
    response = _post(
        client,
        get_csrf,
        "/structures/nouvelle",
        org_form(
            name="",
            legal_form="",
            postal_code="330",
            commune_insee="",
            employees="-2",
            fte="1,234",
            volunteers="beaucoup",
        ),
    )
    assert field_errors(response, "name") == ["Indiquez le nom de la structure."]
    assert field_errors(response, "legal_form") == ["Choisissez la forme juridique."]
    assert "5 chiffres" in field_errors(response, "postal_code")[0]
    assert "Hors métropole" in field_errors(response, "commune_insee")[0]
    assert "négatif" in field_errors(response, "employees")[0]
    assert "2 décimales" in field_errors(response, "fte")[0]
    assert "entier" in field_errors(response, "volunteers")[0]
    assert field_errors(response, "siret") == []
    assert input_value(response, "fte") == "1,234"


@pytest.mark.parametrize(
    ("legal_form", "rna", "message"),
    [
        ("association", "", "obligatoire pour une association"),
        ("association", "W12345", "W suivi de 9 chiffres"),
        ("scop", "W332001234", "ne concerne que les associations"),
    ],
)
def test_rna_rules_on_the_form(app, client, alice, get_csrf, legal_form, rna, message):
    response = _post(
        client, get_csrf, "/structures/nouvelle", org_form(legal_form=legal_form, rna=rna)
    )
    assert response.status_code == 200
    assert message in field_errors(response, "rna")[0]
    assert input_value(response, "rna") == rna
    assert _org_ids(app) == []


def test_an_association_with_its_rna(app, client, alice, get_csrf):
    response = _post(
        client,
        get_csrf,
        "/structures/nouvelle",
        org_form(legal_form="association", rna="w332001234", commune_insee="hors"),
    )
    assert response.status_code == 302
    org = _org(app, _org_ids(app)[0])
    assert org["rna"] == "W332001234"
    assert org["commune_insee"] is None  # « Hors métropole »
    assert "Hors métropole" in text(client.get(response.headers["Location"]))


def test_commune_choices_are_the_28_communes_then_outside(client, alice):
    options = select_options(client.get("/structures/nouvelle"), "commune_insee")
    assert options[0][0] == ""  # « Choisissez » (nothing chosen silently)
    communes = options[1:-1]
    assert len(communes) == 28
    assert options[-1] == ("hors", "Hors métropole", False)
    names = [label for _, label, _ in communes]
    assert names.index("Bègles") < names.index("Blanquefort")  # French order
    assert ("33063", "Bordeaux", False) in communes
    assert all(len(code) == 5 and code.startswith("33") for code, _, _ in communes)


def test_an_unknown_commune_code_is_refused(client, alice, get_csrf):
    response = _post(client, get_csrf, "/structures/nouvelle", org_form(commune_insee="75056"))
    assert field_errors(response, "commune_insee") == ["Choisissez une valeur dans la liste."]


def test_the_siren_is_shown_on_the_form_once_the_siret_is_valid(client, alice, get_csrf):
    response = _post(
        client, get_csrf, "/structures/nouvelle", org_form(name="", siret="73282932000074")
    )
    assert "SIREN : <strong>732 829 320</strong>" in text(response)


# --- edit ------------------------------------------------------------------------------


def test_edit_records_a_diff_of_the_changed_fields(
    app, client, alice, get_csrf, create_organisation, audit_entries
):
    org_id = create_organisation(member_ids=[alice], name="Ancien nom", employees=3)
    form = client.get(f"/structures/{org_id}/modifier")
    assert input_value(form, "name") == "Ancien nom"
    assert input_value(form, "siret") == "24330031600011"
    data = org_form(
        name="Nouveau nom",
        siret="24330031600011",
        legal_form="scop",
        address="1 rue de la République",
        city="Bordeaux",
        employees="5",
        fte="0",
        volunteers="0",
    )
    response = _post(client, get_csrf, f"/structures/{org_id}/modifier", data)
    assert response.status_code == 302
    org = _org(app, org_id)
    assert (org["name"], org["employees"]) == ("Nouveau nom", 5)

    (entry,) = audit_entries("organisation.update")
    assert entry["actor_id"] == alice
    assert entry["object_id"] == str(org_id)
    assert entry["changes"] == {"name": ["Ancien nom", "Nouveau nom"], "employees": [3, 5]}

    # the same values again: nothing recorded
    _post(client, get_csrf, f"/structures/{org_id}/modifier", data)
    assert len(audit_entries("organisation.update")) == 1


def test_edit_cannot_take_another_organisations_siret(
    app, client, alice, get_csrf, create_organisation
):
    create_organisation(siret="73282932000074")
    org_id = create_organisation(member_ids=[alice], siret="24330031600011")
    response = _post(
        client, get_csrf, f"/structures/{org_id}/modifier", org_form(siret="73282932000074")
    )
    assert "déjà enregistrée" in field_errors(response, "siret")[0]
    assert _org(app, org_id)["siret"] == "24330031600011"


# --- who may see and change ----------------------------------------------------------------


@pytest.fixture
def bobs_org(create_user, create_organisation):
    bob = create_user(email="bob@example.org")
    return create_organisation(member_ids=[bob], name="Structure de Bob")


def test_another_applicant_cannot_see_or_change_by_guessing_ids(
    app, client, alice, bobs_org, get_csrf, audit_entries
):
    before = _org(app, bobs_org)
    token = get_csrf(client, "/structures/nouvelle")
    attempts = [
        client.get(f"/structures/{bobs_org}"),
        client.get(f"/structures/{bobs_org}/modifier"),
        client.post(
            f"/structures/{bobs_org}/modifier",
            data={**org_form(name="Piratée", siret="24330031600011"), "csrf_token": token},
        ),
        client.post(
            f"/structures/{bobs_org}/inviter",
            data={"email": "alice@example.org", "csrf_token": token},
        ),
        client.post(f"/structures/{bobs_org}/membres/1/retirer", data={"csrf_token": token}),
        client.post(f"/structures/{bobs_org}/invitations/1/annuler", data={"csrf_token": token}),
    ]
    assert [r.status_code for r in attempts] == [404] * len(attempts)
    assert "Structure de Bob" not in text(attempts[0])
    assert _org(app, bobs_org) == before
    assert audit_entries("organisation.invite") == []
    assert "Structure de Bob" not in text(client.get("/structures/"))
    # a non-existent id answers the same way
    assert client.get("/structures/999999").status_code == 404


def test_staff_can_view_but_not_edit(app, client, create_user, login, bobs_org, get_csrf):
    create_user(email="agent@example.org", roles=["staff"])
    login(client, "agent@example.org")
    page = client.get(f"/structures/{bobs_org}")
    assert page.status_code == 200
    assert "Structure de Bob" in text(page)
    assert "lecture seule" in text(page)
    assert "Modifier la fiche" not in text(page)
    token = get_csrf(client, f"/structures/{bobs_org}")
    assert client.get(f"/structures/{bobs_org}/modifier").status_code == 403
    response = client.post(
        f"/structures/{bobs_org}/modifier",
        data={**org_form(name="Changée par un agent"), "csrf_token": token},
    )
    assert response.status_code == 403
    response = client.post(
        f"/structures/{bobs_org}/inviter", data={"email": "x@example.org", "csrf_token": token}
    )
    assert response.status_code == 403
    assert _org(app, bobs_org)["name"] == "Structure de Bob"


def test_the_staff_list_searches_and_paginates(
    app, client, create_user, login, create_organisation
):
    from stdnum import luhn

    def siret(n: int) -> str:  # unique, Luhn-valid
        siren_body = f"{10000000 + n:08d}"
        siren = siren_body + luhn.calc_check_digit(siren_body)
        body = siren + "0001"
        return body + luhn.calc_check_digit(body)

    for i in range(25):
        create_organisation(name=f"Coopérative {i:02d}", siret=siret(i))
    create_organisation(name="Régie de quartier", siret=siret(99), commune_insee="33039")

    create_user(email="agent@example.org", roles=["staff"])
    login(client, "agent@example.org")
    first = text(client.get("/structures/toutes"))
    assert "26 structures" in first
    assert "Coopérative 00" in first and "Coopérative 19" in first
    assert "Coopérative 20" not in first
    second = text(client.get("/structures/toutes?page=2"))
    assert "Coopérative 20" in second and "Régie de quartier" in second

    by_name = text(client.get("/structures/toutes?q=régie"))
    assert "1 structure " in by_name and "Régie de quartier" in by_name
    by_commune = text(client.get("/structures/toutes?q=Bègles"))
    assert "Régie de quartier" in by_commune and "Coopérative 01" not in by_commune
    by_siret = text(client.get(f"/structures/toutes?q={siret(7)[:9]}"))
    assert "Coopérative 07" in by_siret and "Coopérative 08" not in by_siret


def test_applicants_cannot_list_every_organisation(client, alice):
    assert client.get("/structures/toutes").status_code == 403
