"""``grants demo``: demo accounts, organisations, calls and files, loaded idempotently.

What is loaded (see the modules):

* :mod:`grants.demo.people`: the demo accounts of each role (passwords generated once per
  instance in ``instance/demo_accounts.json``) and eight ESS organisations;
* :mod:`grants.demo.calls`: « Appel à projets ESS 2016 » (historical, closed),
  « Aide à l'investissement 2016 » (open, rolling) and « Appel à projets ESS 2023 —
  secteurs prioritaires » (open);
* :mod:`grants.demo.files`: files in every state, built and submitted through the
  applications operations (references, snapshots, receipts made by the worker).

A second run changes nothing and prints the same accounts: users are found by e-mail,
organisations by name, calls by reference prefix, files by (call, organisation).
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from grants.core.enums import Role
from grants.demo.people import DEMO_ORGANISATIONS, DEMO_USERS

__all__ = ["DEMO_ORGANISATIONS", "DEMO_USERS", "demo_command", "load_demo"]


def load_demo(notes: list[str] | None = None) -> dict[str, tuple[str, str, list[Role]]]:
    """Create what is missing and commit; return ``{key: (email, password, roles)}``.

    ``notes`` (if given) receives a line for each demo file that could not be played.
    """
    from grants.core.db import utcnow
    from grants.demo.calls import load_calls
    from grants.demo.files import load_files
    from grants.demo.people import load_organisations, load_users
    from grants.extensions import db

    loaded_at = utcnow()
    users, accounts = load_users()
    organisations = load_organisations(users)
    calls = load_calls(users["staff"], loaded_at)
    skipped = load_files(users, organisations, calls, users["staff"], loaded_at)
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
    labels = {
        "admin": "Administrateur",
        "staff": "Agent du service ESS",
        "reviewer": "Évaluateur",
        "applicant": "Porteur de projet",
        "applicant2": "Porteur de projet",
    }
    click.echo("\nComptes de démonstration :")
    for key, (email, password, _roles) in accounts.items():
        click.echo(f"  {labels[key]:<22} {email:<34} mot de passe : {password}")
    click.echo("")
