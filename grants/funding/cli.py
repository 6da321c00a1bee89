"""``grants schedule …`` and ``grants budget …``."""

from __future__ import annotations

from flask.cli import AppGroup

schedule = AppGroup("schedule", help="Échéanciers dégressifs pluriannuels.")
