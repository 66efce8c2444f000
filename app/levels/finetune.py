"""Fine-tuned: the query alone, on the base model plus the scenario's LoRA adapter."""

from __future__ import annotations

from sqlalchemy import select

from app.db.models import Adapter
from app.finetune.adapters import usable
from app.levels.base import Level, LevelInputs, LevelPlan, LevelUnavailable, register


@register
class FinetuneLevel(Level):
    name = "finetune"
    description = "The query alone, base model + the scenario's LoRA adapter"

    def plan(self, inputs: LevelInputs) -> LevelPlan:
        adapter = self.choose_adapter(inputs)
        if not usable(adapter):
            raise LevelUnavailable(f"adapter {adapter.name!r} has no files at {adapter.path}")
        if adapter.base_model != inputs.settings.base_model:
            raise LevelUnavailable(
                f"adapter {adapter.name!r} was trained on {adapter.base_model}, "
                f"not on the configured base model {inputs.settings.base_model}"
            )
        return LevelPlan(
            messages=[{"role": "user", "content": inputs.query}],
            adapter=adapter,
            provenance={"dataset_sha256": adapter.dataset_sha256},
        )

    @staticmethod
    def choose_adapter(inputs: LevelInputs) -> Adapter:
        if inputs.adapter:
            adapter = inputs.session.scalar(
                select(Adapter).where(
                    Adapter.name == inputs.adapter, Adapter.scenario_id == inputs.scenario.id
                )
            )
            if adapter is None:
                raise LevelUnavailable(
                    f"no adapter named {inputs.adapter!r} in scenario {inputs.scenario.slug!r}"
                )
            return adapter
        if inputs.scenario.active_adapter is None:
            raise LevelUnavailable(
                f"scenario {inputs.scenario.slug!r} has no active adapter; "
                "`tritune setup` trains the demo scenario's adapter"
            )
        return inputs.scenario.active_adapter
