"""Tune a scenario's retrieval (`tritune tune rag`, the search page's button): the fusion
weights, the candidates per side and `top_k`, chosen by how often the answering document is
retrieved, and stored as the rag level's fields (a new prompt version).

The questions are the items of the scenario's latest eval set that name the `source` of one
of its documents. With none, they are drafted from the chunks' headings (a heading path as
the query, its document as the answer) and the result says so: headings share words with
their chunks, so drafted questions favour the keyword side more than real ones would.

A seeded split holds `TEST_SHARE` of the questions out: the settings are chosen on the others
(train) and the figure reported is the held-out one, before and after, so it is not the
figure the choice was made on. On the train questions:

1. the fusion (vector : keyword weights over `KEYWORD_WEIGHTS` and keyword alone, candidates
   over `CANDIDATES`) with the best MRR@10, then hit@1, if it beats the current one by a
   question's worth of MRR (1/n on n questions); smaller gains are noise on a few dozen
   questions (measured: with half that margin, the "best" of the grid on uv's questions
   moved from seed to seed and lost MRR on the held-out ones in 5 seeds of 5);
2. `top_k`: one chunk more than the fewest (of `TOP_KS`) that find as many answers as the most
   tried. The held-out questions rank their document lower than the ones it was chosen on:
   without the spare chunk the demo's drafted queries chose 1 and lost 0.08 of hit rate.

Nothing changes unless the choice differs from the current settings; the caller commits
(a tune stopped before that leaves the previous settings). Each question's two rankings are
fetched once and fused in Python for every setting (app/rag/quality.py), so a tune of a few
dozen questions takes seconds: it runs in the request, not as a background job.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.models import Chunk, Document, EvalItem, Scenario
from app.errors import AppError
from app.rag.embedding import Embedder
from app.rag.fusion import Fusion
from app.rag.quality import RetrievalQuestion, SideRankings, hit_rate, side_rankings
from app.rag.reembed import require_embedding_model
from app.rag.search import RETRIEVAL_FIELDS, settings_fusion
from app.scenarios.current import current_eval_set
from app.scenarios.requests import ScenarioUpdate
from app.scenarios.service import update_scenario
from app.scenarios.versions import latest_versions

KEYWORD_WEIGHTS = (0.0, 0.25, 0.4, 0.5, 0.6, 0.75, 1.0, 1.5, 2.0)  # against vector weight 1
CANDIDATES = (10, 20, 40, 80)
TOP_KS = (1, 2, 3, 4, 5)
TEST_SHARE = 0.4
MIN_QUESTIONS = 5  # 3 to choose on, 2 held out
MAX_DRAFTED = 60


class TuneNotPossible(AppError):
    """What the scenario lacks for a tune (documents, questions); nothing was changed."""

    status = 422


@dataclass(frozen=True)
class RetrievalConfig:
    """What the rag level retrieves with: chunks in the prompt and the fusion."""

    top_k: int
    fusion: Fusion

    def fields(self) -> dict[str, Any]:
        """As the scenario's rag fields."""
        values = (self.top_k, self.fusion.candidates)
        weights = (self.fusion.vector_weight, self.fusion.keyword_weight)
        return dict(zip(RETRIEVAL_FIELDS, (*values, *weights), strict=True))

    def describe(self) -> str:
        f = self.fusion
        return (
            f"top_k {self.top_k}, {f.candidates} candidates per side, "
            f"weights vector {f.vector_weight:g} : keyword {f.keyword_weight:g}"
        )


@dataclass(frozen=True)
class Figures:
    """A config's retrieval on some questions: hit@top_k, hit@1 and MRR@10."""

    hit: float
    hit_at_1: float
    mrr: float

    def key(self) -> tuple[float, float]:
        return (self.mrr, self.hit_at_1)


@dataclass
class TuneResult:
    """What a tune found and did (the CLI's table, the search page's fragment)."""

    scenario: str
    questions: int
    drafted: bool
    train: int
    test: int
    seed: int
    before: RetrievalConfig
    after: RetrievalConfig
    test_before: Figures
    test_after: Figures
    changed: bool = False
    version: int | None = None  # the rag prompt version it made
    note: str = ""
    seconds: float = 0.0
    unknown_sources: list[str] = field(default_factory=list)


