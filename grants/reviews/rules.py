"""Pure rules of reviews: automatic assignment, likely conflicts of interest, scores.

No Flask, no database: plain ids, names and numbers in, plain values out (DESIGN §7).
"""

from __future__ import annotations

import re
import unicodedata
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# --- Automatic assignment -----------------------------------------------------------------


@dataclass(frozen=True)
class Shortfall:
    """A file that can't get all its reviews: too few reviewers without a conflict."""

    file_id: int
    required: int
    #: reviews the file has after the assignment (existing + new)
    assigned: int

    @property
    def missing(self) -> int:
        return self.required - self.assigned

    @property
    def message(self) -> str:
        return (
            f"{self.assigned} évaluation(s) sur {self.required} : il manque "
            f"{self.missing} évaluateur(s) sans conflit d'intérêts dans le vivier."
        )


@dataclass
class AssignmentPlan:
    """What :func:`auto_assign` proposes: the *new* assignments, and what it couldn't do."""

    #: ``{file_id: [reviewer_id, ...]}`` (new assignments only; files needing none absent)
    assignments: dict[int, list[int]] = field(default_factory=dict)
    shortfalls: list[Shortfall] = field(default_factory=list)
    #: every pool reviewer's load after the assignment (existing load + new)
    loads: dict[int, int] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.assignments.values())

    def pairs(self) -> list[tuple[int, int]]:
        return [(f, r) for f, rs in sorted(self.assignments.items()) for r in rs]


def auto_assign(
    files: Iterable[int],
    reviewers: Iterable[int],
    per_file: int,
    existing: Mapping[int, Iterable[int]] | None = None,
    conflicts: Iterable[tuple[int, int]] = (),
    loads: Mapping[int, int] | None = None,
) -> AssignmentPlan:
    """Give every file ``per_file`` reviews from the pool ``reviewers``.

    ``existing`` — ``{file: reviewers already assigned}`` (they count toward ``per_file``,
    pool members or not); ``conflicts`` — ``(file, reviewer)`` pairs never to assign;
    ``loads`` — each reviewer's current number of assignments (default: counted from
    ``existing``). Reviewers have no capacity limit, so a file falls short only when the
    pool lacks non-conflicted reviewers for it: it then gets all it can and a
    :class:`Shortfall`.

    The load is balanced: the result minimises the sum of squared final loads, which on
    these assignment sets also minimises the largest load and maximises the smallest
    (discrete decreasing minimisation, Frank & Murota) — so whenever some assignment keeps
    the pool within one review of each other, this one does. Greedy first (least loaded,
    then smallest id), then new assignments are handed along exchange paths from a loaded
    reviewer to one with at least two fewer until none exists. Deterministic: the same
    inputs in any order give the same plan.
    """
    file_ids = sorted(set(files))
    pool = sorted(set(reviewers))
    existing_sets = {f: set(rs) for f, rs in (existing or {}).items()}
    conflict_set = set(conflicts)
    if loads is None:
        counted: dict[int, int] = {}
        for rs in existing_sets.values():
            for r in rs:
                counted[r] = counted.get(r, 0) + 1
        loads = counted
    load = {r: int(loads.get(r, 0)) for r in pool}

    plan = AssignmentPlan()
    new: dict[int, list[int]] = {}
    for f in file_ids:
        have = existing_sets.get(f, set())
        need = per_file - len(have)
        if need <= 0:
            continue
        candidates = [r for r in pool if r not in have and (f, r) not in conflict_set]
        chosen = sorted(candidates, key=lambda r: (load[r], r))[:need]
        for r in chosen:
            load[r] += 1
        if chosen:
            new[f] = chosen
        if len(chosen) < need:
            plan.shortfalls.append(Shortfall(f, per_file, len(have) + len(chosen)))

    _rebalance(new, pool, load, existing_sets, conflict_set)

    plan.assignments = {f: sorted(rs) for f, rs in sorted(new.items()) if rs}
    plan.loads = load
    return plan


