"""The embedding model's name, stored with every chunk and in every result's provenance: the
model's own name, not the directory it was unpacked into (the packaged model lies in a
directory called `model`)."""

from app.config import packaged_embedding_model
from app.rag.embedding import embedding_model_name


def test_the_packaged_model_is_named_by_its_model_card():
    assert embedding_model_name(packaged_embedding_model()) == "all-MiniLM-L6-v2"


def test_a_hub_id_stays_as_it_is():
    name = "sentence-transformers/all-MiniLM-L6-v2"
    assert embedding_model_name(name) == name


def test_a_local_model_without_a_card_is_named_by_its_directory(tmp_path):
    named = tmp_path / "bge-small" / "model"
    named.mkdir(parents=True)
    assert embedding_model_name(str(named)) == "bge-small"  # `model` says nothing
    (named / "README.md").write_text("---\nlicense: mit\n---\n# A Model Card With Spaces\n")
    assert embedding_model_name(str(named)) == "bge-small"
    plain = tmp_path / "e5-base"
    plain.mkdir()
    assert embedding_model_name(str(plain)) == "e5-base"


def test_results_and_chunks_carry_the_real_name(echo_client):
    body = {"query": "Which stores open on Sundays?", "levels": ["rag"], "max_new_tokens": 4}
    result = echo_client.post("/api/v1/comparisons", json=body).json()["results"][0]
    assert result["provenance"]["embedding_model"] == "all-MiniLM-L6-v2"
    chunk_id = result["context"][0]["chunk_id"]
    page = echo_client.get(f"/chunks/{chunk_id}", follow_redirects=True).text
    assert "all-MiniLM-L6-v2" in page and ">model<" not in page


def test_chunks_stored_under_the_former_directory_name_are_renamed_once_proven(runtime, session):
    from sqlalchemy import func, select, update

    from app.db.models import Chunk
    from app.rag.model_names import adopt_former_name

    embedder = runtime.embedder
    northwind = select(Chunk.id).join(Chunk.document).limit(5).scalar_subquery()
    session.execute(update(Chunk).where(Chunk.id.in_(northwind)).values(embedding_model="model"))
    session.commit()
    assert adopt_former_name(session, embedder) == 5
    session.commit()
    former = select(func.count()).where(Chunk.embedding_model == "model")
    assert session.scalar(former) == 0


def test_chunks_of_another_model_in_a_directory_called_model_keep_their_name(runtime, session):
    import numpy as np
    from sqlalchemy import select, update

    from app.db.models import Chunk
    from app.rag.model_names import adopt_former_name

    chunk = session.scalar(select(Chunk).limit(1))
    kept = np.asarray(chunk.embedding).copy()
    session.execute(
        update(Chunk)
        .where(Chunk.id == chunk.id)
        .values(embedding_model="model", embedding=np.roll(kept, 7))  # another space
    )
    session.commit()
    try:
        assert adopt_former_name(session, runtime.embedder) == 0
    finally:
        session.execute(
            update(Chunk)
            .where(Chunk.id == chunk.id)
            .values(embedding_model=runtime.embedder.name, embedding=kept)
        )
        session.commit()
