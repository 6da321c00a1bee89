"""``grants schedule simulate FILE`` (or ``-`` for stdin)."""

from __future__ import annotations

import json

import pytest

ISSUE_EXAMPLE = {
    "envelopes": {"2016": "60000", "2017": "55000", "2018": "50000"},
    "unit": "1",
    "profile": None,
    "awards": [
        {"id": "A", "amount": "12000", "rank": 1},
        {"id": "B", "amount": "40000", "rank": 2},
    ],
}


def simulate(app, payload, *, text=None, args=("-",)):
    runner = app.test_cli_runner()
    body = text if text is not None else json.dumps(payload)
    return runner.invoke(args=["schedule", "simulate", *args], input=body)


def test_the_issue_example_from_stdin(app):
    result = simulate(app, ISSUE_EXAMPLE)

    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    output = json.loads(result.stdout)
    assert output == {
        "fits": True,
        "schedules": [
            {"id": "A", "tranches": {"2016": "4364", "2017": "4000", "2018": "3636"}},
            {"id": "B", "tranches": {"2016": "14546", "2017": "13333", "2018": "12121"}},
        ],
        "totals": {"2016": "18910", "2017": "17333", "2018": "15757"},
        "overflow": {"2016": "0", "2017": "0", "2018": "0"},
    }


def test_the_seeds_fallback_from_a_file_lists_the_overflow_and_two_alternatives(app, tmp_path):
    payload = {
        "envelopes": {"2016": "30500", "2017": "55000", "2018": "50000"},
        "unit": "1",
        "profile": ["0.363637", "0.333333", "0.303030"],
        "awards": [
            {"id": name, "amount": amount, "rank": rank}
            for rank, (name, amount) in enumerate(
                [("A", "40000"), ("B", "35000"), ("C", "30000")]
                + [("D", "25000"), ("E", "20000"), ("F", "15000")],
                start=1,
            )
        ],
    }
    path = tmp_path / "simulation.json"
    path.write_text(json.dumps(payload), encoding="utf-8")

    result = simulate(app, None, text="", args=(str(path),))

    assert result.exit_code == 0, result.output
    output = json.loads(result.stdout)
    assert output["fits"] is False
    assert output["overflow"] == {"2016": "29500", "2017": "0", "2018": "0"}
    assert set(output["alternatives"]) == {"proportional", "by_rank"}
    by_rank = {row["id"]: row["tranches"] for row in output["alternatives"]["by_rank"]}
    assert by_rank["C"] == {"2016": "3228", "2017": "2960", "2018": "2691"}
    assert by_rank["F"] == {"2016": "0", "2017": "0", "2018": "0"}
    for rows in output["alternatives"].values():
        assert sum(int(row["tranches"]["2016"]) for row in rows) <= 30500
    assert "errors" not in output


def test_cents_are_printed_with_two_decimals_and_per_award_errors_are_listed(app):
    payload = {
        **ISSUE_EXAMPLE,
        "unit": "0.01",
        "awards": [
            {"id": "A", "amount": "12345.67", "rank": 1},
            {"id": "B", "amount": "0.05", "rank": 2},
        ],
    }
    result = simulate(app, payload)

    assert result.exit_code == 0, result.output
    output = json.loads(result.stdout)
    assert output["schedules"] == [
        {"id": "A", "tranches": {"2016": "4489.34", "2017": "4115.22", "2018": "3741.11"}}
    ]
    assert output["overflow"] == {"2016": "0.00", "2017": "0.00", "2018": "0.00"}
    assert list(output["errors"]) == ["B"]
    assert "au moins 0,06" in output["errors"]["B"]


def test_unit_and_profile_may_be_left_out(app):
    payload = {key: ISSUE_EXAMPLE[key] for key in ("envelopes", "awards")}
    result = simulate(app, payload)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == json.loads(simulate(app, ISSUE_EXAMPLE).stdout)


def with_award(**fields):
    return {**ISSUE_EXAMPLE, "awards": [{"id": "A", "amount": "12000", "rank": 1, **fields}]}


@pytest.mark.parametrize(
    ("payload", "text", "message"),
    [
        (None, '{"envelopes": ', "JSON invalide (ligne 1"),
        ([1, 2], None, "Attendu un objet JSON"),
        ({"envelopes": ISSUE_EXAMPLE["envelopes"]}, None, "« awards » est obligatoire"),
        ({**ISSUE_EXAMPLE, "profil": None}, None, "Clé inconnue : « profil »"),
        (None, '{"envelopes": {"2016": "1", "2016": "2"}, "awards": []}', "figure deux fois"),
        ({**ISSUE_EXAMPLE, "envelopes": {"2016": 60000}}, None, "entre guillemets"),
        (with_award(amount=12000), None, "les nombres JSON sont refusés"),
        (with_award(amount=12000.5), None, "les nombres JSON sont refusés"),
        (with_award(amount="-12000"), None, "ne peut pas être négative"),
        (with_award(amount="12 000"), None, "n'est pas un nombre décimal"),
        (with_award(amount="1e4"), None, "n'est pas un nombre décimal"),
        (with_award(amount="0"), None, "doit être positif"),
        (with_award(rank="1"), None, "« rank » doit être un nombre entier"),
        (with_award(id=""), None, "« id » doit être un texte non vide"),
        (with_award(name="x"), None, "clé inconnue « name »"),
        ({**ISSUE_EXAMPLE, "envelopes": {"16": "1"}}, None, "n'est pas une année"),
        ({**ISSUE_EXAMPLE, "envelopes": {}}, None, "objet non vide"),
        ({**ISSUE_EXAMPLE, "unit": "0"}, None, "strictement positif"),
        ({**ISSUE_EXAMPLE, "profile": ["0.5", "0.5"]}, None, "2 poids pour 3 années"),
        ({**ISSUE_EXAMPLE, "profile": ["0.5", "0.3", "0.1"]}, None, "somme des poids"),
        ({**ISSUE_EXAMPLE, "profile": [0.5, 0.3, 0.2]}, None, "Poids 1 du profil"),
        ({**ISSUE_EXAMPLE, "profile": "0.5"}, None, "liste de poids"),
        (
            {**ISSUE_EXAMPLE, "envelopes": {"2016": "30500", "2017": "55000"}},
            None,
            "ne peut pas être dérivé",
        ),
        (
            {**ISSUE_EXAMPLE, "awards": [ISSUE_EXAMPLE["awards"][0]] * 2},
            None,
            "figure deux fois",
        ),
    ],
)
def test_invalid_input_gives_a_french_message_and_exit_code_2(app, payload, text, message):
    result = simulate(app, payload, text=text)

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("Erreur : ")
    assert message in result.stderr


def test_a_missing_file_gives_exit_code_2(app, tmp_path):
    result = simulate(app, None, text="", args=(str(tmp_path / "absent.json"),))
    assert result.exit_code == 2
    assert "n'existe pas" in result.stderr