def measure(rankings: list[SideRankings], config: RetrievalConfig) -> Figures:
    ranks = [r.rank(config.fusion) for r in rankings]
    mrr = sum(1 / r for r in ranks if r and r <= 10) / max(1, len(ranks))
    return Figures(hit_rate(ranks, config.top_k), hit_rate(ranks, 1), mrr)


def fusions(current: Fusion) -> list[Fusion]:
    """The fusions tried, the current one first (it wins ties)."""
    tried = [current]
    for candidates in CANDIDATES:
        weights = [(1.0, w) for w in KEYWORD_WEIGHTS] + [(0.0, 1.0)]
        for vector, keyword in weights:
            tried.append(Fusion(vector, keyword, current.rrf_k, candidates))
    return tried


def choose(rankings: list[SideRankings], current: RetrievalConfig) -> RetrievalConfig:
    """The best fusion on `rankings` (MRR, then hit@1), kept only when it beats the current
    one by a question's worth of MRR (less is noise on a few dozen questions); then
    `top_k`: one chunk more than the fewest that find as many answers as the most tried."""
    best, best_key = current.fusion, measure(rankings, current).key()
    margin = 1 / max(1, len(rankings))
    for fusion in fusions(current.fusion)[1:]:
        key = measure(rankings, RetrievalConfig(current.top_k, fusion)).key()
        if key > best_key:
            best, best_key = fusion, key
    if best_key[0] < measure(rankings, current).mrr + margin:
        best = current.fusion
    ranks = [r.rank(best) for r in rankings]
    most = max(hit_rate(ranks, k) for k in TOP_KS)
    fewest = min(k for k in TOP_KS if hit_rate(ranks, k) >= most)
    return RetrievalConfig(min(fewest + 1, max(TOP_KS)), best)


def current_config(scenario: Scenario, settings: Settings) -> RetrievalConfig:
    own = {name: getattr(scenario, name) for name in RETRIEVAL_FIELDS}
    top_k = scenario.rag_top_k if scenario.rag_top_k is not None else settings.top_k
    return RetrievalConfig(top_k, settings_fusion(settings, own))


def split(questions: list[RetrievalQuestion], seed: int) -> tuple[list, list]:
    """(train, test): a seeded shuffle, `TEST_SHARE` of it held out (at least 2)."""
    shuffled = list(questions)
    random.Random(seed).shuffle(shuffled)
    held = max(2, round(len(shuffled) * TEST_SHARE))
    return shuffled[held:], shuffled[:held]


def eval_questions(
    session: Session, scenario: Scenario
) -> tuple[list[RetrievalQuestion], list[str]]:
    """The current eval set's items that name a document of the scenario, and the sources
    named that are not among its documents."""
    eval_set = current_eval_set(session, scenario)
    if eval_set is None:
        return [], []
    items = session.scalars(
        select(EvalItem)
        .where(EvalItem.eval_set_id == eval_set.id, EvalItem.source.is_not(None))
        .order_by(EvalItem.position)
    ).all()
    known = set(session.scalars(select(Document.source).where(Document.scenario_id == scenario.id)))
    questions = [RetrievalQuestion(i.input, str(i.source)) for i in items if i.source in known]
    unknown = sorted({str(i.source) for i in items if i.source not in known})
    return questions, unknown


def drafted_questions(session: Session, scenario: Scenario, seed: int) -> list[RetrievalQuestion]:
    """Queries drafted from the chunks' headings (`Returns › Tents` asks "Returns Tents"), each
    answered by its document; a heading found in two documents answers neither and is left
    out. At most `MAX_DRAFTED`, drawn with `seed`."""
    rows = session.execute(
        select(Chunk.heading, Document.title, Document.source)
        .join(Document, Document.id == Chunk.document_id)
        .where(Chunk.scenario_id == scenario.id)
        .distinct()
    ).all()
    answers: dict[str, set[str]] = {}
    for heading, title, source in rows:
        query = " ".join((heading or title).replace("›", " ").split())
        answers.setdefault(query, set()).add(source)
    questions = [
        RetrievalQuestion(query, next(iter(sources)))
        for query, sources in sorted(answers.items())
        if len(sources) == 1 and query
    ]
    random.Random(seed).shuffle(questions)
    return questions[:MAX_DRAFTED]


