"""``grants schedule …``: the schedule commands (``grants budget …`` is in budget_cli)."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from grants.funding.rules import (
    ScheduleInputError,
    compute_schedule,
    parse_simulation_text,
    result_to_json,
)

schedule = AppGroup("schedule", help="Échéanciers dégressifs pluriannuels.")

#: the exit code of invalid input (like a usage error)
INVALID_INPUT = 2


def _fail(message: str) -> None:
    click.echo(f"Erreur : {message}", err=True)
    raise click.exceptions.Exit(INVALID_INPUT)


@schedule.command("simulate")
@click.argument("source", metavar="FICHIER")
def simulate_command(source: str) -> None:
    """Simule les échéanciers d'un appel sans rien enregistrer.

    FICHIER (ou « - » pour l'entrée standard) contient :
    {"envelopes": {"2016": "60000", "2017": "55000", "2018": "50000"}, "unit": "1",
    "profile": null, "awards": [{"id": "A", "amount": "12000", "rank": 1}]}.
    Les montants et les poids sont des chaînes décimales ; « profile » vaut null (profil
    dérivé des enveloppes) ou une liste d'un poids par année. Le résultat (JSON, montants
    en chaînes décimales) est écrit sur la sortie standard ; une entrée invalide donne un
    message sur la sortie d'erreur et le code de sortie 2.
    """
    try:
        with click.open_file(source, encoding="utf-8") as handle:  # "-": standard input
            text = handle.read()
    except FileNotFoundError:
        _fail(f"le fichier « {source} » n'existe pas.")
    except UnicodeDecodeError:
        _fail(f"« {source} » n'est pas un texte UTF-8.")
    except IsADirectoryError:
        _fail(f"« {source} » est un dossier, pas un fichier.")
    except PermissionError:
        _fail(f"vous n'avez pas le droit de lire « {source} ».")
    except OSError as exc:
        _fail(f"impossible de lire « {source} » ({exc.strerror or exc}).")
    try:
        output = simulate_text(text)
    except ScheduleInputError as exc:
        _fail("\n".join(exc.problems))
    click.echo(json.dumps(output, ensure_ascii=False, indent=2))


def simulate_text(text: str) -> dict:
    """The simulation file's text → the output JSON (ScheduleInputError when invalid)."""
    simulation = parse_simulation_text(text)
    return result_to_json(compute_schedule(**simulation.arguments()))
