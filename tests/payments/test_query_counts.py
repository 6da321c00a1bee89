"""The award pages answer in a bounded number of SQL queries (DESIGN §8)."""

from __future__ import annotations

from tests.payments.conftest import text_of


def _awards(n, payment_world, create_application, create_award, sign_award, pay):
    ids = []
    for _ in range(n):
        application_id = create_application(
            payment_world.call_id, payment_world.org_id, status="accepted", complete=True
        )
        award_id = create_award(application_id, "30000", years={2016: "15000", 2017: "15000"})
        sign_award(award_id)
        pay(award_id, 2016, "5000")
        pay(award_id, 2016, "2000", status="requested")
        ids.append(award_id)
    return ids


def test_my_awards_and_the_staff_list(
    app, payment_world, create_application, create_award, sign_award, pay, as_user, query_counter
):
    member = as_user("porteur@asso.example")
    staff = as_user("agent@metropole.example")
    _awards(1, payment_world, create_application, create_award, sign_award, pay)
    member.get("/mes-aides")
    staff.get("/gestion/aides")
    with query_counter() as mine_small:
        member.get("/mes-aides")
    with query_counter() as list_small:
        staff.get("/gestion/aides")

    _awards(5, payment_world, create_application, create_award, sign_award, pay)
    with query_counter() as mine_large:
        page = text_of(member.get("/mes-aides"))
    assert page.count("Reçu 5 000,00 €") == 6
    with query_counter() as list_large:
        assert text_of(staff.get("/gestion/aides")).count("La Recyclerie du Quai") == 6
    assert len(mine_large) == len(mine_small), (mine_small, mine_large)
    assert len(list_large) == len(list_small), (list_small, list_large)


def test_the_award_page(
    app, payment_world, create_application, create_award, sign_award, pay, as_user, query_counter
):
    staff = as_user("agent@metropole.example")
    (award_id,) = _awards(1, payment_world, create_application, create_award, sign_award, pay)
    staff.get(f"/gestion/aides/{award_id}")
    with query_counter() as small:
        staff.get(f"/gestion/aides/{award_id}")
    for _ in range(6):
        pay(award_id, 2016, "100")
    with query_counter() as large:
        page = text_of(staff.get(f"/gestion/aides/{award_id}"))
    assert page.count("mandat M-1") == 7
    assert len(large) == len(small), (small, large)
