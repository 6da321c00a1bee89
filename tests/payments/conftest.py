"""Helpers of the convention and payment tests."""

from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal
from html import unescape

import pytest


def text_of(response_or_html) -> str:
    """The visible text of a page (tags dropped, spaces collapsed, French money spaces
    made ordinary), for assertions."""
    html = (
        response_or_html
        if isinstance(response_or_html, str)
        else response_or_html.get_data(as_text=True)
    )
    text = unescape(re.sub(r"<[^>]+>", " ", html))
    return re.sub(r"\s+", " ", text.replace("\u202f", " ").replace("\xa0", " "))


def plain(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u202f", " ").replace("\xa0", " "))


def pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return plain(" ".join(page.extract_text() for page in reader.pages))


@pytest.fixture
def as_user(app, login):
    """``as_user(email)`` → a new test client logged in as that user."""

    def _as(email: str):
        client = app.test_client()
        login(client, email)
        return client

    return _as


@pytest.fixture
def post_form(get_csrf):
    """``post_form(client, url, data, files=None)``: GET the page for its CSRF token, then
    POST the form (multipart when files are given)."""

    def _post(client, url, data=None, files=None, page=None):
        token = get_csrf(client, page or url)
        payload = {"csrf_token": token, **(data or {})}
        if files:
            payload.update(files)
            return client.post(url, data=payload, content_type="multipart/form-data")
        return client.post(url, data=payload)

    return _post


@pytest.fixture
def db_get(app):
    """``db_get(Model, id, *attrs)`` → the attributes' values, read in a fresh session."""

    def _get(model, object_id, *attrs):
        from grants.extensions import db

        with app.app_context():
            obj = db.session.get(model, object_id)
            values = tuple(getattr(obj, a) for a in attrs) if obj is not None else None
            db.session.remove()
        if values is None:
            return None
        return values[0] if len(values) == 1 else values

    return _get


@pytest.fixture
def pay(app, payment_world):
    """``pay(award_id, year, amount, paid_on=date(2016, 4, 1), status="paid")``: a payment
    requested (and validated, and paid) through the operations, as the world's staff."""

    def _pay(award_id, year, amount, paid_on=date(2016, 4, 1), status="paid"):
        import sqlalchemy as sa

        from grants.accounts.models import User
        from grants.extensions import db
        from grants.funding.models import Tranche
        from grants.payments import operations
        from grants.payments.models import PaymentStatus

        with app.app_context():
            staff = db.session.get(User, payment_world.staff_id)
            tranche = db.session.scalar(
                sa.select(Tranche).where(Tranche.award_id == award_id, Tranche.year == year)
            )
            payment = operations.request_payment(tranche, staff, Decimal(amount))
            if status in ("validated", "paid"):
                operations.transition_payment(payment, staff, PaymentStatus.validated)
            if status == "paid":
                operations.transition_payment(
                    payment, staff, PaymentStatus.paid, paid_on=paid_on, order_ref="M-1"
                )
            db.session.commit()
            payment_id = payment.id
            db.session.remove()
        return payment_id

    return _pay