def tune_questions(
    session: Session, scenario: Scenario, seed: int
) -> tuple[list[RetrievalQuestion], bool, list[str]]:
    """(questions, drafted, unknown sources) or TuneNotPossible saying what is missing."""
    has_documents = session.scalar(select(Document.id).where(Document.scenario_id == scenario.id))
    if has_documents is None:
        raise TuneNotPossible(
            f"scenario {scenario.slug!r} has no documents to retrieve from; ingest some first"
        )
    questions, unknown = eval_questions(session, scenario)
    drafted = not questions
    if drafted:
        questions = drafted_questions(session, scenario, seed)
    if len(questions) < MIN_QUESTIONS:
        what = "chunk headings to draft queries from" if drafted else "eval items"
        raise TuneNotPossible(
            f"scenario {scenario.slug!r} has {len(questions)} usable {what}; tuning needs at "
            f"least {MIN_QUESTIONS} (some are held out): add eval items that name the `source`"
            " of the document that answers them"
            + (f" (named but not in the knowledge base: {', '.join(unknown)})" if unknown else "")
        )
    return questions, drafted, unknown


def tune_rag(
    session: Session,
    *,
    scenario: Scenario,
    embedder: Embedder,
    settings: Settings,
    seed: int = 0,
    dry_run: bool = False,
) -> TuneResult:
    """Choose the scenario's retrieval settings on its questions and, unless `dry_run` or
    nothing changed, store them as its rag fields with a new prompt version (not committed).
    TuneNotPossible (no documents, too few questions), EmbeddingModelMismatch, ScenarioBusy."""
    started = time.perf_counter()
    require_embedding_model(session, scenario=scenario, model=embedder.name)
    questions, drafted, unknown = tune_questions(session, scenario, seed)
    train, test = split(questions, seed)
    before = current_config(scenario, settings)
    deepest = max(*CANDIDATES, before.fusion.candidates)
    rankings = side_rankings(
        session,
        scenario_id=scenario.id,
        questions=train + test,
        embedder=embedder,
        candidates=deepest,
        ef_search=settings.hnsw_ef_search,
    )
    train_rankings, test_rankings = rankings[: len(train)], rankings[len(train) :]
    after = choose(train_rankings, before)
    result = TuneResult(
        scenario=scenario.slug,
        questions=len(questions),
        drafted=drafted,
        train=len(train),
        test=len(test),
        seed=seed,
        before=before,
        after=after,
        test_before=measure(test_rankings, before),
        test_after=measure(test_rankings, after),
        changed=after != before,
        unknown_sources=unknown,
    )
    result.note = tune_note(result)
    if result.changed and not dry_run:
        result.version = store(session, scenario, after, result.note)
    result.seconds = time.perf_counter() - started
    return result


def tune_note(result: TuneResult) -> str:
    """The prompt version's note: the held-out figures before and after."""
    before, after = result.test_before, result.test_after
    asked = "drafted queries" if result.drafted else "eval items"
    return (
        f"tuned: hit@{result.before.top_k} {before.hit:.2f} -> hit@{result.after.top_k} "
        f"{after.hit:.2f}, MRR {before.mrr:.2f} -> {after.mrr:.2f} on {result.test} held-out "
        f"{asked} (chosen on {result.train}, seed {result.seed})"
    )


def store(session: Session, scenario: Scenario, config: RetrievalConfig, note: str) -> int:
    """Write the settings through the scenario service (it records the version); its number."""
    update_scenario(
        session, scenario=scenario, request=ScenarioUpdate(**config.fields(), note=note)
    )
    return latest_versions(session, scenario.id)["rag"].number
