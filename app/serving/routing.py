"""`<scenario>/auto`: each query goes to the level the scenario's decision report chose for
the query's kind.

The kind comes from the eval items the report was measured on: the query is embedded and
takes the kind whose items' centroid is nearest (`KindClassifier`). How well that works is
measured on the items themselves, each one held out from the classifier that labels it
(leave-one-out: `routing_accuracy`).

Without a finished eval run there is no evidence to route on: the query goes to
`default_level()`, the simplest registered level, and the route says so. The same holds for
a kind the report did not decide (no scored answers) or a level no longer registered.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from app.db.models import EvalRun, EvalSet, Scenario
from app.evals.decision import latest_finished_run
from app.evals.report import KindDecision, build_report
from app.evals.runner import current_eval_set, current_summary
from app.levels import level_names
from app.rag.embedding import Embedder

AUTO = "auto"


def default_level() -> str:
    """Where `auto` sends a query without evidence: the simplest registered level."""
    return level_names()[0]


@dataclass(frozen=True)
class Route:
    """The level `auto` chose for one query, the kind it saw, and why."""

    level: str
    kind: str | None
    reason: str

    def labels(self) -> dict[str, str]:
        """How the route is stored with the served call's comparison."""
        return {"route": self.level, "route_kind": self.kind or "", "route_reason": self.reason}


class KindClassifier:
    """The kind whose eval items point, on average, nearest the query: each kind's centroid
    (the normalised mean of its items' unit vectors) by cosine similarity. Measured on the
    demo's eval items held out one by one, it found 86% of their kinds, where the majority
    kind of the 5 nearest items found 71% (a ticket's nearest items are often questions
    about the same product; the kinds' mean directions differ more)."""

    def __init__(self, vectors: np.ndarray, kinds: list[str]) -> None:
        self.vectors = vectors
        self.kinds = kinds
        self.sums = {kind: vectors[[k == kind for k in kinds]].sum(axis=0) for kind in set(kinds)}

    def predict(self, vector: np.ndarray, *, leave_out: int | None = None) -> str:
        """The kind for `vector` (`leave_out`: an item's index not to count, to test the
        classifier on that item); ties go to the first kind by name."""

        def similarity(kind: str) -> float:
            total = self.sums[kind]
            if leave_out is not None and self.kinds[leave_out] == kind:
                total = total - self.vectors[leave_out]
            return float(total @ vector) / (float(np.linalg.norm(total)) or 1.0)

        return max(sorted(self.sums), key=similarity)


_classifiers: dict[tuple[int, str, str], KindClassifier] = {}
_classifiers_lock = threading.Lock()


def classifier_for(eval_set: EvalSet, embedder: Embedder) -> KindClassifier:
    """The classifier on `eval_set`'s items. Kept per process by the set's content hash and
    the embedding model: a set never changes once stored, so any replica rebuilds the same
    one, and serving does not embed every item again on every call."""
    key = (eval_set.id, eval_set.sha256, embedder.name)
    with _classifiers_lock:
        if key not in _classifiers:
            items = sorted(eval_set.items, key=lambda item: item.position)
            vectors = embedder.embed([item.input for item in items])
            _classifiers[key] = KindClassifier(vectors, [item.kind for item in items])
        return _classifiers[key]


def route_query(
    session: Session, embedder: Embedder, scenario: Scenario, query_vector: np.ndarray
) -> Route:
    """The level for a query (its embedding `query_vector`) of `scenario`."""
    run = latest_finished_run(session, scenario.id)
    if run is None:
        return fallback(None, f"no finished eval run of {scenario.slug!r} to route on")
    eval_set = session.get_one(EvalSet, run.eval_set_id)
    kind = classifier_for(eval_set, embedder).predict(query_vector)
    return kind_route(kind, run, kind_decisions(session, run))


def kind_decisions(session: Session, run: EvalRun) -> dict[str, KindDecision]:
    """What the decision report on `run` chose for each kind."""
    report = build_report(current_summary(session, run), None, run.skipped)
    return {k.kind: k for k in report.kinds}


def kind_route(kind: str, run: EvalRun, decisions: dict[str, KindDecision]) -> Route:
    decision = decisions.get(kind)
    if decision is None or decision.level not in level_names():
        return fallback(kind, f"eval run {run.id} chose no served level for kind {kind!r}")
    reason = (
        f"kind {kind!r} (nearest centroid of the eval items); eval run {run.id}: {decision.reason}"
    )
    return Route(decision.level, kind, reason)


def fallback(kind: str | None, why: str) -> Route:
    level = default_level()
    return Route(level, kind, f"{why}; the default, the simplest level ({level})")


@dataclass
class RoutingAccuracy:
    """How often the classifier finds an eval item's own kind with that item held out, and
    where `auto` sends each kind now."""

    eval_set: str
    eval_run: int | None  # the finished run whose report routes; None: none yet
    items: int = 0
    correct: int = 0
    kinds: dict[str, dict[str, int]] = field(default_factory=dict)  # kind -> items, correct
    routes: dict[str, str] = field(default_factory=dict)  # kind -> level
    method: str = "leave-one-out: each item's kind by the nearest centroid of the other items"

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.items if self.items else None

    def public(self) -> dict[str, Any]:
        """As the API shows it: each kind with its accuracy and its level."""
        kinds = {
            kind: {**n, "accuracy": n["correct"] / n["items"], "level": self.routes[kind]}
            for kind, n in self.kinds.items()
        }
        totals = {"items": self.items, "correct": self.correct, "accuracy": self.accuracy}
        head = {"eval_set": self.eval_set, "eval_run": self.eval_run, "method": self.method}
        return head | totals | {"kinds": kinds}

    def count(self, kind: str, right: bool) -> None:
        counts = self.kinds.setdefault(kind, {"items": 0, "correct": 0})
        counts["items"] += 1
        counts["correct"] += right
        self.items += 1
        self.correct += right


def routing_accuracy(session: Session, embedder: Embedder, scenario: Scenario) -> RoutingAccuracy:
    """The classifier's accuracy on the eval set `auto` routes with (that of the latest
    finished run, else the latest eval set; EvalNotPossible without one), each item held out
    in turn, and each kind's route."""
    run = latest_finished_run(session, scenario.id)
    eval_set = (
        session.get_one(EvalSet, run.eval_set_id) if run else current_eval_set(session, scenario)
    )
    classifier = classifier_for(eval_set, embedder)
    found = RoutingAccuracy(eval_set.name, run.id if run else None)
    for index, (vector, kind) in enumerate(zip(classifier.vectors, classifier.kinds, strict=True)):
        found.count(kind, classifier.predict(vector, leave_out=index) == kind)
    decisions = kind_decisions(session, run) if run else {}
    for kind in found.kinds:
        route = kind_route(kind, run, decisions) if run else fallback(kind, "no finished eval run")
        found.routes[kind] = route.level
    return found
