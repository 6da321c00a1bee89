"""``grants demo``: demo accounts, organisations, calls and files, loaded idempotently.

What is loaded (see the modules):

* :mod:`grants.demo.people`: the demo accounts of each role (passwords generated once per
  instance in ``instance/demo_accounts.json``) and eight ESS organisations;
* :mod:`grants.demo.calls`: « Appel à projets ESS 2016 » (historical, closed),
  « Aide à l'investissement 2016 » (open, rolling) and « Appel à projets ESS 2023 —
  secteurs prioritaires » (open);
* :mod:`grants.demo.files`: files in every state, built and submitted through the
  applications operations (references, snapshots, receipts made by the worker);
* :mod:`grants.demo.budget`: the seeds' budget lines, the calls' lines, the 2016
  conventions of network heads and the PLIE commitment;
* :mod:`grants.demo.reviews`: five reviewers, their declared links, the pools, the 2016
  call's files scored (with a conflict declared on one assignment), reviews to do today;
* :mod:`grants.demo.decisions`: the 2016 committee session and its decisions (six
  laureates, one rejection), the call marked decided;
* :mod:`grants.demo.payments`: the 2016 awards and their degressive schedules (computed
  in-process, without a worker), the conventions signed in 2016, the payments of 2016 and
  2017 (one partial, one still to validate), the 2016 annual reports (accepted, one
  returned, one late).

A second run changes nothing and prints the same accounts: users are found by e-mail,
organisations by name, calls by reference prefix, files by (call, organisation), links,
reviews, decisions, sessions and commitments by what they are about; schedules are
computed only while an award's tranches don't make its total, and conventions, payments
and reports are played only from the state they wait in.
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from grants.core.enums import Role
from grants.demo.people import ACCOUNT_LABELS, DEMO_ORGANISATIONS, DEMO_USERS

__all__ = ["ACCOUNT_LABELS", "DEMO_ORGANISATIONS", "DEMO_USERS", "demo_command", "load_demo"]


def load_demo(notes: list[str] | None = None) -> dict[str, tuple[str, str, list[Role]]]:
    """Create what is missing and commit; return ``{key: (email, password, roles)}``.

    ``notes`` (if given) receives a line for each demo file that could not be played.
    """
    from grants.core.db import utcnow
    from grants.demo.budget import load_budget
    from grants.demo.calls import load_calls
    from grants.demo.decisions import load_decisions
    from grants.demo.files import load_files
    from grants.demo.payments import load_payments
    from grants.demo.people import load_organisations, load_users
    from grants.demo.reviews import load_reviews
    from grants.extensions import db

    loaded_at = utcnow()
    users, accounts = load_users()
    staff = users["staff"]
    organisations = load_organisations(users)
    calls = load_calls(staff, loaded_at)
    skipped = load_files(users, organisations, calls, staff, loaded_at)
    skipped += load_budget(calls, staff)
    load_reviews(users, organisations, calls, staff)
    load_decisions(organisations, calls, staff, loaded_at)
    load_payments(calls, staff)
    if notes is not None:
        notes.extend(skipped)
    db.session.commit()
    return accounts


@click.command("demo")
@with_appcontext
def demo_command() -> None:
    """Charge les données de démonstration (idempotent) et affiche les comptes."""
    notes: list[str] = []
    accounts = load_demo(notes)
    for note in notes:
        click.echo(note)
    click.echo("\nComptes de démonstration :")
    for key, (email, password, _roles) in accounts.items():
        click.echo(f"  {ACCOUNT_LABELS[key]:<22} {email:<34} mot de passe : {password}")
    click.echo("")
