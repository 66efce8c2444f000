"""Parsing eval JSONL: both item styles, and bad lines named with nothing accepted."""

import json

import pytest

from app.evals.items import EvalSetInvalid, parse_eval_jsonl


def lines(*items):
    return "\n".join(json.dumps(i) if not isinstance(i, str) else i for i in items)


def test_issue_style_and_demo_style_items():
    items = parse_eval_jsonl(
        lines(
            {"input": "2+2?", "expected": "4", "kind": "math"},
            {"query": "Return a tent?", "expected": {"facts": ["60"]}, "source": "r.md"},
            {"query": "Ticket", "expected": {"category": "return", "priority": "high"}},
            {"input": "Layers?", "expected": {"keywords": ["wool"]}},
            {"input": "T", "schema": {"type": "object"}, "fields": {"a": 1}},
        )
    )
    assert [i.kind for i in items] == ["math", "general", "general", "general", "general"]
    assert items[0].expected == "4"
    assert items[1].facts == ["60"] and items[1].source == "r.md" and items[1].expected is None
    assert items[2].fields == {"category": "return", "priority": "high"}
    assert items[3].keywords == ["wool"]
    assert items[4].schema == {"type": "object"}


def test_the_demo_eval_set_parses(settings):
    items = parse_eval_jsonl((settings.demo_dir / "evalset.jsonl").read_text())
    assert len(items) == 86
    assert sum(i.kind == "triage" and bool(i.fields) for i in items) == 28


def test_every_bad_line_is_named():
    text = lines(
        {"input": "fine", "expected": "x"},
        "{not json",
        "[1]",
        {"expected": "no input"},
        {"input": "x"},
        "",
        {"input": "x", "facts": "60"},
        {"input": "x", "schema": {"type": "nonsense"}},
        {"input": "x", "expected": "y", "colour": "red"},
    )
    with pytest.raises(EvalSetInvalid) as caught:
        parse_eval_jsonl(text)
    errors = caught.value.errors
    assert [e.split(":")[0] for e in errors] == [f"line {n}" for n in (2, 3, 4, 5, 7, 8, 9)]
    assert "not JSON" in errors[0] and "JSON object" in errors[1]
    assert "'input'" in errors[2] and "nothing to score" in errors[3]
    assert "'facts'" in errors[4] and "not a valid JSON schema" in errors[5]
    assert "colour" in errors[6]
    assert caught.value.status == 422 and "line 2" in caught.value.message


def test_an_empty_file_is_refused():
    with pytest.raises(EvalSetInvalid, match="no items"):
        parse_eval_jsonl("\n\n")
