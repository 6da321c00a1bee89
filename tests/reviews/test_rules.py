"""Pure rules: automatic assignment (counts, conflicts, balance), likely conflicts, scores."""

from __future__ import annotations

import random
from collections import Counter, deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grants.reviews import rules
from grants.reviews.rules import GridCriterion, Link, auto_assign, likely_conflicts

# --- An independent oracle: max-flow feasibility of load bounds ---------------------------


def _max_flow(capacity: dict, source, sink) -> int:
    flow = 0
    residual = {u: dict(vs) for u, vs in capacity.items()}
    for u, vs in capacity.items():
        for v in vs:
            residual.setdefault(v, {}).setdefault(u, 0)
    while True:
        parent = {source: None}
        queue = deque([source])
        while queue and sink not in parent:
            u = queue.popleft()
            for v, cap in residual.get(u, {}).items():
                if cap > 0 and v not in parent:
                    parent[v] = u
                    queue.append(v)
        if sink not in parent:
            return flow
        v = sink
        while parent[v] is not None:
            u = parent[v]
            residual[u][v] -= 1
            residual[v][u] += 1
            v = u
        flow += 1


def _network(files, pool, demands, existing, conflicts, caps):
    graph: dict = {"s": {}}
    for f in files:
        graph["s"][("f", f)] = demands[f]
        graph[("f", f)] = {
            ("r", r): 1 for r in pool if r not in existing.get(f, set()) and (f, r) not in conflicts
        }
    for r in pool:
        graph[("r", r)] = {"t": caps[r]}
    return graph


def oracle(files, pool, per_file, existing, conflicts, loads):
    """(demands met per file, the smallest possible max load, the largest possible min)."""
    demands = {}
    for f in files:
        have = existing.get(f, set())
        candidates = [r for r in pool if r not in have and (f, r) not in conflicts]
        demands[f] = max(0, min(per_file - len(have), len(candidates)))
    total = sum(demands.values())
    lowest_max = None
    for upper in range(max(loads[r] for r in pool), max(loads[r] for r in pool) + total + 1):
        caps = {r: max(0, upper - loads[r]) for r in pool}
        if _max_flow(_network(files, pool, demands, existing, conflicts, caps), "s", "t") == total:
            lowest_max = upper
            break
    highest_min = min(loads[r] for r in pool)
    for lower in range(highest_min + 1, highest_min + total + 2):
        caps = {r: max(0, lower - loads[r]) for r in pool}
        needed = sum(caps.values())
        if needed > total:
            break
        graph = _network(files, pool, demands, existing, conflicts, caps)
        if _max_flow(graph, "s", "t") != needed:
            break
        highest_min = lower
    return demands, lowest_max, highest_min


def check_plan(plan, files, pool, per_file, existing, conflicts, loads):
    counted = Counter()
    for f, reviewers in plan.assignments.items():
        assert len(reviewers) == len(set(reviewers)), "a reviewer twice on a file"
        for r in reviewers:
            assert r in pool
            assert (f, r) not in conflicts, "a conflicted pair was assigned"
            assert r not in existing.get(f, set()), "assigned twice to the same file"
            counted[r] += 1
    assert plan.loads == {r: loads[r] + counted[r] for r in pool}
    demands, lowest_max, highest_min = oracle(files, pool, per_file, existing, conflicts, loads)
    short = set()
    for f in files:
        got = len(plan.assignments.get(f, []))
        assert got == demands[f], (f, got, demands[f])
        if len(existing.get(f, set())) + got < per_file:
            short.add(f)
    assert {s.file_id for s in plan.shortfalls} == short
    for s in plan.shortfalls:
        assert s.missing > 0 and "il manque" in s.message
    assert max(plan.loads.values()) == lowest_max
    assert min(plan.loads.values()) == highest_min


# --- The case ---------------------------------------------------------------------


def test_200_files_15_reviewers_3_reviews_with_conflicts():
    rng = random.Random(2016)
    files = list(range(1, 201))
    pool = list(range(1001, 1016))
    conflicts = {(f, r) for f in files for r in pool if rng.random() < 0.12}
    plan = auto_assign(files, pool, 3, conflicts=conflicts)

    assert plan.count == 600 and not plan.shortfalls
    assert all(len(plan.assignments[f]) == 3 for f in files)
    assert not any((f, r) in conflicts for f, r in plan.pairs())
    loads = Counter(r for _f, r in plan.pairs())
    assert set(loads) == set(pool)
    assert max(loads.values()) - min(loads.values()) <= 1
    assert plan.loads == dict(loads)


