"""Fine-tuned: the query alone, on the base model plus the scenario's LoRA adapter."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.config import LevelPrice
from app.costs import FixedCosts, PricingProfile, ScenarioFixedInputs, training_cost
from app.db.models import Adapter
from app.evals.wording import metric, pct
from app.finetune.adapters import usable
from app.levels.base import Level, LevelInputs, LevelPlan, LevelUnavailable, register


@register
class FinetuneLevel(Level):
    name = "finetune"
    description = "The query alone, base model + the scenario's LoRA adapter"
    title = "the fine-tuned model"
    rank = 30  # a dataset to curate and an adapter to train
    # Modelled on hosted small-model list prices: a fine-tuned model is served at twice the
    # base price per token, which is what most providers charge for custom weights.
    default_price = LevelPrice(input_usd_per_mtok=0.30, output_usd_per_mtok=1.20)
    wins_at_volume = True  # short prompts: past some volume they repay the training

    def fixed_costs(self, profile: PricingProfile, inputs: ScenarioFixedInputs) -> FixedCosts:
        """Training the adapter, once."""
        return FixedCosts(
            once_usd=training_cost(
                profile, seconds=inputs.training_seconds, tokens=inputs.training_tokens
            )
        )

    def reason(self, stats: dict[str, Any], simpler_stats: dict[str, Any]) -> str:
        formats = [
            f"{label} {pct(metric(stats, key))} vs {pct(metric(simpler_stats, key))}"
            for key, label in (("json_validity", "valid JSON"), ("field_accuracy", "fields"))
            if metric(stats, key) is not None
        ]
        return "; the output's format must be exact" + (
            f" ({', '.join(formats)})" if formats else ""
        )

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
