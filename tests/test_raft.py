"""RAFT-style training data (app/finetune/raft.py): retrieved context for each example's own
query, distractors from other documents, the shape the rag_finetune level asks in, and the
report of what went in."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.db.models import Dataset, Scenario
from app.finetune.config import ConfigError, RaftConfig, config_from
from app.finetune.dataset import ChatExample, split_examples
from app.finetune.raft import RaftPrompt, chunk_pool, knowledge_search, raft_examples
from app.rag.search import ChunkHit
from app.scenarios.prompts import DEFAULT_RAG_TEMPLATE

PROMPT = RaftPrompt(template=DEFAULT_RAG_TEMPLATE, scenario="Shop")


def hit(document_id: int, text: str) -> ChunkHit:
    return ChunkHit(
        chunk_id=document_id * 10,
        document_id=document_id,
        document=f"Doc {document_id}",
        source=f"doc-{document_id}.md",
        heading=f"Doc {document_id}",
        text=text,
        token_count=5,
        score=0.0,
        vector_rank=None,
        vector_score=None,
        keyword_rank=None,
        keyword_score=None,
    )


POOL = [hit(n, f"fact {n}") for n in range(1, 7)]


def search(query: str, k: int) -> list[ChunkHit]:
    """Document 1 answers about tents, document 2 about boots."""
    return [POOL[0] if "tent" in query else POOL[1]][:k]


def example(query: str, answer: str) -> ChatExample:
    return ChatExample(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": query},
            {"role": "assistant", "content": answer},
        ]
    )


def test_each_example_gets_its_own_context_and_distractors_from_other_documents():
    examples = [example("tent returns?", "30 days"), example("boot sizes?", "EU 36-48")]
    options = RaftConfig(context_k=1, distractors=2, oracle_share=1.0)
    built, report = raft_examples(
        examples, search=search, pool=POOL, prompt=PROMPT, options=options, seed=1
    )
    tent, boots = built
    assert tent.messages[0] == examples[0].messages[0]  # the system turn is kept
    assert tent.completion == "30 days" and boots.completion == "EU 36-48"
    asked = tent.messages[1]["content"]
    assert asked.startswith("Sources:\n[1] ") and asked.endswith("Question: tent returns?")
    assert "fact 1" in asked and asked.count("\n[") == 3  # its chunk and two distractors
    assert "fact 2" in boots.messages[1]["content"]
    assert report.examples == report.with_context == 2 and report.distractors_only == 0
    assert dict(report.documents) == {"doc-1.md": 1, "doc-2.md": 1}


def test_distractors_never_come_from_the_retrieved_document():
    options = RaftConfig(context_k=1, distractors=5, oracle_share=1.0)
    built, _ = raft_examples(
        [example("tent?", "yes")], search=search, pool=POOL, prompt=PROMPT, options=options, seed=3
    )
    asked = built[0].messages[1]["content"]
    assert asked.count("fact 1") == 1 and all(f"fact {n}" in asked for n in range(2, 7))


def test_a_share_of_examples_gets_distractors_only_and_the_report_says_so():
    examples = [example(f"tent {n}?", "yes") for n in range(200)]
    options = RaftConfig(context_k=1, distractors=1, oracle_share=0.8)
    built, report = raft_examples(
        examples, search=search, pool=POOL, prompt=PROMPT, options=options, seed=7
    )
    assert report.with_context + report.distractors_only == 200
    assert 140 <= report.with_context <= 180  # about 80%
    without = [b for b in built if "fact 1" not in b.messages[1]["content"]]
    assert len(without) == report.distractors_only
    again, _ = raft_examples(
        examples, search=search, pool=POOL, prompt=PROMPT, options=options, seed=7
    )
    assert again == built  # the seed decides, as for the rest of the training


def test_raft_needs_room_for_the_context_in_max_seq_len():
    with pytest.raises(ConfigError, match="max_seq_len must be at least 768 with raft"):
        config_from({"raft": {}, "max_seq_len": 256})
    config = config_from({"raft": {"context_k": 3}, "max_seq_len": 1024})
    assert config.raft.context_k == 3 and "raft" not in vars(config.train_config())
    with pytest.raises(ConfigError, match="raft.distractors"):
        config_from({"raft": {"distractors": -1}, "max_seq_len": 1024})


def test_the_demo_tickets_get_context_from_the_demo_documents(runtime, session):
    scenario = session.scalar(select(Scenario).where(Scenario.slug == "northwind"))
    dataset = session.scalar(select(Dataset).where(Dataset.scenario_id == scenario.id))
    examples = split_examples(session, dataset.id, "train")[:6]
    search_kb, prompt = knowledge_search(session, runtime, scenario)
    pool = chunk_pool(session, scenario.id)
    built, report = raft_examples(
        examples, search=search_kb, pool=pool, prompt=prompt, options=RaftConfig(), seed=42
    )
    assert len(built) == 6 and report.with_context + report.distractors_only == 6
    sources = {hit.source for hit in pool}
    assert report.documents and set(report.documents) <= sources
    assert all(
        b.prompt.endswith(f"Question: {e.prompt}") for b, e in zip(built, examples, strict=True)
    )
    assert all(b.completion == e.completion for b, e in zip(built, examples, strict=True))
