"""Reading chat JSONL: good lines become examples, a bad line names its file and line."""

import json

import pytest

from app.finetune.dataset import DatasetError, read_chat_jsonl


def write(tmp_path, lines):
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


GOOD = json.dumps(
    {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
)


def test_good_lines_and_blank_lines(tmp_path):
    examples = read_chat_jsonl(write(tmp_path, [GOOD, "", GOOD]))
    assert len(examples) == 2 and examples[0].prompt == "q" and examples[0].completion == "a"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "not JSON"),
        (json.dumps({"prompt": "q"}), "'completion'"),
        (json.dumps({"text": "q"}), "'messages'"),
        (json.dumps({"messages": [{"role": "robot", "content": "x"}]}), "role"),
        (
            json.dumps(
                {
                    "messages": [
                        {"role": "user", "content": " "},
                        {"role": "assistant", "content": "a"},
                    ]
                }
            ),
            "empty content",
        ),
        (
            json.dumps(
                {
                    "messages": [
                        {"role": "assistant", "content": "a"},
                        {"role": "user", "content": "q"},
                    ]
                }
            ),
            "wrong role order",
        ),
    ],
)
def test_bad_line_names_file_line_and_reason(tmp_path, line, reason):
    with pytest.raises(DatasetError) as error:
        read_chat_jsonl(write(tmp_path, [GOOD, line]))
    assert "data.jsonl:2" in str(error.value) and reason in str(error.value)


def chat(user: str, answer: str, system: str | None = None) -> str:
    turns = [{"role": "system", "content": system}] if system else []
    turns += [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
    return json.dumps({"messages": turns})


def words(text: str) -> int:
    return len(text.split())


def validate(lines, **options):
    from app.finetune.validate import validate_dataset

    options.setdefault("max_seq_len", 256)
    return validate_dataset("\n".join(lines), count_tokens=words, **options)


def test_the_report_lists_every_bad_line_with_its_number():
    report = validate(
        [
            chat("q1", "a1"),
            "{oops",
            json.dumps({"messages": [{"role": "user", "content": "q"}]}),
            "",
            json.dumps({"prompt": "q", "completion": ""}),
            json.dumps(
                {
                    "messages": [
                        {"role": "user", "content": "q"},
                        {"role": "system", "content": "late"},
                        {"role": "assistant", "content": "a"},
                    ]
                }
            ),
        ]
    )
    assert not report.ok
    assert [(e.line, e.message.split(" ")[0]) for e in report.errors] == [
        (2, "not"),
        (3, "wrong"),
        (5, "'completion'"),
        (6, "wrong"),
    ]


def test_prompt_completion_lines_become_chat_examples():
    report = validate([json.dumps({"prompt": "Where?", "completion": "Here."})])
    assert report.ok and report.train[0].messages[-1] == {"role": "assistant", "content": "Here."}


def test_warnings_for_duplicates_overlap_length_and_a_small_dataset():
    train = [chat(f"question {i}", f"answer {i}") for i in range(5)]
    train += [chat("question 0", "answer 0"), chat("Question 1!", "answer   1")]
    train += [chat("long " * 300, "x")]
    report = validate(train, eval_text=chat("QUESTION 2", "answer 2"), max_seq_len=100)
    assert report.ok
    text = "\n".join(report.warnings)
    assert "only 8 training examples" in text
    assert "1 exact duplicate(s) at lines 6" in text
    assert "1 near duplicate(s)" in text and "lines 7" in text
    assert "1 eval example(s) also in the training data (eval lines 1)" in text
    assert "1 example(s) over max_seq_len=100 tokens" in text and "(lines 8)" in text
    assert report.token_stats["max"] == 300 + 1 + 2 * 5


def test_a_clean_dataset_has_no_warnings_and_splits_off_an_eval_fraction():
    lines = [chat(f"ticket {i} about item {i * 7}", f"reply {i}") for i in range(120)]
    report = validate(lines, eval_fraction=0.1)
    assert report.ok and report.warnings == []
    assert (len(report.train), len(report.eval)) == (108, 12)
    assert report.token_stats["examples"] == 108


def test_an_empty_upload_is_an_error():
    report = validate(["", "  "])
    assert [e.message for e in report.errors] == ["no examples"]
