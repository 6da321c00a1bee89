"""Awards, conventions, tranches, payments and recoveries in the JSON API."""

from __future__ import annotations

import io
from datetime import date

import pytest

from tests.fixtures.applications import PDF_BYTES


@pytest.fixture
def api_token(app):
    def _token(user_id: int) -> dict:
        from grants.accounts.models import User
        from grants.accounts.operations import create_api_token
        from grants.extensions import db

        with app.app_context():
            _, clear = create_api_token(db.session.get(User, user_id), "tests")
            db.session.commit()
            db.session.remove()
        return {"Authorization": f"Bearer {clear}"}

    return _token


@pytest.fixture
def tokens(payment_world, api_token):
    return {
        "staff": api_token(payment_world.staff_id),
        "member": api_token(payment_world.member_id),
        "outsider": api_token(payment_world.outsider_id),
    }


def test_the_convention_signature_and_payments_through_the_api(
    client, payment_world, world_award, tokens, accept_report
):
    staff, member = tokens["staff"], tokens["member"]
    award_id = world_award()

    assert client.get(f"/api/v1/awards/{award_id}/convention", headers=staff).status_code == 404
    generated = client.post(f"/api/v1/awards/{award_id}/convention", headers=staff)
    assert generated.status_code == 201
    reference = generated.json["reference"]
    assert reference.startswith("CONV-")
    pdf = client.get(f"/api/v1/awards/{award_id}/convention", headers=member)
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert pdf.headers["Content-Type"] == "application/pdf"

    bad = client.post(
        f"/api/v1/awards/{award_id}/convention/signature",
        headers=staff,
        data={"signed_on": "hier", "file": (io.BytesIO(b"not a pdf"), "c.pdf")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422
    assert set(bad.json["error"]["fields"]) == {"signed_on", "file"}
    signed = client.post(
        f"/api/v1/awards/{award_id}/convention/signature",
        headers=staff,
        data={"signed_on": date.today().isoformat(), "file": (io.BytesIO(PDF_BYTES), "c.pdf")},
        content_type="multipart/form-data",
    )
    assert signed.status_code == 200, signed.json
    body = signed.json
    assert body["status"] == "convention_signed"
    assert body["convention"]["signed_on"] == date.today().isoformat()
    assert [(r["year"], r["due_on"], r["status"]) for r in body["reports"]] == [
        (2016, "2017-06-30", "due"),
        (2017, "2018-06-30", "due"),
        (2018, "2019-06-30", "due"),
    ]

    tranches = client.get(f"/api/v1/awards/{award_id}/tranches", headers=member).json["items"]
    first, second = tranches[0], tranches[1]
    assert (first["year"], first["amount"], first["payable_now"]) == (2016, "15000.00", "15000.00")
    assert second["payable_now"] == "0.00"
    assert "compte rendu 2016" in second["conditions"][0]

    # a partial payment (a JSON number is read exactly), then one without amount: the rest
    url = f"/api/v1/tranches/{first['id']}/payments"
    partial = client.post(url, headers=staff, json={"amount": 6000.10, "note": "Avance"})
    assert partial.status_code == 201 and partial.json["amount"] == "6000.10"
    rest = client.post(url, headers=staff, json={})
    assert rest.status_code == 201 and rest.json["amount"] == "8999.90"
    over = client.post(url, headers=staff, json={"amount": "1"})
    assert over.status_code == 422
    assert "il reste 0,00" in over.json["error"]["fields"]["amount"][0].replace("\xa0", " ")

    payment_id = partial.json["id"]
    assert client.post(f"/api/v1/payments/{payment_id}/pay", headers=staff, json={
        "paid_on": "2016-05-01", "order_ref": "M-1"}).status_code == 409  # fmt: skip
    assert client.post(f"/api/v1/payments/{payment_id}/validate", headers=staff).json["status"] == (
        "validated"
    )
    missing = client.post(f"/api/v1/payments/{payment_id}/pay", headers=staff, json={})
    assert missing.status_code == 422
    assert set(missing.json["error"]["fields"]) == {"paid_on", "order_ref"}
    paid = client.post(
        f"/api/v1/payments/{payment_id}/pay",
        headers=staff,
        json={"paid_on": "2016-05-01", "order_ref": "M-2016-1"},
    )
    assert paid.status_code == 200
    assert (paid.json["status"], paid.json["paid_on"], paid.json["order_ref"]) == (
        "paid",
        "2016-05-01",
        "M-2016-1",
    )
    cancelled = client.post(
        f"/api/v1/payments/{rest.json['id']}/cancel", headers=staff, json={"reason": "Doublon"}
    )
    assert cancelled.json["status"] == "cancelled"
    assert cancelled.json["cancelled_reason"] == "Doublon"
    no_reason = client.post(f"/api/v1/payments/{payment_id}/cancel", headers=staff, json={})
    assert no_reason.status_code == 409  # a paid payment can't be cancelled

    award = client.get(f"/api/v1/awards/{award_id}", headers=member).json
    assert (award["status"], award["paid_total"], award["requested_total"]) == (
        "in_payment",
        "6000.10",
        "6000.10",
    )
    assert "note" not in award["payments"][0]  # staff's notes stay with staff
    assert client.get(f"/api/v1/awards/{award_id}", headers=staff).json["payments"][0]["note"] == (
        "Avance"
    )

    # a reduction of a tranche, and recoveries within what was paid
    change = client.post(
        f"/api/v1/tranches/{second['id']}/change",
        headers=staff,
        json={"amount": "8000", "reason": "Projet réduit"},
    )
    assert change.status_code == 200 and change.json["amount"] == "8000.00"
    assert client.get(f"/api/v1/awards/{award_id}", headers=staff).json["allocated_total"] == (
        "28000.00"
    )
    too_much = client.post(
        f"/api/v1/awards/{award_id}/recoveries",
        headers=staff,
        json={"amount": "6000.11", "reason": "Trop perçu"},
    )
    assert too_much.status_code == 422 and "amount" in too_much.json["error"]["fields"]
    recovery = client.post(
        f"/api/v1/awards/{award_id}/recoveries",
        headers=staff,
        json={"amount": "1000", "reason": "Trop perçu", "order_ref": "T-1"},
    )
    assert recovery.status_code == 201
    assert (recovery.json["amount"], recovery.json["status"]) == ("1000.00", "requested")


def test_who_sees_what(
    client, payment_world, world_award, tokens, create_call, create_application, create_award
):
    staff, member, outsider = tokens["staff"], tokens["member"], tokens["outsider"]
    mine = world_award()
    other_call = create_call(status="decided")
    other_application = create_application(
        other_call, payment_world.other_org_id, status="accepted"
    )
    theirs = create_award(other_application, "10000", years={2016: "10000"})

    assert client.get("/api/v1/awards").status_code == 401
    assert [a["id"] for a in client.get("/api/v1/awards", headers=staff).json["items"]] == [
        theirs,
        mine,
    ]
    assert [a["id"] for a in client.get("/api/v1/awards", headers=member).json["items"]] == [mine]
    assert [a["id"] for a in client.get("/api/v1/awards", headers=outsider).json["items"]] == [
        theirs
    ]
    by_call = client.get(f"/api/v1/awards?call_id={other_call}", headers=staff).json["items"]
    assert [a["id"] for a in by_call] == [theirs]

    client.post(f"/api/v1/awards/{mine}/convention", headers=staff)
    for url in (
        f"/api/v1/awards/{mine}",
        f"/api/v1/awards/{mine}/tranches",
        f"/api/v1/awards/{mine}/convention",
    ):
        assert client.get(url, headers=outsider).status_code == 404, url
    tranche_id = client.get(f"/api/v1/awards/{mine}/tranches", headers=member).json["items"][0][
        "id"
    ]
    # members read but don't act; strangers don't even see
    for headers, status in ((member, 403), (outsider, 404)):
        assert (
            client.post(f"/api/v1/awards/{mine}/convention", headers=headers).status_code == status
        )
        assert (
            client.post(
                f"/api/v1/tranches/{tranche_id}/payments", headers=headers, json={}
            ).status_code
            == status
        )
        assert (
            client.post(
                f"/api/v1/tranches/{tranche_id}/change", headers=headers, json={}
            ).status_code
            == status
        )
        assert (
            client.post(
                f"/api/v1/awards/{mine}/recoveries",
                headers=headers,
                json={"amount": "1", "reason": "x"},
            ).status_code
            == status
        )
        assert (
            client.post(f"/api/v1/awards/{mine}/convention/signature", headers=headers).status_code
            == status
        )
    assert client.post("/api/v1/payments/999/validate", headers=staff).status_code == 404


def test_the_openapi_document_describes_the_payment_routes(client):
    from openapi_spec_validator import validate

    document = client.get("/api/v1/openapi.json").json
    validate(document)
    for path in (
        "/awards",
        "/awards/{award_id}",
        "/awards/{award_id}/convention",
        "/awards/{award_id}/convention/signature",
        "/awards/{award_id}/tranches",
        "/tranches/{tranche_id}/payments",
        "/payments/{payment_id}/validate",
        "/payments/{payment_id}/pay",
        "/payments/{payment_id}/cancel",
        "/awards/{award_id}/recoveries",
    ):
        assert path in document["paths"], path
    assert {"get", "post"} <= set(document["paths"]["/awards/{award_id}/convention"])
