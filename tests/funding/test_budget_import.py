"""``grants budget import``: the seeds' tables, idempotence, audit, malformed files."""

from __future__ import annotations

import json

import sqlalchemy as sa

from tests.fixtures.funding import BUDGET_DATA, SEED_TABLES


def _invoke(app, *args, input=None):
    return app.test_cli_runner().invoke(args=list(args), input=input)


def _counts(app) -> tuple[int, int, int]:
    from grants.audit.models import AuditEntry
    from grants.extensions import db
    from grants.funding.models import FundingLine, FundingLineYear

    with app.app_context():
        counts = tuple(
            db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (FundingLine, FundingLineYear, AuditEntry)
        )
        db.session.remove()
    return counts


def _report(app, year: int) -> dict:
    result = _invoke(app, "budget", "report", "--year", str(year), "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _import_seeds(app):
    for name in SEED_TABLES:
        result = _invoke(app, "budget", "import", str(BUDGET_DATA / name))
        assert result.exit_code == 0, result.stderr


def test_importing_the_seeds_shows_the_designs_totals(app):
    _import_seeds(app)
    totals = {
        year: {s["section"]: s["voted"] for s in _report(app, year)["sections"]}
        for year in (2016, 2017, 2018)
    }
    assert totals == {
        2016: {"fonctionnement": "445520.00", "investissement": "200000.00"},
        2017: {"fonctionnement": "440520.00", "investissement": "200000.00"},
        2018: {"fonctionnement": "435520.00", "investissement": "200000.00"},
    }
    lines, votes, audits = _counts(app)
    assert (lines, votes) == (23 + 4 + 13, 3 * (23 + 4 + 13))
    assert audits == lines  # one entry per line created (with its votes)


def test_importing_twice_changes_nothing(app):
    _import_seeds(app)
    before = _counts(app)
    first_report = _report(app, 2016)
    result = _invoke(app, "budget", "import", str(BUDGET_DATA / SEED_TABLES[0]))
    assert result.exit_code == 0
    assert result.stdout.startswith("Déjà à jour, rien n'a changé")
    assert "0 ligne(s) créée(s), 0 vote(s) ajouté(s), 0 vote(s) modifié(s), 69 inchangé(s)" in (
        result.stdout
    )
    assert _counts(app) == before
    assert _report(app, 2016) == first_report


def test_a_changed_vote_is_updated_and_audited(app, tmp_path):
    from grants.audit.models import AuditEntry
    from grants.extensions import db

    _import_seeds(app)
    lines, votes, audits = _counts(app)
    text = (BUDGET_DATA / SEED_TABLES[0]).read_text(encoding="utf-8")
    changed = tmp_path / "budget.csv"
    changed.write_text(
        text.replace("CRESS,20000,20000,20000", "CRESS,20000,21500.5,20000")
        + "fonctionnement,communication,Nouvelle ligne,1000,,\n",
        encoding="utf-8",
    )
    result = _invoke(app, "budget", "import", str(changed))
    assert result.exit_code == 0, result.stderr
    assert "1 ligne(s) créée(s), 1 vote(s) ajouté(s), 1 vote(s) modifié(s)" in result.stdout
    assert _counts(app) == (lines + 1, votes + 1, audits + 2)
    with app.app_context():
        entry = db.session.scalars(
            sa.select(AuditEntry)
            .where(AuditEntry.action == "budget_line.import")
            .order_by(AuditEntry.id.desc())
            .limit(2)
        ).all()
        changes = sorted((e.changes for e in entry), key=len)
        db.session.remove()
    assert changes[0] == {"voted_2017": ["20000.00", "21500.50"]}
    assert changes[1]["label"] == [None, "Nouvelle ligne"]
    assert changes[1]["voted_2016"] == [None, "1000.00"]
    assert _report(app, 2017)["sections"][0]["voted"] == "442020.50"


def test_a_malformed_file_changes_nothing_and_exits_2(app, tmp_path):
    bad = tmp_path / "budget.csv"
    bad.write_text(
        "section,rubrique,ligne,2016,2017\n"
        "fonctionnement,têtes de réseau,CRESS,20000,20000\n"
        "fonctionement,têtes de réseau,ADIE,45000,45000\n"
        "investissement,outils,Prêts,dix mille,10000\n",
        encoding="utf-8",
    )
    result = _invoke(app, "budget", "import", str(bad))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "Erreur : budget.csv : Ligne 3 : Section « fonctionement » inconnue : fonctionnement "
        "ou investissement.",
        "Erreur : budget.csv : Ligne 4 : montant 2016 : « dix mille » n'est pas un montant : "
        "des chiffres, avec au plus deux décimales (ex. 20000 ou 20000.50).",
        "Erreur : Rien n'a été importé.",
    ]
    assert _counts(app) == (0, 0, 0)


def test_a_missing_file_exits_2(app, tmp_path):
    result = _invoke(app, "budget", "import", str(tmp_path / "absent.csv"))
    assert result.exit_code == 2
    assert "impossible de lire" in result.stderr


def test_import_from_stdin(app):
    data = (BUDGET_DATA / SEED_TABLES[1]).read_bytes()
    result = _invoke(app, "budget", "import", "-", input=data)
    assert result.exit_code == 0, result.stderr
    assert "4 ligne(s) créée(s)" in result.stdout
    assert "2016 : investissement 200" in result.stdout.replace("\u202f", " ")


def test_load_seed_budget_reads_the_package_copy_and_is_idempotent(app):
    from grants.extensions import db
    from grants.funding.budget_operations import load_seed_budget

    with app.app_context():
        first = load_seed_budget()
        db.session.commit()
        second = load_seed_budget()
        db.session.commit()
        db.session.remove()
    assert first.lines_created == 40 and first.votes_created == 120
    assert not second.changed and second.votes_unchanged == 120
    assert first.totals[2016] == {"fonctionnement": 445520, "investissement": 200000}
    assert _report(app, 2016)["sections"][1]["voted"] == "200000.00"


def test_the_package_copy_is_the_test_copy():
    from importlib import resources

    for name in SEED_TABLES:
        packaged = (resources.files("grants") / "data" / name).read_bytes()
        assert packaged == (BUDGET_DATA / name).read_bytes(), name
