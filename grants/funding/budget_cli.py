"""``grants budget import|report``: budget lines, the ``funding`` feature's budget side.

``grants budget import FILE.csv`` (or ``-`` for stdin) upserts a table in the format of the
seeds (``section,rubrique,ligne,<year>,…``) for the configured funder; importing the same
file twice changes nothing. A malformed file changes nothing either: every problem is
printed on stderr with its line number, exit code 2.

``grants budget report --year YYYY --format json|table`` prints voted / committed / paid /
remaining per line with the totals per section (the JSON of ``/api/v1/budget/report``).
"""

from __future__ import annotations

import json
import sys

import click
from flask.cli import AppGroup

from grants.funding.budget import MAX_YEAR, MIN_YEAR

budget_group = AppGroup("budget", help="Lignes budgétaires : import des tableaux, état du budget.")

USAGE_ERROR = 2


def _fail(messages: list[str]) -> None:
    for message in messages:
        click.echo(f"Erreur : {message}", err=True)
    raise click.exceptions.Exit(USAGE_ERROR)


@budget_group.command("import")
@click.argument("path", type=click.Path(dir_okay=False, allow_dash=True))
def import_command(path: str) -> None:
    """Importe un tableau CSV (section,rubrique,ligne,<année>,…) ; « - » : entrée standard."""
    from sqlalchemy.exc import IntegrityError

    from grants.extensions import db
    from grants.funding import budget, budget_operations

    if path == "-":
        data = sys.stdin.buffer.read()
        source = "entrée standard"
    else:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            _fail([f"impossible de lire {path} ({exc.strerror or exc})."])
        source = path.rsplit("/", 1)[-1]
    try:
        result = budget_operations.import_csv(data, actor=None, source=source)
    except budget.BudgetCsvError as exc:
        db.session.rollback()
        _fail([f"{source} : {m}" for m in exc.messages] + ["Rien n'a été importé."])
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        _fail(["une autre importation a modifié les mêmes lignes en même temps ; relancez."])
    verdict = "Import terminé" if result.changed else "Déjà à jour, rien n'a changé"
    click.echo(f"{verdict} ({source}) : {result.summary()}.")
    for year, sums in sorted(result.totals.items()):
        shown = ", ".join(
            f"{budget.SECTION_LABELS[s].lower()} {budget.format_euros(amount)}"
            for s, amount in sums.items()
            if amount
        )
        click.echo(f"  {year} : {shown or 'aucun montant'}")


@budget_group.command("report")
@click.option(
    "--year", type=click.IntRange(MIN_YEAR, MAX_YEAR), required=True, help="Année budgétaire."
)
@click.option(
    "--format",
    "output",
    type=click.Choice(["json", "table"]),
    default="table",
    show_default=True,
    help="json (montants décimaux en chaînes) ou tableau lisible.",
)
def report_command(year: int, output: str) -> None:
    """Voté, engagé, versé et reste par ligne, avec les totaux par section."""
    from grants.core.models import default_funder
    from grants.extensions import db
    from grants.funding import budget, budget_queries

    data = budget_queries.report(default_funder().id, year).as_json()
    db.session.commit()  # default_funder() may have created the funder row
    if output == "json":
        click.echo(json.dumps(data, ensure_ascii=False))
    else:
        click.echo(budget.format_table(data), nl=False)
