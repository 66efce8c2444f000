"""LoRA training with PEFT: the loss it optimises, atomic saving, and config validation."""

import json

import pytest
import torch

from app.finetune.dataset import ChatExample, read_chat_jsonl
from app.finetune.train import (
    TRAINING_RECORD,
    TrainConfig,
    answer_loss,
    collate,
    encode_example,
    train_lora,
)


@pytest.fixture(scope="module")
def examples(settings):
    return read_chat_jsonl(settings.demo_dir / "train.jsonl")


def test_only_the_answer_is_learned(transformers_engine, examples):
    tokenizer = transformers_engine.tokenizer
    ids, labels = encode_example(tokenizer, examples[0], max_len=512)
    learned = [t for t, label in zip(ids, labels, strict=True) if label != -100]
    assert tokenizer.decode(learned) == examples[0].completion + tokenizer.eos_token
    assert labels[0] == -100


def test_answer_loss_equals_the_models_own_loss(transformers_engine, examples):
    tokenizer = transformers_engine.tokenizer
    batch = collate(
        [encode_example(tokenizer, e, 256) for e in examples[:3]], tokenizer.pad_token_id
    )
    model = transformers_engine._model
    with torch.inference_mode():
        expected = model(**batch).loss
        assert answer_loss(model, batch) == pytest.approx(float(expected), rel=1e-4)


def test_a_short_run_saves_a_peft_adapter_with_its_record(settings, examples, tmp_path):
    config = TrainConfig(micro_batch_size=4, max_seq_len=128, lora_r=4)
    steps = []
    result = train_lora(
        base_model=settings.base_model,
        examples=examples[:8],
        config=config,
        output_dir=tmp_path / "adapter",
        progress=steps.append,
    )
    assert [s.step for s in steps] == [0, 1, 2] and steps[-1].total_steps == 2
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()
    record = json.loads((tmp_path / "adapter" / TRAINING_RECORD).read_text())
    assert record["config"]["lora_r"] == 4 and record["metrics"]["steps"] == 2
    assert result.examples == 8
    assert [p.name for p in tmp_path.iterdir()] == ["adapter"]  # no staging left behind


def test_a_failing_run_leaves_nothing_behind(settings, examples, tmp_path):
    config = TrainConfig(target_modules=["no_such_module"])
    with pytest.raises(ValueError):
        train_lora(
            base_model=settings.base_model,
            examples=examples[:4],
            config=config,
            output_dir=tmp_path / "adapter",
        )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("lora_r", 0),
        ("lora_r", 1000),
        ("learning_rate", 0),
        ("num_epochs", 0),
        ("micro_batch_size", 0),
    ],
)
def test_bad_config_values_are_rejected_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})


def test_no_examples_is_an_error(settings, tmp_path):
    with pytest.raises(ValueError, match="no training examples"):
        train_lora(
            base_model=settings.base_model,
            examples=[],
            config=TrainConfig(),
            output_dir=tmp_path / "adapter",
        )


def test_chat_example_prompt_is_the_last_user_turn():
    example = ChatExample(
        [
            {"role": "system", "content": "s"},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "a"},
            {"role": "user", "content": "second"},
            {"role": "assistant", "content": "b"},
        ]
    )
    assert example.prompt == "second" and example.completion == "b"
