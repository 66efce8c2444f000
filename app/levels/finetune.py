"""Fine-tuned: the query, on the base model plus the scenario's LoRA adapter, asked the way
the adapter was trained: after the system message its training data opened with (or the
scenario's `finetune_system_prompt` when it sets one), or alone when the data had none.
Serving with another prompt than training taught (the query alone after training with a
system message that lists the labels) makes the adapter answer in a format of its own."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.config import LevelPrice
from app.costs import FixedCosts, PricingProfile, ScenarioFixedInputs, training_cost
from app.db.models import Adapter
from app.evals.wording import metric, pct
from app.finetune.adapters import usable
from app.finetune.dataset import training_dataset, training_system_message
from app.finetune.jobs import active_trainings, training_status
from app.levels.base import Level, LevelInputs, LevelPlan, LevelUnavailable, register
from app.scenarios.prompts import text_record


@register
class FinetuneLevel(Level):
    name = "finetune"
    description = "The query as the adapter was trained, base model + the scenario's LoRA adapter"
    title = "the fine-tuned model"
    rank = 30  # a dataset to curate and an adapter to train
    # Modelled on hosted small-model list prices: a fine-tuned model is served at twice the
    # base price per token, which is what most providers charge for custom weights.
    default_price = LevelPrice(input_usd_per_mtok=0.30, output_usd_per_mtok=1.20)
    wins_at_volume = True  # short prompts: past some volume they repay the training
    prompt_fields = ("finetune_system_prompt",)

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
        adapter = servable_adapter(inputs)
        own = inputs.prompt(self.name)["finetune_system_prompt"]
        system_prompt, source = adapter_system_prompt(inputs, adapter, own)
        messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
        messages.append({"role": "user", "content": inputs.query})
        provenance: dict[str, Any] = {
            "dataset_sha256": adapter.dataset_sha256,
            "system_prompt_source": source,
            "prompts": {"system_prompt": text_record(system_prompt)} if system_prompt else {},
        }
        return LevelPlan(messages=messages, adapter=adapter, provenance=provenance)


def servable_adapter(inputs: LevelInputs) -> Adapter:
    """The adapter a comparison runs with (`choose_adapter`); LevelUnavailable when its files
    are gone or it was trained on another base model than the configured one."""
    adapter = choose_adapter(inputs)
    if not usable(adapter):
        raise LevelUnavailable(f"adapter {adapter.name!r} has no files at {adapter.path}")
    if adapter.base_model != inputs.settings.base_model:
        raise LevelUnavailable(
            f"adapter {adapter.name!r} was trained on {adapter.base_model}, "
            f"not on the configured base model {inputs.settings.base_model}"
        )
    return adapter


def adapter_system_prompt(
    inputs: LevelInputs, adapter: Adapter, own: str | None
) -> tuple[str | None, str]:
    """The system message to send and where it comes from: `scenario` (`own`, the prompt
    version's `finetune_system_prompt`), `training data`, or `none` (the query alone)."""
    if own is not None:
        return own, "scenario"
    dataset = training_dataset(inputs.session, adapter)
    message = training_system_message(inputs.session, dataset) if dataset else None
    return message, "training data" if message else "none"


def choose_adapter(inputs: LevelInputs) -> Adapter:
    """The adapter the comparison names, else the scenario's active one (LevelUnavailable
    when there is none)."""
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
        raise LevelUnavailable(no_adapter_yet(inputs))
    return inputs.scenario.active_adapter


def no_adapter_yet(inputs: LevelInputs) -> str:
    """Why the level cannot answer yet: an adapter training for it (with its progress), or
    none trained."""
    slug = inputs.scenario.slug
    for job in active_trainings(inputs.session, scenario_id=inputs.scenario.id):
        if job.activate:
            return (
                f"the adapter {job.adapter_name} is training: {training_status(job)}; this "
                "column answers once it is done"
            )
    return (
        f"scenario {slug!r} has no active adapter yet; train one on /scenarios/{slug}/finetune "
        "or with `tritune train`"
    )
