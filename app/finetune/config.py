"""Training configs as YAML, in the spirit of axolotl's: the base model and the LoRA
hyper-parameters, with defaults that train on a 2-core CPU in minutes.

The UI form, the API and `tritune train config.yaml` read and write this one format.
Validation names the bad field: unknown fields, values out of range, and target modules the
base model does not have are refused before any job starts.
"""

from __future__ import annotations

from functools import lru_cache

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from app.finetune.train import TrainConfig

DEFAULTS = TrainConfig()


class ConfigError(ValueError):
    """A config that cannot start a training run; the message names the field."""


RAFT_MIN_SEQ_LEN = 768  # room for a few retrieved chunks besides the example itself


class RaftConfig(BaseModel):
    """RAFT-style training data (app/finetune/raft.py): each example's prompt carries chunks
    retrieved from the scenario's knowledge base for its own query, mixed with distractor
    chunks of other documents, in the shape the `rag_finetune` level asks in."""

    model_config = ConfigDict(extra="forbid")

    context_k: int = Field(2, ge=1, le=10, description="Chunks retrieved for each example's query")
    distractors: int = Field(2, ge=0, le=10, description="Chunks of other documents added")
    oracle_share: float = Field(
        0.8,
        ge=0,
        le=1,
        description="Share of examples that get the retrieved chunks; the rest get distractors "
        "only, so that the model also learns to answer when retrieval missed",
    )


class TrainingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_model: str | None = Field(
        None, description="GGUF file, directory or hub id; the server's base model when empty"
    )
    lora_r: int = Field(
        DEFAULTS.lora_r,
        ge=1,
        le=256,
        description="LoRA rank: the size of the low-rank update; higher learns more, trains slower",
    )
    lora_alpha: int = Field(
        DEFAULTS.lora_alpha,
        ge=1,
        le=1024,
        description="LoRA scaling: the update is multiplied by alpha / r (often 2 × r)",
    )
    lora_dropout: float = Field(
        DEFAULTS.lora_dropout,
        ge=0,
        lt=1,
        description="Dropout on the LoRA layers' input while training, against overfitting",
    )
    target_modules: list[str] = Field(
        DEFAULTS.target_modules,
        min_length=1,
        description="The base model's linear layers that get an adapter (attention and MLP)",
    )
    learning_rate: float = Field(
        DEFAULTS.learning_rate,
        gt=0,
        le=1,
        description="Optimizer step size; LoRA takes larger rates than full fine-tuning",
    )
    num_epochs: int = Field(
        DEFAULTS.num_epochs, ge=1, le=100, description="Passes over the training examples"
    )
    micro_batch_size: int = Field(
        DEFAULTS.micro_batch_size, ge=1, le=256, description="Examples per forward pass"
    )
    gradient_accumulation_steps: int = Field(
        DEFAULTS.gradient_accumulation_steps,
        ge=1,
        le=256,
        description="Micro-batches per optimizer step (batch size = micro batch × this)",
    )
    max_seq_len: int = Field(
        DEFAULTS.max_seq_len,
        ge=16,
        le=8192,
        description="Tokens per example; longer examples are cut (longer is slower)",
    )
    seed: int = Field(DEFAULTS.seed, description="Random seed: the same seed, the same adapter")
    qlora: bool = Field(
        DEFAULTS.qlora, description="4-bit base (bitsandbytes, NF4) on a CUDA GPU: QLoRA"
    )
    max_examples: int | None = Field(
        None, ge=1, description="Train on the dataset's first N training examples; null: all"
    )

    raft: RaftConfig | None = Field(
        None, description="Train on RAFT-style examples with retrieved context; null: as given"
    )

    @model_validator(mode="after")
    def room_for_context(self) -> TrainingConfig:
        if self.raft is not None and self.max_seq_len < RAFT_MIN_SEQ_LEN:
            raise ValueError(
                f"max_seq_len must be at least {RAFT_MIN_SEQ_LEN} with raft (the prompts carry "
                "retrieved chunks)"
            )
        return self

    def train_config(self) -> TrainConfig:
        return TrainConfig(**self.model_dump(exclude={"base_model", "max_examples", "raft"}))

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(), sort_keys=False)


def parse_config(text: str) -> TrainingConfig:
    """A YAML (or JSON) mapping as a TrainingConfig; ConfigError names what is wrong."""
    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as error:
        raise ConfigError(f"not valid YAML: {error}") from None
    return config_from(data)


def config_from(data: object) -> TrainingConfig:
    if not isinstance(data, dict):
        raise ConfigError("the config must be a mapping of field: value")
    try:
        return TrainingConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(describe(error)) from None


def describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        field = ".".join(str(p) for p in item["loc"]) or "config"
        reason = "unknown field" if item["type"] == "extra_forbidden" else item["msg"]
        parts.append(f"{field}: {reason}")
    return "; ".join(parts)


def check_target_modules(config: TrainingConfig, base_model: str) -> None:
    """Refuse target modules that are not linear layers of the base model."""
    available = linear_modules(base_model)
    missing = [name for name in config.target_modules if name not in available]
    if missing:
        raise ConfigError(
            f"target_modules: {', '.join(missing)} not in the base model "
            f"(it has {', '.join(sorted(available))})"
        )


@lru_cache(maxsize=4)
def linear_modules(base_model: str) -> frozenset[str]:
    """Names of the base model's linear layers, read from its config without loading
    weights (the model is built on the meta device)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from app.engine.transformers import model_source

    source, extra = model_source(base_model)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(source, **extra))
    return frozenset(
        name.rsplit(".", 1)[-1]
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and name != "lm_head"
    )


def default_yaml(base_model: str) -> str:
    return TrainingConfig(base_model=base_model).to_yaml()
