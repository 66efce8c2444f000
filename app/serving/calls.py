"""A served call: the model's one level answers the last user message as a comparison of
that level alone, run and stored by the comparison service, so every call is in the history
with its query, output, latency, tokens and cost. Its settings carry `served` (the model)
and `completion_id` (the `id` the client got), which tell it from the compare page's runs;
a call to `<scenario>/auto` adds its route (`route`, `route_kind`, `route_reason`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.compare import ComparisonOptions, run_comparison
from app.db.models import Scenario
from app.errors import AppError
from app.rag.embedding import Embedder
from app.runtime import Runtime
from app.serving.models import ServedModel, find_model
from app.serving.requests import ChatCompletionRequest, ResponseFormat
from app.serving.responses import Answer, CallId, Event
from app.serving.routing import AUTO, Route, route_query

log = logging.getLogger(__name__)


class UnsupportedFormat(AppError):
    param = "response_format"


class ServingError(AppError):
    status = 500


@dataclass(frozen=True)
class ServedCall:
    """What one chat request runs: the scenario and level its model names (for `auto`, the
    level it routed to), the query, the options, and the id and creation time every chunk
    repeats."""

    scenario: str
    level: str
    query: str
    options: ComparisonOptions
    id: CallId
    include_usage: bool
    route: Route | None = None

    @property
    def labels(self) -> dict[str, str]:
        served = {"served": self.id.model, "completion_id": self.id.id}
        return served | (self.route.labels() if self.route else {})

    @property
    def name(self) -> str:
        """The model, and the level it routed to for `auto`."""
        return f"{self.id.model} (routed to {self.level})" if self.route else self.id.model


def prepare_call(*, session: Session, runtime: Runtime, body: ChatCompletionRequest) -> ServedCall:
    """The call `body` asks for. ModelNotFound (404), UnsupportedFormat (400), NotReady
    (503) while the models load: all before anything runs."""
    model = find_model(session, body.model)
    constrained = decodes_under_schema(body.response_format, model.scenario)
    embedder, _ = runtime.models()
    route = route_for(session, embedder, model, body.query)
    level = route.level if route else model.level
    options = ComparisonOptions(
        levels=[level],
        max_new_tokens=body.max_new_tokens,
        temperature=body.temperature,
        constrained=constrained,
    )
    call_id = CallId(f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), model.id)
    return ServedCall(
        model.scenario.slug, level, body.query, options, call_id, body.include_usage, route
    )


def route_for(session: Session, embedder: Embedder, model: ServedModel, query: str) -> Route | None:
    """Where `auto` sends the query; None for a model that names its level."""
    if model.level != AUTO:
        return None
    return route_query(session, embedder, model.scenario, embedder.embed_one(query))


def decodes_under_schema(response_format: ResponseFormat | None, scenario: Scenario) -> bool:
    """Whether the call decodes under the scenario's output schema: asked for with
    `json_schema` and exactly that schema. Any other schema, and `json_object`, are refused:
    a level is served as the scenario defines it."""
    if response_format is None or response_format.type == "text":
        return False
    own = scenario.output_schema
    wanted = response_format.json_schema.json_schema if response_format.json_schema else None
    if response_format.type == "json_schema" and own is not None and wanted == own:
        return True
    where = f"GET /api/v1/scenarios/{scenario.slug}"
    if own is None:
        raise UnsupportedFormat(
            f"scenario {scenario.slug!r} has no output JSON schema; response_format can only "
            "ask for a scenario's own schema"
        )
    raise UnsupportedFormat(
        "response_format: only json_schema with the scenario's own output schema is served "
        f"(its `output_schema` in {where}); other schemas and json_object are not"
    )


def answer_call(*, session: Session, runtime: Runtime, call: ServedCall) -> Answer:
    """Run and store the call; its answer, or LevelFailed (503) when the level could not
    answer, Busy (503) when the queue is full."""
    comparison = run_comparison(
        session=session,
        runtime=runtime,
        scenario=call.scenario,
        query=call.query,
        options=call.options,
        labels=call.labels,
    )
    return Answer.of(comparison, call.name)


def stream_call(runtime: Runtime, call: ServedCall) -> Iterator[Event]:
    """Run the call in a worker thread; yield each piece of text as the level generates it,
    then the Answer, or an AppError (Busy, LevelFailed, ...) if the call failed. The worker
    runs to the end even when the client goes away, so the call is stored either way."""
    events: queue.Queue[Event | None] = queue.Queue()
    worker = threading.Thread(
        target=run_reporting, args=(runtime, call, events), name="tritune-serve", daemon=True
    )
    worker.start()
    while (event := events.get()) is not None:
        yield event


def run_reporting(runtime: Runtime, call: ServedCall, events: queue.Queue[Any]) -> None:
    try:
        with runtime.session() as session:
            comparison = run_comparison(
                session=session,
                runtime=runtime,
                scenario=call.scenario,
                query=call.query,
                options=call.options,
                on_token=lambda level, text: events.put(text),
                labels=call.labels,
            )
            events.put(Answer.of(comparison, call.name))
    except AppError as error:
        events.put(error)
    except Exception:
        log.exception("served call to %s failed", call.id.model)
        events.put(ServingError("internal error; see the server log"))
    finally:
        events.put(None)
