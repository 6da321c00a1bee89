"""The ``grants`` command: Flask's CLI plus the project's own commands."""

from __future__ import annotations

import click
from flask.cli import FlaskGroup


def _create_app():
    from grants import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, load_dotenv=False)
def main() -> None:
    """Subventions ESS: application, base de données et outils d'administration."""


def register_commands(app) -> None:
    from grants.accounts.cli import users
    from grants.demo import demo_command
    from grants.exports.cli import export_group
    from grants.funding.budget_cli import budget_group
    from grants.funding.cli import schedule

    app.cli.add_command(users)
    app.cli.add_command(schedule)
    app.cli.add_command(budget_group)
    app.cli.add_command(demo_command)
    app.cli.add_command(export_group)
