"""What the demo adapter learned: held-out tickets through the base model and the adapter.

Counts the outputs that parse as the triage JSON object (exactly its five keys) and how many
fields match the labels. Needs the demo set up (`make setup`). Writes
benchmarks/results/adapter_effect.json.

    .venv/bin/python benchmarks/adapter_effect.py [--max-new-tokens 110]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from app.config import get_settings
from app.db.queries import get_scenario
from app.engine import GenerationRequest
from app.finetune.dataset import read_chat_jsonl
from app.runtime import Runtime

FIELDS = ("category", "priority", "product", "sentiment")
BATCH = 10


def triage(text: str, keys: set[str]) -> dict | None:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) and set(value) == keys else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-new-tokens", type=int, default=110)
    args = parser.parse_args()
    runtime = Runtime(get_settings())
    runtime.load(demo=False)
    engine = runtime.engine
    with runtime.session() as session:
        adapter = get_scenario(session, "northwind").active_adapter
    engine.load_adapter(adapter.name, adapter.path, adapter.checksum)
    tickets = read_chat_jsonl(runtime.settings.demo_dir / "eval_split.jsonl")
    counts = {"adapter": {"json": 0, **dict.fromkeys(FIELDS, 0)}, "base": {"json": 0}}
    for start in range(0, len(tickets), BATCH):
        part = tickets[start : start + BATCH]
        requests = [
            GenerationRequest(
                [{"role": "user", "content": t.prompt}],
                adapter=name,
                max_new_tokens=args.max_new_tokens,
            )
            for name in (adapter.name, None)
            for t in part
        ]
        outputs = engine.generate(requests)
        for ticket, tuned, base in zip(part, outputs, outputs[len(part) :], strict=False):
            expected = json.loads(ticket.completion)
            got = triage(tuned.text, set(expected))
            counts["base"]["json"] += triage(base.text, set(expected)) is not None
            if got is not None:
                counts["adapter"]["json"] += 1
                for field in FIELDS:
                    counts["adapter"][field] += got[field] == expected[field]
    report = {"adapter": adapter.name, "tickets": len(tickets), **counts}
    print(
        f"{len(tickets)} held-out tickets; triage JSON from the adapter "
        f"{counts['adapter']['json']}, from the base model {counts['base']['json']}; "
        + ", ".join(f"{f} right {counts['adapter'][f]}" for f in FIELDS)
    )
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "adapter_effect.json").write_text(json.dumps(report, indent=2))
    runtime.close()


if __name__ == "__main__":
    main()
