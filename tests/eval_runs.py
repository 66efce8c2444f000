"""A finished eval run stored directly, as the runner stores one: items, one comparison per
item with each level's answer, scores, and the summary a finished run keeps. For tests of
what is read from a run (pages, API), without running the levels."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from app.db.models import Comparison, EvalItem, EvalRun, EvalScore, EvalSet, Result, Scenario
from app.evals.runner import keep_summary

Passes = Callable[[str, str, int], bool]  # (kind, level, index) -> whether it passed


SECONDS = {"prompt": 1.0, "rag": 2.0, "finetune": 0.5}  # machine time billed per answer


def usage(level: str, passed: bool) -> dict[str, float]:
    return {
        "quality": float(passed),
        "exact_match": float(passed),
        "seconds": SECONDS.get(level, 1.0),
        "latency_ms": 900.0,
        "cost_usd": 0.0001,
        "prompt_tokens": 300.0,
        "completion_tokens": 40.0,
        "error": 0.0,
    }


def store_finished_run(
    session: Session, slug: str, counts: dict[str, int], levels: list[str], passes: Passes
) -> int:
    """A scenario `slug` with an eval set of `counts` items per kind, and a finished run of
    `levels` whose answer to item i of a kind is "<level> answer <kind> <i>"; returns its id."""
    scenario = Scenario(slug=slug, name=slug.title(), system_prompt="Answer.")
    session.add(scenario)
    session.flush()
    eval_set = EvalSet(scenario_id=scenario.id, name=f"{slug}.jsonl", sha256=slug[:64].ljust(64))
    for kind, count in counts.items():
        for index in range(count):
            eval_set.items.append(
                EvalItem(
                    position=len(eval_set.items),
                    kind=kind,
                    input=f"{kind} {index}",
                    expected=f"x{index}",
                )
            )
    session.add(eval_set)
    session.flush()
    total = len(eval_set.items)
    run = EvalRun(
        scenario_id=scenario.id,
        eval_set_id=eval_set.id,
        status="done",
        options={"repeats": 1},
        levels=levels,
        skipped={},
        total=total,
        done=total,
    )
    session.add(run)
    session.flush()
    for item in eval_set.items:
        index = int(item.input.split()[1])
        comparison = Comparison(scenario_id=scenario.id, query=item.input, settings={})
        comparison.results = [
            Result(level=level, output=f"{level} answer {item.kind} {index}") for level in levels
        ]
        session.add(comparison)
        session.flush()
        for level in levels:
            metrics = usage(level, passes(item.kind, level, index))
            session.add(
                EvalScore(
                    eval_run_id=run.id,
                    eval_item_id=item.id,
                    comparison_id=comparison.id,
                    repeat=0,
                    level=level,
                    metrics=metrics,
                )
            )
    session.flush()
    keep_summary(session, run)
    session.commit()
    return run.id
