"""``grants users create|token``."""

from __future__ import annotations

import sys

import click
from email_validator import EmailNotValidError, validate_email
from flask.cli import AppGroup

from grants.core.enums import Role

users = AppGroup("users", help="Gestion des comptes depuis le shell.")

USAGE_ERROR = 2


def _fail(message: str, code: int = USAGE_ERROR):
    click.echo(f"Erreur : {message}", err=True)
    raise click.exceptions.Exit(code)


def _read_password(email: str, from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(
            f"Mot de passe pour {email}",
            hide_input=True,
            confirmation_prompt="Confirmez le mot de passe",
        )
    return password


@users.command("create")
@click.option("--email", required=True, help="Adresse e-mail (identifiant de connexion).")
@click.option(
    "--role",
    "roles",
    multiple=True,
    type=click.Choice([r.value for r in Role]),
    help="Rôle à accorder (répétable). Tout compte est porteur de projet.",
)
@click.option("--name", default="", help="Nom et prénom.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Lire le mot de passe sur l'entrée standard (une ligne) au lieu de le demander.",
)
def create_command(email: str, roles: tuple[str, ...], name: str, password_stdin: bool) -> None:
    """Crée un compte confirmé, ou ajoute des rôles à un compte existant."""
    from grants.accounts.operations import (
        AccountError,
        create_user,
        find_user_by_email,
        normalise_email,
        set_roles,
    )
    from grants.accounts.rules import password_problems
    from grants.extensions import db

    try:
        email = normalise_email(validate_email(email, check_deliverability=False).normalized)
    except EmailNotValidError as exc:
        _fail(f"adresse e-mail invalide ({exc}).")
    wanted = {Role(r) for r in roles}
    user = find_user_by_email(email)
    if user is not None:
        added = wanted - user.roles
        if not added:
            click.echo(f"Le compte {email} existe déjà et a déjà ces rôles : rien à faire.")
            return
        set_roles(user, user.roles | added, actor=None)
        db.session.commit()
        labels = ", ".join(sorted(r.label for r in added))
        click.echo(f"Le compte {email} existe déjà : rôles ajoutés ({labels}).")
        return
    password = _read_password(email, password_stdin)
    problems = password_problems(password, email)
    if problems:
        _fail("mot de passe refusé. " + " ".join(problems))
    try:
        user = create_user(email, password, full_name=name, roles=wanted, confirmed=True)
    except AccountError as exc:
        _fail(str(exc))
    db.session.commit()
    labels = ", ".join(sorted(r.label for r in user.roles))
    click.echo(f"Compte {email} créé (rôles : {labels}).")


@users.command("token")
@click.argument("email")
@click.option("--name", default="Jeton créé en ligne de commande", help="Nom du jeton.")
def token_command(email: str, name: str) -> None:
    """Crée un jeton d'API pour EMAIL et l'affiche (seul le jeton va sur la sortie standard)."""
    from grants.accounts.operations import create_api_token, find_user_by_email
    from grants.extensions import db

    user = find_user_by_email(email)
    if user is None:
        _fail(f"aucun compte pour {email}.", code=1)
    if not user.is_active:
        _fail(f"le compte {email} est désactivé.", code=1)
    _, clear = create_api_token(user, name)
    db.session.commit()
    click.echo(clear)