def test_counts_existing_assignments_and_existing_load():
    files = [1, 2, 3, 4]
    pool = [10, 11, 12]
    existing = {1: {10, 11}, 2: {10}}  # 10 already has 2, 11 has 1
    plan = auto_assign(files, pool, 2, existing=existing)
    assert 1 not in plan.assignments  # already complete
    assert plan.assignments[2] == [11] or plan.assignments[2] == [12]
    assert len(plan.assignments[3]) == len(plan.assignments[4]) == 2
    assert max(plan.loads.values()) - min(plan.loads.values()) <= 1
    assert sum(plan.loads.values()) == 8  # 3 existing + 5 new


def test_a_reviewer_outside_the_pool_counts_for_the_file():
    plan = auto_assign([1], [10, 11], 2, existing={1: {99}})
    assert len(plan.assignments[1]) == 1


def test_shortfall_when_too_few_reviewers_without_conflict():
    plan = auto_assign([1, 2], [10, 11, 12], 3, conflicts={(1, 10), (1, 11)})
    assert plan.assignments[1] == [12]
    assert [(s.file_id, s.required, s.assigned, s.missing) for s in plan.shortfalls] == [
        (1, 3, 1, 2)
    ]
    assert "1 évaluation(s) sur 3" in plan.shortfalls[0].message


def test_empty_pool_leaves_every_file_short():
    plan = auto_assign([1, 2], [], 2)
    assert plan.assignments == {} and len(plan.shortfalls) == 2


def test_rebalancing_moves_assignments_along_a_chain():
    # Greedy alone would overload 1: files 1–4 can only go to reviewer 1 or 2, and
    # reviewer 3 can take only files 5–6; the balanced answer needs exchanges.
    pool = [1, 2, 3]
    files = [1, 2, 3, 4, 5, 6]
    conflicts = {(f, 3) for f in (1, 2, 3, 4)}
    plan = auto_assign(files, pool, 1, conflicts=conflicts)
    assert sorted(plan.loads.values()) == [2, 2, 2]
    check_plan(plan, files, pool, 1, {}, conflicts, {r: 0 for r in pool})


def test_deterministic_whatever_the_order():
    rng = random.Random(7)
    files = list(range(40))
    pool = list(range(100, 108))
    conflicts = {(f, r) for f in files for r in pool if rng.random() < 0.2}
    first = auto_assign(files, pool, 3, conflicts=conflicts)
    shuffled_files, shuffled_pool = files[:], pool[:]
    rng.shuffle(shuffled_files)
    rng.shuffle(shuffled_pool)
    second = auto_assign(shuffled_files, shuffled_pool, 3, conflicts=list(conflicts))
    assert first.assignments == second.assignments
    assert first.shortfalls == second.shortfalls


@st.composite
def instances(draw):
    n_files = draw(st.integers(0, 18))
    n_pool = draw(st.integers(1, 7))
    per_file = draw(st.integers(1, 4))
    files = list(range(1, n_files + 1))
    pool = list(range(100, 100 + n_pool))
    density = draw(st.sampled_from([0.0, 0.1, 0.3, 0.6]))
    seed = draw(st.integers(0, 10_000))
    rng = random.Random(seed)
    conflicts = {(f, r) for f in files for r in pool if rng.random() < density}
    existing: dict[int, set[int]] = {}
    for f in files:
        chosen = {r for r in pool if rng.random() < 0.15 and (f, r) not in conflicts}
        if chosen:
            existing[f] = chosen
    base = draw(st.booleans())
    loads = Counter(r for rs in existing.values() for r in rs)
    loads = {r: loads[r] + (rng.randint(0, 3) if base else 0) for r in pool}
    return files, pool, per_file, existing, conflicts, loads


@settings(max_examples=150, deadline=None)
@given(instances())
def test_property_counts_conflicts_and_optimal_balance(instance):
    files, pool, per_file, existing, conflicts, loads = instance
    plan = auto_assign(files, pool, per_file, existing, conflicts, loads)
    check_plan(plan, files, pool, per_file, existing, conflicts, loads)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 40), st.integers(1, 10), st.integers(1, 4))
def test_property_without_conflicts_the_load_is_within_one(n_files, n_pool, per_file):
    plan = auto_assign(range(n_files), range(n_pool), per_file)
    expected = min(per_file, n_pool)
    assert all(len(v) == expected for v in plan.assignments.values())
    assert len(plan.assignments) == n_files
    assert max(plan.loads.values()) - min(plan.loads.values()) <= 1


