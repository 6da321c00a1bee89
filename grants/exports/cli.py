"""``grants export scdl --year YYYY [--all] [--output FILE]``: the SCDL open-data CSV.

The file goes to standard output (or ``--output``) only once it validates against the
official schema and its custom checks; otherwise nothing is written there, the problems
are listed on standard error and the exit code is 2. What was exported and left out
(awards without a signed convention, awards of 23,000 EUR or less without ``--all``) is
said on standard error. See :mod:`grants.exports.scdl` for the choices.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from grants.exports.operations import MAX_YEAR, MIN_YEAR

export_group = AppGroup("export", help="Exports : données ouvertes des subventions (SCDL).")

INVALID_DATA = 2


@export_group.command("scdl")
@click.option(
    "--year",
    type=click.IntRange(MIN_YEAR, MAX_YEAR),
    required=True,
    help="Année des décisions d'attribution.",
)
@click.option(
    "--all",
    "include_all",
    is_flag=True,
    help="Toutes les aides, pas seulement celles de plus de 23 000 € (obligation légale).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, allow_dash=True),
    default="-",
    show_default=True,
    help="Fichier de sortie (« - » : sortie standard).",
)
def scdl_command(year: int, include_all: bool, output: str) -> None:
    """Le CSV des subventions attribuées une année, au format SCDL 2.1.1, vérifié."""
    from grants.exports import scdl
    from grants.extensions import db

    with tempfile.TemporaryDirectory(prefix="grants-scdl-") as folder:
        path = Path(folder) / "scdl.csv"
        result = scdl.build_scdl(path, year, current_app.config, include_all=include_all)
        db.session.rollback()
        if not result.valid:
            click.echo(f"Erreur : {scdl.problem_text(result)}", err=True)
            click.echo("Aucun fichier n'a été produit.", err=True)
            raise click.exceptions.Exit(INVALID_DATA)
        if output == "-":
            sys.stdout.flush()
            target = sys.stdout.buffer
            with path.open("rb") as fh:
                shutil.copyfileobj(fh, target)
            target.flush()
        else:
            try:
                shutil.copyfile(path, output)
            except OSError as exc:
                click.echo(
                    f"Erreur : impossible d'écrire {output} ({exc.strerror or exc}).", err=True
                )
                raise click.exceptions.Exit(INVALID_DATA) from exc
    click.echo(result.summary(), err=True)
