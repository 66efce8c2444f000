"""`/v1`: the OpenAI-compatible endpoint. `model: "<scenario>/<level>"` answers as that
level; errors come in OpenAI's format (app/errors.py)."""

from __future__ import annotations

from itertools import chain

from fastapi import APIRouter
from fastapi.responses import JSONResponse, StreamingResponse

from app.deps import RuntimeDep, SessionDep
from app.errors import AppError
from app.serving.calls import answer_call, prepare_call, stream_call
from app.serving.models import find_model, served_models
from app.serving.requests import ChatCompletionRequest
from app.serving.responses import completion, stream_chunks

router = APIRouter(prefix="/v1", tags=["openai-compatible"])


@router.get("/models")
def list_models(session: SessionDep) -> dict:
    """Every scenario's every level, as `<scenario>/<level>`."""
    return {"object": "list", "data": [m.describe() for m in served_models(session)]}


@router.get("/models/{model:path}")
def read_model(model: str, session: SessionDep) -> dict:
    return find_model(session, model).describe()


@router.post(
    "/chat/completions",
    responses={200: {"content": {"application/json": {}, "text/event-stream": {}}}},
)
def chat_completions(body: ChatCompletionRequest, session: SessionDep, runtime: RuntimeDep):
    """The model's level answers the last user message; the call is stored as a comparison
    marked `served`. With `stream: true`, chunks as Server-Sent Events; an error before the
    first piece of text (queue full, the level cannot answer) is still an error status."""
    call = prepare_call(session=session, runtime=runtime, body=body)
    if not body.stream:
        answer = answer_call(session=session, runtime=runtime, call=call)
        headers = {"x-tritune-comparison": str(answer.comparison_id)}
        return JSONResponse(completion(call.id, answer), headers=headers)
    events = stream_call(runtime, call)
    first = next(events)
    if isinstance(first, AppError):
        raise first
    chunks = stream_chunks(call.id, chain([first], events), usage=call.include_usage)
    return StreamingResponse(chunks, media_type="text/event-stream")
