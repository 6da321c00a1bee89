"""``grants demo``: demo accounts and organisations, loaded idempotently.

The demo passwords are generated once per instance (``instance/demo_accounts.json``, mode
0600) rather than written in the repository, so a deployment that loads the demo by mistake
does not open with known passwords. A second run changes nothing and prints the same accounts.
"""

from __future__ import annotations

import json
import os
import secrets
from decimal import Decimal
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app

from grants.core.enums import Role

DEMO_USERS = [
    # key, e-mail, full name, roles
    ("admin", "admin@demo.grants.local", "Alice Administratrice", [Role.admin, Role.staff]),
    ("staff", "agent@demo.grants.local", "Sébastien Agent ESS", [Role.staff]),
    ("reviewer", "evaluatrice@demo.grants.local", "Rachida Évaluatrice", [Role.reviewer]),
    ("applicant", "porteur@demo.grants.local", "Paul Porteur", []),
    ("applicant2", "cooperative@demo.grants.local", "Camille Coopératrice", []),
]

DEMO_ORGANISATIONS = [
    {
        "members": ["applicant"],
        "name": "Recyclerie des Hauts de Garonne",
        "legal_form": "association",
        "siret": "81234567800011",
        "rna": "W332012345",
        "address": "12 avenue Jean Zay",
        "postal_code": "33150",
        "city": "Cenon",
        "commune_insee": "33119",
        "in_qpv": True,
        "esus_approved": True,
        "has_economic_activity": True,
        "employees": 9,
        "fte": Decimal("7.5"),
        "volunteers": 25,
    },
    {
        "members": ["applicant2"],
        "name": "SCIC Bâtir Ensemble",
        "legal_form": "scic",
        "siret": "82345678900024",
        "rna": None,
        "address": "5 quai de Brazza",
        "postal_code": "33100",
        "city": "Bordeaux",
        "commune_insee": "33063",
        "in_qpv": False,
        "esus_approved": True,
        "has_economic_activity": True,
        "employees": 14,
        "fte": Decimal("12.8"),
        "volunteers": 3,
    },
]


def _luhn_siret(base13: str) -> str:
    from stdnum import luhn

    return base13 + luhn.calc_check_digit(base13)


def _passwords() -> dict[str, str]:
    path = Path(current_app.config["INSTANCE_PATH"]) / "demo_accounts.json"
    stored = json.loads(path.read_text()) if path.exists() else {}
    changed = False
    for key, *_ in DEMO_USERS:
        if key not in stored:
            stored[key] = "demo-" + secrets.token_urlsafe(12)
            changed = True
    if changed:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(stored, fh, indent=2)
    return stored


def load_demo() -> dict[str, tuple[str, str, list[Role]]]:
    """Create what is missing; return ``{key: (email, password, roles)}``."""
    from grants.accounts.operations import create_user, find_user_by_email
    from grants.audit.operations import record
    from grants.extensions import db
    from grants.organisations.models import LegalForm, Membership, Organisation

    passwords = _passwords()
    users: dict = {}
    accounts = {}
    for key, email, name, roles in DEMO_USERS:
        user = find_user_by_email(email)
        if user is None:
            user = create_user(email, passwords[key], full_name=name, roles=roles, confirmed=True)
        users[key] = user
        accounts[key] = (email, passwords[key], sorted({Role.applicant, *roles}))
    for spec in DEMO_ORGANISATIONS:
        spec = dict(spec)
        members = spec.pop("members")
        siret = _luhn_siret(spec["siret"][:13])
        spec["siret"] = siret
        spec["legal_form"] = LegalForm(spec["legal_form"])
        if db.session.scalar(sa.select(Organisation.id).where(Organisation.siret == siret)):
            continue
        org = Organisation(**spec)
        org.memberships = [Membership(user=users[m]) for m in members]
        db.session.add(org)
        db.session.flush()
        record(users[members[0]], "organisation.create", org, summary=f"Création de {org.name}")
    db.session.commit()
    return accounts


@click.command("demo")
def demo_command() -> None:
    """Charge les données de démonstration (idempotent) et affiche les comptes."""
    accounts = load_demo()
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
