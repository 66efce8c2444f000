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
        (json.dumps({"prompt": "q"}), "'messages'"),
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
            "must end",
        ),
    ],
)
def test_bad_line_names_file_line_and_reason(tmp_path, line, reason):
    with pytest.raises(DatasetError) as error:
        read_chat_jsonl(write(tmp_path, [GOOD, line]))
    assert "data.jsonl:2" in str(error.value) and reason in str(error.value)
