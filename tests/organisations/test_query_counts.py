"""Organisation pages answer in a bounded number of SQL queries (DESIGN §8)."""

from __future__ import annotations

from stdnum import luhn

from tests.organisations.html import text


def _siret(n: int) -> str:
    siren_body = f"{30000000 + n:08d}"
    siren = siren_body + luhn.calc_check_digit(siren_body)
    body = siren + "0001"
    return body + luhn.calc_check_digit(body)


def test_the_staff_list(app, create_user, login, create_organisation, query_counter):
    members = [create_user() for _ in range(3)]
    staff = app.test_client()
    create_user(email="agent@example.org", roles=["staff"])
    login(staff, "agent@example.org")

    for i in range(2):
        create_organisation(member_ids=members[:1], siret=_siret(i), commune_insee="33318")
    staff.get("/structures/toutes")
    with query_counter() as small:
        assert text(staff.get("/structures/toutes")).count("Pessac") == 2

    for i in range(2, 20):
        create_organisation(member_ids=members, siret=_siret(i), commune_insee="33281")
    with query_counter() as large:
        assert text(staff.get("/structures/toutes")).count("Mérignac") == 18
    assert len(large) == len(small), (small, large)


def test_the_organisation_page(app, create_user, login, create_organisation, query_counter):
    alice = create_user(email="alice@example.org")
    client = app.test_client()
    login(client, "alice@example.org")
    few = create_organisation(member_ids=[alice], siret=_siret(1))
    others = [create_user() for _ in range(8)]
    many = create_organisation(member_ids=[alice, *others], siret=_siret(2))

    client.get(f"/structures/{few}")
    with query_counter() as small:
        client.get(f"/structures/{few}")
    with query_counter() as large:
        page = text(client.get(f"/structures/{many}"))
    assert page.count("@example.org</td>") == 9
    assert len(large) == len(small), (small, large)


def test_my_organisations(app, create_user, login, create_organisation, query_counter):
    alice = create_user(email="alice@example.org")
    client = app.test_client()
    login(client, "alice@example.org")
    create_organisation(member_ids=[alice], siret=_siret(1))
    client.get("/structures/")
    with query_counter() as small:
        client.get("/structures/")
    for i in range(2, 12):
        create_organisation(member_ids=[alice], siret=_siret(i), commune_insee=None)
    with query_counter() as large:
        assert text(client.get("/structures/")).count('<li class="card">') == 11
    assert len(large) == len(small), (small, large)
