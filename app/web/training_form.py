"""The fine-tune page's training config as a form: one field per `TrainingConfig` field,
with its description as help, read back into the same config the YAML gives (the raw YAML
stays available beside it), and the estimated training time."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from fastapi import Request

from app.finetune.config import TrainingConfig
from app.finetune.estimate import Speed, training_seconds

PREFIX = "cfg_"  # form fields `cfg_<config field>`
STEPS = {"lora_dropout": "0.01", "learning_rate": "any"}


@dataclass(frozen=True)
class ConfigField:
    name: str
    label: str
    help: str
    value: str
    kind: str  # the input's type: number, text or checkbox
    step: str | None = None
    placeholder: str = ""


def config_fields(config: TrainingConfig, base_model: str) -> list[ConfigField]:
    """The form's fields, filled from `config` (blank where it leaves the default)."""
    fields = []
    for name, info in TrainingConfig.model_fields.items():
        value = getattr(config, name)
        number = info.annotation in (int, float, int | None)
        kind = "checkbox" if info.annotation is bool else "number" if number else "text"
        fields.append(
            ConfigField(
                name=name,
                label=name.replace("_", " "),
                help=info.description or "",
                value=form_value(value),
                kind=kind,
                step=STEPS.get(name, "1" if info.annotation in (int, int | None) else "any"),
                placeholder=placeholder(name, base_model),
            )
        )
    return fields


def form_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def placeholder(name: str, base_model: str) -> str:
    if name == "base_model":
        return f"the server's: {Path(base_model).name}"
    if name == "max_examples":
        return "all"
    return ""


async def config_form(request: Request) -> dict[str, Any]:
    """The submitted config fields as a mapping for `config_from` (blank: the default)."""
    form = await request.form()
    data: dict[str, Any] = {}
    for name in TrainingConfig.model_fields:
        raw = form.get(PREFIX + name)
        if not isinstance(raw, str) or not raw.strip():
            continue
        data[name] = raw.replace(",", " ").split() if name == "target_modules" else raw.strip()
    return data


def web_yaml(base_model: str) -> str:
    """The default config as YAML for the page: the server's base model by name in a comment
    rather than by its absolute path."""
    note = f"# base_model: null trains on the server's base model ({Path(base_model).name})\n"
    return note + yaml.safe_dump(TrainingConfig().model_dump(), sort_keys=False)


def estimate_text(examples: int, epochs: int, speed: Speed | None) -> str:
    """`about 6 min (600 examples × 1 epoch at 1.69 examples/s, measured by …)`."""
    seconds = training_seconds(examples, epochs, speed)
    if seconds is None or speed is None:
        return "no measurement yet: the first training on this installation measures its speed"
    per = "epoch" if epochs == 1 else "epochs"
    return (
        f"about {duration(seconds)} ({examples:,} examples × {epochs} {per} at "
        f"{speed.examples_per_s:g} examples/s, as {speed.measured_by} trained)"
    )


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(round(seconds), 1)} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"
