"""Late reports are flagged everywhere (beneficiary's list, page, staff list and filter, API);
reminders 30 days before the due date and once overdue, sent once however often beat fires."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.fixtures.accounts import mail_text
from tests.fixtures.reports import STAFF_EMAIL

ALICE = "alice@recyclerie.example"
ALBERT = "albert@recyclerie.example"


def _today():
    from grants.reports.queries import today_paris

    return today_paris()


def _notifications(in_app, event):
    from grants.extensions import db
    from grants.notifications.models import Notification

    return in_app(
        lambda: db.session.execute(
            sa.select(
                Notification.recipient_id,
                Notification.object_id,
                Notification.occurrence,
                Notification.essential,
            )
            .where(Notification.event == event)
            .order_by(Notification.id)
        ).all()
    )


def _run(app, task):
    from grants.extensions import db

    with app.app_context():
        try:
            return task.run()
        finally:
            db.session.remove()


@pytest.fixture
def late_world(report_world, create_report, in_app):
    """Organisation A: a 2017 report overdue (yesterday), a 2018 one due in 30 days, and
    an accepted overdue one (2019) and a submitted overdue one (2020) — not owed;
    organisation B: a returned report overdue. The 2016 reports are due in 200 days."""
    from grants.extensions import db
    from grants.payments.models import AnnualReport

    today = _today()
    w = report_world

    def _postpone():
        db.session.execute(sa.update(AnnualReport).values(due_on=today + timedelta(days=200)))
        db.session.commit()

    in_app(_postpone)
    w.late = create_report(w.award_a, 2017, due_on=today - timedelta(days=1))
    w.soon = create_report(w.award_a, 2018, due_on=today + timedelta(days=30))
    w.done = create_report(w.award_a, 2019, due_on=today - timedelta(days=5), status="accepted")
    w.handed = create_report(w.award_a, 2020, due_on=today - timedelta(days=5), status="submitted")
    w.returned = create_report(w.award_b, 2017, due_on=today - timedelta(days=3), status="returned")
    return w


def test_late_reports_are_flagged_for_the_members(late_world, as_user):
    alice = as_user(ALICE)
    html = alice.get("/rapports").get_data(as_text=True)
    rows = {
        rid: html.split(f'href="/rapports/{rid}"', 1)[1].split("</tr>", 1)[0]
        for rid in (late_world.late, late_world.soon, late_world.done, late_world.handed)
    }
    assert "En retard" in rows[late_world.late]
    assert "En retard" not in rows[late_world.soon]
    assert "En retard" not in rows[late_world.done]
    assert "En retard" not in rows[late_world.handed]
    page = alice.get(f"/rapports/{late_world.late}").get_data(as_text=True)
    assert "compte rendu en retard" in page


def test_staff_list_flags_and_filters_late_reports(late_world, as_user):
    staff = as_user(STAFF_EMAIL)
    html = staff.get("/gestion/rapports").get_data(as_text=True)
    assert html.count('<span class="badge badge-warn">En retard</span>') == 2  # late + returned
    only_late = staff.get("/gestion/rapports?retard=1").get_data(as_text=True)
    assert "2 comptes rendus." in only_late
    assert f'href="/gestion/rapports/{late_world.late}"' in only_late
    assert f'href="/gestion/rapports/{late_world.returned}"' in only_late
    assert f'href="/gestion/rapports/{late_world.soon}"' not in only_late
    # the other filters
    by_year = staff.get("/gestion/rapports?annee=2018").get_data(as_text=True)
    assert "1 compte rendu." in by_year and f"/gestion/rapports/{late_world.soon}" in by_year
    by_status = staff.get("/gestion/rapports?statut=accepted").get_data(as_text=True)
    assert "1 compte rendu." in by_status and f"/gestion/rapports/{late_world.done}" in by_status
    by_call = staff.get(f"/gestion/rapports?appel={late_world.call}&statut=due")
    assert "4 comptes rendus." in by_call.get_data(as_text=True)  # 2016 ×2, late, soon
    assert staff.get("/gestion/rapports?appel=abc&annee=x&statut=zzz").status_code == 200


def test_reports_due_in_30_days_are_reminded_once(app, late_world, in_app, mails_to):
    from grants.reports.tasks import remind_reports_due

    assert _run(app, remind_reports_due) == 2  # alice and albert, for the 2018 report
    assert _run(app, remind_reports_due) == 0  # beat fires again: nothing new
    rows = _notifications(in_app, "report.due_soon")
    due_on = (_today() + timedelta(days=30)).isoformat()
    assert sorted(rows) == sorted(
        [
            (late_world.alice, str(late_world.soon), due_on, False),
            (late_world.albert, str(late_world.soon), due_on, False),
        ]
    )
    for address in (ALICE, ALBERT):
        [mail] = mails_to(address)
        assert "dans 30 jours" in str(mail["Subject"])
        assert f"/rapports/{late_world.soon}" in mail_text(mail)
    assert mails_to("bruno@autre.example") == []


def test_overdue_reports_are_reminded_once_per_due_date(app, late_world, in_app, mails_to):
    from grants.reports.tasks import remind_reports_overdue

    # A's late 2017 report (2 members) and B's returned one (1 member); not the accepted
    # nor the submitted ones
    assert _run(app, remind_reports_overdue) == 3
    assert _run(app, remind_reports_overdue) == 0
    rows = _notifications(in_app, "report.overdue")
    assert Counter((r[0], r[1]) for r in rows) == {
        (late_world.alice, str(late_world.late)): 1,
        (late_world.albert, str(late_world.late)): 1,
        (late_world.bruno, str(late_world.returned)): 1,
    }
    assert all(r[2].startswith("overdue-") and r[3] is False for r in rows)
    [mail] = mails_to(ALICE)
    assert "en retard" in str(mail["Subject"])
    assert len(mails_to("bruno@autre.example")) == 1


def test_overdue_reminders_fired_twice_at_once_send_one(app, late_world, in_app, mails_to):
    from grants.reports.tasks import remind_reports_overdue

    barrier = threading.Barrier(2)
    results: list = []
    errors: list = []

    def _fire():
        try:
            barrier.wait(timeout=10)
            results.append(_run(app, remind_reports_overdue))
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=_fire) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sorted(results, key=str) in ([0, 3], [3, "locked"])
    assert len(_notifications(in_app, "report.overdue")) == 3
    assert len(mails_to(ALICE)) == 1


def test_reminder_emails_respect_the_preference_but_stay_in_the_inbox(
    app, late_world, in_app, mails_to
):
    from grants.extensions import db
    from grants.notifications.models import NotificationPreference
    from grants.reports.tasks import remind_reports_overdue

    def _off():
        db.session.add(NotificationPreference(user_id=late_world.alice, email_reminders=False))
        db.session.commit()

    in_app(_off)
    assert _run(app, remind_reports_overdue) == 3
    assert mails_to(ALICE) == []
    assert len(mails_to(ALBERT)) == 1
    assert (late_world.alice, str(late_world.late)) in {
        (r[0], r[1]) for r in _notifications(in_app, "report.overdue")
    }


def test_the_beat_entries_name_the_tasks():
    from celery import current_app

    from worker.schedule import BEAT_SCHEDULE

    names = {entry["task"] for entry in BEAT_SCHEDULE.values()}
    assert {"grants.reports.remind_reports_due", "grants.reports.remind_reports_overdue"} <= names
    # Every periodic task of the schedule exists.
    assert names <= set(current_app.tasks)
