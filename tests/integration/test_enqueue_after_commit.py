"""Nothing reaches the broker for a transaction that rolls back (no worker running here).

The queue is read from the broker itself: the filesystem folder on the embedded run,
the Redis list on the services run.
"""

from __future__ import annotations

import pytest

from tests.fixtures.services import purge_queue, queue_size

pytestmark = pytest.mark.integration


@pytest.fixture
def empty_queue(app):
    app.extensions["celery"].set_default()  # shared tasks publish through the test app
    purge_queue(app)
    yield
    purge_queue(app)


def _queue_mail(recipient: str) -> None:
    from types import SimpleNamespace

    from grants.core.mail import queue_mail

    queue_mail(
        recipient,
        "Confirmez votre adresse e-mail",
        "accounts/confirm",
        user=SimpleNamespace(display_name="Bob", email=recipient),
        link="http://127.0.0.1:5000/confirmer/essai",
        hours=48,
    )


def test_rollback_publishes_nothing_and_commit_publishes_once(app, empty_queue):
    from grants.extensions import db

    with app.test_request_context("/", method="POST"):
        _queue_mail("annule@example.org")
        assert queue_size(app) == 0  # not before the commit either
        db.session.rollback()
        db.session.commit()  # a later commit of the same session sends nothing
        db.session.remove()
    assert queue_size(app) == 0

    with app.test_request_context("/", method="POST"):
        _queue_mail("garde@example.org")
        assert queue_size(app) == 0
        db.session.commit()
        db.session.commit()  # sent once, not at every commit
        db.session.remove()
    assert queue_size(app) == 1


def test_registration_that_fails_validation_publishes_nothing(client, get_csrf, empty_queue, app):
    token = get_csrf(client, "/inscription")
    response = client.post(
        "/inscription",
        data={
            "full_name": "Sans Mot De Passe",
            "email": "sans-mdp@example.org",
            "password": "un mot de passe assez long",
            "password_confirm": "un autre mot de passe",
            "csrf_token": token,
        },
    )
    assert response.status_code != 302  # the form again, with its error
    assert 'name="password_confirm"' in response.get_data(as_text=True)
    assert queue_size(app) == 0
