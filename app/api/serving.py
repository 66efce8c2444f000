"""`/v1`: the OpenAI-compatible endpoint. `model: "<scenario>/<level>"` answers as that
level; errors come in OpenAI's format (app/errors.py). And how well `<scenario>/auto`
routes: `/api/v1/scenarios/{slug}/routing`."""

from __future__ import annotations

from itertools import chain

from fastapi import APIRouter
from fastapi.responses import JSONResponse, StreamingResponse

from app.api.bodies import TEXT_BODIES
from app.api.schemas import API_ERRORS, OPENAI_ERRORS
from app.db.queries import get_scenario
from app.deps import RuntimeDep, SessionDep
from app.errors import AppError
from app.serving.calls import answer_call, prepare_call, stream_call
from app.serving.models import find_model, served_models
from app.serving.requests import ChatCompletionRequest
from app.serving.responses import completion, stream_chunks
from app.serving.routing import routing_accuracy

router = APIRouter(tags=["openai-compatible"], responses=OPENAI_ERRORS, dependencies=TEXT_BODIES)


@router.get("/v1/models")
def list_models(session: SessionDep) -> dict:
    """Every scenario's every level, as `<scenario>/<level>`."""
    return {"object": "list", "data": [m.describe() for m in served_models(session)]}


@router.get("/v1/models/{model:path}")
def read_model(model: str, session: SessionDep) -> dict:
    return find_model(session, model).describe()


@router.post(
    "/v1/chat/completions",
    responses={200: {"content": {"application/json": {}, "text/event-stream": {}}}},
)
def chat_completions(body: ChatCompletionRequest, session: SessionDep, runtime: RuntimeDep):
    """The model's level (for `<scenario>/auto`: the level the scenario's decision report
    chose for the query's kind) answers the last user message; the call is stored as a
    comparison marked `served`. With `stream: true`, chunks as Server-Sent Events; an error
    before the first piece of text (queue full, the level cannot answer) is still an error
    status. The header `x-tritune-level` names the level that answered."""
    call = prepare_call(session=session, runtime=runtime, body=body)
    headers = {"x-tritune-level": call.level}  # for `auto`: the level it routed to
    if not body.stream:
        answer = answer_call(session=session, runtime=runtime, call=call)
        headers["x-tritune-comparison"] = str(answer.comparison_id)
        return JSONResponse(completion(call.id, answer), headers=headers)
    events = stream_call(runtime, call)
    first = next(events)
    if isinstance(first, AppError):
        raise first
    chunks = stream_chunks(call.id, chain([first], events), usage=call.include_usage)
    return StreamingResponse(chunks, media_type="text/event-stream", headers=headers)


@router.get("/api/v1/scenarios/{slug}/routing", responses=API_ERRORS)
def routing(slug: str, session: SessionDep, runtime: RuntimeDep) -> dict:
    """How `<slug>/auto` routes: the kind classifier's accuracy on the eval items, each held
    out in turn (overall and per kind), and the level each kind goes to now (the default
    until an eval run has finished)."""
    return routing_accuracy(
        session, runtime.loaded_embedder(), get_scenario(session, slug)
    ).public()
