#!/usr/bin/env python3
"""Quick start: ``python3 dev.py start`` runs the application, ``python3 dev.py test`` the tests.

Needs only Python 3.11+. Creates ``.venv`` inside the repository and installs the project
into it (again only when ``pyproject.toml`` changed), then:

* ``start``: upgrades the database, loads the demo data (idempotent), prints the demo
  accounts, and runs the web application on http://127.0.0.1:5000 together with a real
  Celery worker and Celery beat. Ctrl-C stops all three. Without configuration everything
  is embedded (SQLite, a filesystem broker and a mail sink under ``instance/``);
  ``DATABASE_URL`` and ``CELERY_BROKER_URL`` switch to PostgreSQL and Redis.
* ``test``: runs the whole test suite (extra arguments go to pytest).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".grants-installed"

if sys.version_info < (3, 11):  # noqa: UP036 (dev.py may be started by any python3)
    sys.exit("grants needs Python 3.11 or newer.")


def ensure_venv() -> None:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == digest and PYTHON.exists():
        return
    if not PYTHON.exists():
        print("→ Création de l'environnement virtuel .venv …", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("→ Installation des dépendances (une seule fois) …", flush=True)
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[test]"], check=True, cwd=ROOT)
    STAMP.write_text(digest)


def grants(*args: str, env: dict | None = None) -> None:
    subprocess.run([str(BIN / "grants"), *args], check=True, cwd=ROOT, env=env)


def start() -> int:
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    # Plain http on the loopback interface: Chromium keeps "Secure" cookies there, Safari
    # does not; the local demo turns the flag off (production keeps the default, on).
    env.setdefault("SESSION_COOKIE_SECURE", "0")
    grants("db", "upgrade", env=env)
    grants("demo", env=env)
    commands = {
        "web": [str(BIN / "grants"), "run", "--host", "127.0.0.1", "--port", "5000"],
        "worker": [str(BIN / "celery"), "-A", "worker", "worker", "--loglevel=INFO"],
        "beat": [str(BIN / "celery"), "-A", "worker", "beat", "--loglevel=INFO"],
    }
    procs: dict[str, subprocess.Popen] = {}
    try:
        for name, cmd in commands.items():
            procs[name] = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
        print("\n→ Application : http://127.0.0.1:5000  (Ctrl-C pour tout arrêter)\n", flush=True)
        while True:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    print(f"✗ Le processus « {name} » s'est arrêté (code {proc.returncode}).")
                    return proc.returncode or 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\n→ Arrêt …", flush=True)
        return 0
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                # The main process only: Celery then finishes its running tasks (warm
                # shutdown) and stops its pool itself.
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def test(args: list[str]) -> int:
    return subprocess.run([str(PYTHON), "-m", "pytest", *args], cwd=ROOT).returncode


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in {"start", "test"}:
        print(__doc__)
        return 2
    ensure_venv()
    if sys.argv[1] == "start":
        return start()
    return test(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
