"""Every eval metric function, on hand-made outputs."""

import pytest

from app.evals import metrics as m

SCHEMA = {
    "type": "object",
    "properties": {"category": {"enum": ["return", "warranty"]}, "reply": {"type": "string"}},
    "required": ["category", "reply"],
    "additionalProperties": False,
}


def test_exact_match_ignores_case_punctuation_spacing_and_accents():
    assert m.exact_match("  Sixty  days. ", "sixty days") == 1.0
    assert m.exact_match("Café au lait!", "cafe au lait") == 1.0
    assert m.exact_match("sixty days", "sixty-one days") == 0.0
    assert m.exact_match("anything", None) is None


def test_fact_recall_is_the_share_of_facts_found():
    assert m.fact_recall("Tents: 60 days, receipt needed", ["60", "Receipt"]) == 1.0
    assert m.fact_recall("Tents can go back within 60 days", ["60", "receipt"]) == 0.5
    assert m.fact_recall("no idea", ["60"]) == 0.0
    assert m.fact_recall("x", None) is None and m.fact_recall("x", []) is None


def test_keyword_hit_needs_any_one_keyword():
    assert m.keyword_hit("Wear a good Base Layer", ["base layer", "wind"]) == 1.0
    assert m.keyword_hit("Bring snacks", ["base layer", "wind"]) == 0.0
    assert m.keyword_hit("x", None) is None


def test_json_validity_only_for_items_expecting_json():
    assert m.json_validity('{"a": 1}', expects_json=True) == 1.0
    assert m.json_validity('```json\n{"a": 1}\n```', expects_json=True) == 1.0
    assert m.json_validity('Sure! {"a": 1}', expects_json=True) == 0.0
    assert m.json_validity("[1, 2]", expects_json=True) == 0.0
    assert m.json_validity('{"a": 1}', expects_json=False) is None


def test_schema_validity():
    assert m.schema_validity('{"category": "return", "reply": "ok"}', SCHEMA) == 1.0
    assert m.schema_validity('{"category": "refund", "reply": "ok"}', SCHEMA) == 0.0
    assert m.schema_validity('{"category": "return"}', SCHEMA) == 0.0
    assert m.schema_validity("not json", SCHEMA) == 0.0
    assert m.schema_validity('{"a": 1}', None) is None


def test_field_accuracy_is_the_share_of_expected_fields_matched():
    fields = {"category": "return", "priority": "high", "product": "none"}
    output = '{"category": "Return ", "priority": "low", "product": "none", "reply": "hi"}'
    assert m.field_accuracy(output, fields) == pytest.approx(2 / 3)
    assert m.field_accuracy("category: return", fields) == 0.0
    assert m.field_accuracy('{"n": 2}', {"n": 2}) == 1.0
    assert m.field_accuracy(output, None) is None


def test_embedding_similarity_is_cosine():
    assert m.embedding_similarity([1.0, 0.0], [2.0, 0.0]) == pytest.approx(1.0)
    assert m.embedding_similarity([1.0, 0.0], [0.0, 3.0]) == pytest.approx(0.0)
    assert m.embedding_similarity([1.0, 1.0], [1.0, 0.0]) == pytest.approx(2**-0.5)
    assert m.embedding_similarity([0.0, 0.0], [1.0, 0.0]) == 0.0
    assert m.embedding_similarity([1.0], None) is None
    with pytest.raises(ValueError):
        m.embedding_similarity([1.0, 2.0], [1.0])


def test_embedding_similarity_of_float32_embeddings_is_a_python_float():
    import numpy as np

    vectors = np.array([[0.6, 0.8], [1.0, 0.0]], dtype=np.float32)
    similarity = m.embedding_similarity(vectors[0], vectors[1])
    assert type(similarity) is float and similarity == pytest.approx(0.6)  # JSON can store it


def test_retrieval_hit_at_k():
    context = [{"source": "shipping.md"}, {"source": "returns-policy.md"}, {"document": "x.md"}]
    assert m.retrieval_hit(context, "returns-policy.md", k=2) == 1.0
    assert m.retrieval_hit(context, "returns-policy.md", k=1) == 0.0
    assert m.retrieval_hit(context, "x.md", k=3) == 1.0
    assert m.retrieval_hit(None, "returns-policy.md", k=3) is None  # level retrieved nothing
    assert m.retrieval_hit(context, None, k=3) is None  # item names no document


def test_percentiles_interpolate_between_ranks():
    values = [100.0, 200.0, 300.0, 400.0, 1000.0]
    assert m.percentile(values, 50) == 300.0
    assert m.percentile(values, 95) == pytest.approx(400 + 0.8 * 600)
    assert m.percentile([5.0], 95) == 5.0
    assert m.percentile([], 50) is None
    assert m.latency_summary([10.0, 30.0]) == {"p50": 20.0, "p95": pytest.approx(29.0)}


def test_mean_and_spread_skip_unmeasured_values():
    assert m.mean([1.0, None, 0.0]) == 0.5
    assert m.mean([None]) is None
    average, spread = m.mean_and_spread([0.5, 0.7, None, 0.9])
    assert average == pytest.approx(0.7) and spread == pytest.approx(0.2)
    assert m.mean_and_spread([0.4]) == (0.4, None)
    assert m.mean_and_spread([]) == (None, None)


def test_tokens():
    assert m.total_tokens(120, 30) == 150
