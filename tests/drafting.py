"""A scenario with a small knowledge base for the drafting tests, and a client whose drafting
jobs run with the teacher double (tests/doubles.py `TeacherDouble`)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from tests.scenario_files import create

DOCUMENTS = {
    f"{name}.md": f"# {title}\n\n{text}\n".encode()
    for name, title, text in [
        ("returns", "Returns", "Tents can be returned within 45 days. Keep the receipt."),
        ("warranty", "Warranty", "Boots carry a two-year warranty. Soles are covered."),
        ("shipping", "Shipping", "Orders over 80 dollars ship free. Islands pay 12 dollars."),
        ("hours", "Store hours", "The Portland store opens at 9 am. It closes at 7 pm."),
        ("loyalty", "Loyalty", "Trail members earn 2 points per dollar. Points never expire."),
        ("stoves", "Stoves", "The Ember stove burns for 90 minutes. It weighs 310 grams."),
        ("packs", "Packs", "The Ridge 40 pack holds 40 litres. Its frame is aluminium."),
        ("repairs", "Repairs", "Zip repairs take five days. They cost 15 dollars."),
    ]
}


def knowledge_scenario(client, slug: str) -> None:
    """A scenario with eight one-chunk documents."""
    create(client, slug)
    parts = [("files", (name, data)) for name, data in DOCUMENTS.items()]
    stored = client.post(f"/api/v1/scenarios/{slug}/documents", files=parts)
    assert stored.status_code == 201, stored.text


def wait_for_drafts(client, run_id: int, timeout_s: float = 60) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = client.get(f"/api/v1/draft-runs/{run_id}").json()
        if run["status"] not in ("queued", "running"):
            return run
        time.sleep(0.2)
    raise AssertionError(f"drafting {run_id} did not finish: {run}")


@contextmanager
def teacher_runtime(runtime, settings) -> Iterator:
    """The session's runtime with the teacher double, drafting in its own worker."""
    from tests.doubles import DraftingRuntime, TeacherDouble

    engine = TeacherDouble(settings.base_model)
    drafting = DraftingRuntime(runtime, engine)
    drafting.load(demo=False)
    try:
        yield drafting
    finally:
        drafting.close()
        engine.close()
