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