def _rebalance(
    new: dict[int, list[int]],
    pool: list[int],
    load: dict[int, int],
    existing: dict[int, set[int]],
    conflicts: set[tuple[int, int]],
) -> None:
    """Move new assignments along exchange paths while a reviewer has ≥ 2 more than another
    it can reach; each move lowers the sum of squared loads, so this ends."""
    holders: dict[int, set[int]] = {r: set() for r in pool}  # reviewer → files (new)
    on_file: dict[int, set[int]] = {}  # file → every reviewer on it (existing + new)
    for f, rs in new.items():
        on_file[f] = set(existing.get(f, set())) | set(rs)
        for r in rs:
            holders[r].add(f)

    def find_path(start: int) -> list[tuple[int, int, int]] | None:
        """Moves ``(file, from, to)`` from ``start`` to the least loaded reachable reviewer
        with at most ``load[start] - 2`` (ties: smallest id), or None."""
        parent: dict[int, tuple[int, int] | None] = {start: None}  # reviewer → (file, prev)
        queue = deque([start])
        while queue:
            r = queue.popleft()
            for f in sorted(holders[r]):
                for s in pool:
                    if s in parent or s in on_file[f] or (f, s) in conflicts:
                        continue
                    parent[s] = (f, r)
                    queue.append(s)
        targets = [s for s in parent if s != start and load[s] <= load[start] - 2]
        if not targets:
            return None
        end = min(targets, key=lambda s: (load[s], s))
        moves = []
        s = end
        while parent[s] is not None:
            f, prev = parent[s]
            moves.append((f, prev, s))
            s = prev
        return list(reversed(moves))

    while True:
        moved = False
        for start in sorted(pool, key=lambda r: (-load[r], r)):
            if not holders[start]:
                continue
            path = find_path(start)
            if path is None:
                continue
            for f, giver, taker in path:
                # Each step: ``giver`` leaves ``f``, ``taker`` joins it (``taker`` was not on
                # ``f`` when the path was found, and a path visits each reviewer once).
                holders[giver].discard(f)
                holders[taker].add(f)
                on_file[f].discard(giver)
                on_file[f].add(taker)
                new[f] = [taker if x == giver else x for x in new[f]]
            load[start] -= 1
            load[path[-1][2]] += 1
            moved = True
            break
        if not moved:
            return


# --- Conflicts of interest ----------------------------------------------------------------

#: public webmail providers: sharing one says nothing about a link. A ``*`` matches any
#: top-level part (``hotmail.fr``, ``hotmail.co.uk``…).
WEBMAIL_DOMAINS = (
    "gmail.com",
    "googlemail.com",
    "orange.fr",
    "wanadoo.fr",
    "free.fr",
    "laposte.net",
    "sfr.fr",
    "neuf.fr",
    "club-internet.fr",
    "bbox.fr",
    "numericable.fr",
    "aliceadsl.fr",
    "icloud.com",
    "me.com",
    "mac.com",
    "aol.com",
    "proton.me",
    "hotmail.*",
    "outlook.*",
    "live.*",
    "msn.*",
    "yahoo.*",
    "ymail.*",
    "gmx.*",
    "protonmail.*",
)


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].strip().lower() if "@" in (email or "") else ""


def is_webmail(domain: str) -> bool:
    domain = domain.lower().strip(".")
    for pattern in WEBMAIL_DOMAINS:
        if pattern.endswith(".*"):
            if domain.split(".", 1)[0] == pattern[:-2] and "." in domain:
                return True
        elif domain == pattern:
            return True
    return False


def normalise_name(name: str) -> str:
    """Compare names of organisations: case, accents, punctuation and spacing ignored."""
    decomposed = unicodedata.normalize("NFKD", name or "")
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(re.split(r"[^0-9a-z]+", plain)).strip()


@dataclass(frozen=True)
class Link:
    """A reviewer's declared link: to a registered organisation (``organisation_id`` and its
    name) or to an organisation named freely (``organisation_id`` None)."""

    organisation_id: int | None
    name: str
    kind_label: str = ""


