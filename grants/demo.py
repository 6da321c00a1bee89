"""``grants demo``: idempotent demo data."""

from __future__ import annotations

import click


@click.command("demo")
def demo_command() -> None:
    """Charge les données de démonstration (idempotent)."""