# --- Likely conflicts ---------------------------------------------------------------------


def test_same_domain_as_a_member_is_a_likely_conflict():
    warnings = likely_conflicts(
        "jeanne@ateliers-solidaires.fr",
        1,
        "Les Ateliers Solidaires",
        ["president@ateliers-solidaires.fr"],
        [],
    )
    assert [w.code for w in warnings] == ["same_domain"]
    assert "ateliers-solidaires.fr" in warnings[0].message
    assert "Les Ateliers Solidaires" in warnings[0].message


@pytest.mark.parametrize(
    "domain",
    [
        "gmail.com",
        "orange.fr",
        "free.fr",
        "laposte.net",
        "hotmail.fr",
        "hotmail.com",
        "outlook.fr",
        "yahoo.fr",
        "wanadoo.fr",
        "sfr.fr",
    ],
)
def test_public_webmail_domains_are_ignored(domain):
    assert likely_conflicts(f"a@{domain}", 1, "X", [f"b@{domain}"], []) == []


def test_webmail_wildcards_match_the_first_label_only():
    assert rules.is_webmail("hotmail.co.uk")
    assert not rules.is_webmail("hotmail-solidaire.fr")
    assert not rules.is_webmail("monhotmail.fr")


def test_link_to_a_cofunder_named_in_the_funding_plan():
    links = [Link(None, "Region Nouvelle Aquitaine", "Salarié ou ancien salarié")]
    warnings = likely_conflicts(
        "x@example.org", 1, "La Recyclerie", [], links, ["Région Nouvelle-Aquitaine"]
    )
    assert [w.code for w in warnings] == ["cofunder_link"]
    assert "Region Nouvelle Aquitaine" in warnings[0].message
    assert "cofinanceur" in warnings[0].message


def test_link_by_name_to_an_organisation_named_like_the_file():
    warnings = likely_conflicts(
        "x@example.org", 7, "Les Ateliers Solidaires", [], [Link(None, "LES ATELIERS SOLIDAIRES")]
    )
    assert [w.code for w in warnings] == ["name_link"]


def test_no_warning_without_anything_in_common():
    warnings = likely_conflicts(
        "x@evaluateurs.example",
        7,
        "Les Ateliers",
        ["a@ateliers.example"],
        [Link(3, "Autre structure")],
        ["Département de la Gironde"],
    )
    assert warnings == []


def test_a_link_to_the_registered_organisation_is_a_declared_conflict():
    links = [Link(7, "Les Ateliers", "Bénévole")]
    reason = rules.declared_conflict(7, links)
    assert reason and "Les Ateliers" in reason and "bénévole" in reason
    assert rules.declared_conflict(8, links) is None
    assert "déclaré un conflit" in rules.declared_conflict(8, [], conflict_declared=True)


@given(st.text(max_size=40))
def test_normalised_names_ignore_case_accents_and_punctuation(name):
    assert rules.normalise_name(name) == rules.normalise_name(name.upper())
    assert rules.normalise_name(f"  {name}- ") == rules.normalise_name(name)


def test_normalise_name_examples():
    assert rules.normalise_name("Région  Nouvelle-Aquitaine") == "region nouvelle aquitaine"
    assert rules.normalise_name("ÉCO'Logis") == rules.normalise_name("eco logis")


# --- Scores -------------------------------------------------------------------------------

GRID = [GridCriterion(1, "Innovation sociale", 5), GridCriterion(2, "Emplois", 10)]


def test_scores_within_the_scale():
    assert rules.score_problems(GRID, {1: 0, 2: 10}) == {}
    assert rules.score_problems(GRID, {1: 6}) == {1: "La note va de 0 à 5."}
    assert rules.score_problems(GRID, {2: -1}) == {2: "La note va de 0 à 10."}
    assert rules.score_problems(GRID, {3: 1}) == {
        3: "Ce critère n'est pas dans la grille de l'appel."
    }


def test_every_criterion_is_required_to_submit():
    assert rules.score_problems(GRID, {1: 2}) == {}
    assert rules.score_problems(GRID, {1: 2}, require_all=True) == {
        2: "Notez le critère « Emplois »."
    }


@given(st.dictionaries(st.sampled_from([1, 2]), st.one_of(st.none(), st.integers(-5, 15))))
def test_score_problems_property(scores):
    problems = rules.score_problems(GRID, scores)
    for criterion in GRID:
        score = scores.get(criterion.id)
        valid = score is None or 0 <= score <= criterion.scale_max
        assert (criterion.id in problems) == (not valid)