@dataclass(frozen=True)
class LikelyConflict:
    code: str
    message: str


def declared_conflict(
    organisation_id: int, links: Iterable[Link], conflict_declared: bool = False
) -> str | None:
    """The French reason an assignment is *refused*, or None: the reviewer declared a
    conflict on the file, or a link to the file's (registered) organisation."""
    if conflict_declared:
        return "L'évaluateur a déclaré un conflit d'intérêts sur ce dossier."
    for link in links:
        if link.organisation_id is not None and link.organisation_id == organisation_id:
            kind = f" ({link.kind_label.lower()})" if link.kind_label else ""
            return f"L'évaluateur a déclaré un lien avec la structure « {link.name} »{kind}."
    return None


def likely_conflicts(
    reviewer_email: str,
    organisation_id: int,
    organisation_name: str,
    member_emails: Iterable[str],
    links: Iterable[Link],
    cofunders: Iterable[str] = (),
) -> list[LikelyConflict]:
    """Warnings (not refusals), each with its reason, about a reviewer on a file:

    - their e-mail domain is a member's of the organisation (public webmail ignored);
    - they declared a link to a co-funder named in the file's funding plan;
    - they declared a link, by name, to an organisation named like the file's (when the
      link does not point to the registered organisation — that one is a declared conflict).
    """
    warnings: list[LikelyConflict] = []
    domain = email_domain(reviewer_email)
    if domain and not is_webmail(domain):
        if any(email_domain(e) == domain for e in member_emails):
            warnings.append(
                LikelyConflict(
                    "same_domain",
                    f"Son adresse e-mail est du même domaine ({domain}) qu'un membre "
                    f"de la structure « {organisation_name} ».",
                )
            )
    links = list(links)
    funders = {normalise_name(n): n for n in cofunders if normalise_name(n)}
    seen: set[str] = set()
    for link in links:
        key = normalise_name(link.name)
        if key in funders and key not in seen:
            seen.add(key)
            kind = f" ({link.kind_label.lower()})" if link.kind_label else ""
            warnings.append(
                LikelyConflict(
                    "cofunder_link",
                    f"Lien déclaré{kind} avec « {link.name} », cofinanceur inscrit au plan "
                    "de financement du dossier.",
                )
            )
    org_key = normalise_name(organisation_name)
    for link in links:
        if (
            link.organisation_id != organisation_id
            and org_key
            and normalise_name(link.name) == org_key
        ):
            kind = f" ({link.kind_label.lower()})" if link.kind_label else ""
            warnings.append(
                LikelyConflict(
                    "name_link",
                    f"Lien déclaré{kind} avec une structure nommée « {link.name} », "
                    "comme la structure du dossier.",
                )
            )
            break
    return warnings


# --- Scores -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GridCriterion:
    id: int
    label: str
    scale_max: int


def score_problems(
    grid: Iterable[GridCriterion],
    scores: Mapping[int, int | None],
    require_all: bool = False,
) -> dict[int, str]:
    """``{criterion_id: French message}`` for scores outside ``0..scale_max``, scores of a
    criterion not in the grid, and (``require_all``) criteria left without a score."""
    grid = list(grid)
    known = {c.id: c for c in grid}
    problems: dict[int, str] = {}
    for criterion_id, score in scores.items():
        criterion = known.get(criterion_id)
        if criterion is None:
            problems[criterion_id] = "Ce critère n'est pas dans la grille de l'appel."
            continue
        if score is None:
            continue
        if isinstance(score, bool) or not isinstance(score, int):
            problems[criterion_id] = "La note est un nombre entier."
        elif not 0 <= score <= criterion.scale_max:
            problems[criterion_id] = f"La note va de 0 à {criterion.scale_max}."
    if require_all:
        for criterion in grid:
            if scores.get(criterion.id) is None and criterion.id not in problems:
                problems[criterion.id] = f"Notez le critère « {criterion.label} »."
    return problems


OPINION_REQUIRED = "Donnez votre avis global (favorable, réservé ou défavorable)."
