"""RAFT-style training data: each example asked the way the `rag_finetune` level asks, with
sources in its prompt (after Zhang et al., "RAFT: Adapting Language Model to Domain Specific
RAG", 2024).

For each training example the knowledge base is searched with the example's own query (the
last user turn); the `context_k` best chunks and `distractors` chunks of other documents are
shuffled into the numbered sources, and the user turn becomes the scenario's `rag_template`
filled in with them. A share of the examples (1 - `oracle_share`) gets distractors only, so
that the adapter also learns to answer when retrieval missed. The answer stays as it was.

`raft_examples` is pure apart from the search (the test of the builder runs it on a small
knowledge base); `with_raft_context` is the one place a training job calls it, and it keeps
the report (how many examples got context, from which documents) with the job.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Chunk, Document, Scenario, Training
from app.finetune.config import RaftConfig, TrainingConfig
from app.finetune.dataset import ChatExample
from app.levels.rag import sources_block
from app.levels.rag_finetune import grounded_messages
from app.rag.search import ChunkHit, hybrid_search, settings_fusion

if TYPE_CHECKING:
    from app.runtime import Runtime

Search = Callable[[str, int], list[ChunkHit]]  # (query, k) -> the best chunks


@dataclass(frozen=True)
class RaftPrompt:
    """What the `rag_finetune` level's prompt version says, and the scenario's name."""

    template: str
    scenario: str


@dataclass
class RaftReport:
    examples: int = 0
    with_context: int = 0
    distractors_only: int = 0
    documents: Counter[str] = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.documents = self.documents or Counter()

    def public(self, options: RaftConfig, split: str) -> dict[str, Any]:
        return {
            "split": split,
            "examples": self.examples,
            "with_context": self.with_context,
            "distractors_only": self.distractors_only,
            "documents": dict(self.documents.most_common()),
            "options": options.model_dump(),
        }


def raft_examples(
    examples: list[ChatExample],
    *,
    search: Search,
    pool: list[ChunkHit],
    prompt: RaftPrompt,
    options: RaftConfig,
    seed: int,
) -> tuple[list[ChatExample], RaftReport]:
    """The examples with sources in their last user turn, and what went in."""
    rng = random.Random(seed)
    report = RaftReport(examples=len(examples))
    built = []
    for example in examples:
        retrieved = search(example.prompt, options.context_k)
        # distractors come from other documents, also when the retrieved chunks are left out
        taken = {hit.document_id for hit in retrieved}
        if rng.random() >= options.oracle_share:
            retrieved = []
        others = [hit for hit in pool if hit.document_id not in taken]
        sources = retrieved + rng.sample(others, min(options.distractors, len(others)))
        rng.shuffle(sources)
        built.append(grounded(example, sources, prompt))
        report.with_context += bool(retrieved)
        report.distractors_only += not retrieved
        report.documents.update({hit.source for hit in retrieved})
    return built, report


def grounded(example: ChatExample, sources: list[ChunkHit], prompt: RaftPrompt) -> ChatExample:
    """The example with its last user turn asked through the rag template."""
    last_user = max(i for i, m in enumerate(example.messages) if m["role"] == "user")
    asked = grounded_messages(
        None, prompt.template, prompt.scenario, sources_block(sources), example.prompt
    )[-1]
    messages = [*example.messages]
    messages[last_user] = asked
    return replace(example, messages=messages)


def chunk_pool(session: Session, scenario_id: int) -> list[ChunkHit]:
    """Every chunk of the scenario, as search hits (the distractors are drawn from them)."""
    rows = session.execute(
        select(Chunk, Document.title, Document.source)
        .join(Document, Chunk.document_id == Document.id)
        .where(Chunk.scenario_id == scenario_id)
        .order_by(Chunk.id)
    )
    return [as_hit(chunk, title, source) for chunk, title, source in rows]


def as_hit(chunk: Chunk, title: str, source: str) -> ChunkHit:
    return ChunkHit(
        chunk_id=chunk.id,
        document_id=chunk.document_id,
        document=title,
        source=source,
        heading=chunk.heading,
        text=chunk.text,
        token_count=chunk.token_count,
        score=0.0,
        vector_rank=None,
        vector_score=None,
        keyword_rank=None,
        keyword_score=None,
    )


def with_raft_context(
    runtime: Runtime,
    job_id: int,
    config: TrainingConfig,
    train: list[ChatExample],
    held_out: list[ChatExample],
) -> tuple[list[ChatExample], list[ChatExample]]:
    """The job's examples as RAFT examples when its config asks for `raft` (else as they
    are); the training split's report is kept with the job. The held-out split is built the
    same way, so that the before/after report asks as the level will."""
    if config.raft is None:
        return train, held_out
    runtime.wait_ready()
    with runtime.session() as session:
        job = session.get_one(Training, job_id)
        search, prompt = knowledge_search(session, runtime, job.scenario)
        pool = chunk_pool(session, job.scenario_id)
        if not pool:
            raise ValueError(
                f"raft: scenario {job.scenario.slug!r} has no documents to retrieve from"
            )
        train, report = raft_examples(
            train, search=search, pool=pool, prompt=prompt, options=config.raft, seed=config.seed
        )
        held_out, _ = raft_examples(
            held_out, search=search, pool=pool, prompt=prompt, options=config.raft, seed=config.seed
        )
        job.data_report = report.public(config.raft, "train")
        session.commit()
    return train, held_out


def knowledge_search(
    session: Session, runtime: Runtime, scenario: Scenario
) -> tuple[Search, RaftPrompt]:
    """Hybrid search over the scenario's knowledge base with the `rag_finetune` level's
    latest prompt version (its retrieval settings), and that version's template."""
    from app.scenarios.versions import resolve_versions  # app.levels' registry, loaded

    content = resolve_versions(session, scenario)["rag_finetune"].content
    embedder = runtime.loaded_embedder()
    settings = runtime.settings

    def search(query: str, k: int) -> list[ChunkHit]:
        return hybrid_search(
            session,
            scenario_id=scenario.id,
            query=query,
            embedding=embedder.embed_one(query),
            k=k,
            fusion=settings_fusion(settings, content),
            ef_search=settings.hnsw_ef_search,
        )

    return search, RaftPrompt(template=content["rag_template"], scenario=scenario.name)
