"""`/api/v1` feedback on served calls: thumbs up or down (with the corrected answer) turns a
call to the OpenAI-compatible endpoint into an eval item of its scenario's eval set."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from app.api.bodies import TEXT_BODIES
from app.api.schemas import API_ERRORS
from app.db.models import ServedFeedback
from app.deps import RecordId, SessionDep
from app.serving.feedback import give_feedback

router = APIRouter(
    prefix="/api/v1", tags=["serving"], responses=API_ERRORS, dependencies=TEXT_BODIES
)


class FeedbackCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: Literal["up", "down"] = Field(
        description="`up`: the served answer is right; `down`: it is wrong (give `corrected`)"
    )
    corrected: str | None = Field(
        None, max_length=5000, description="The right answer (required with `down`)"
    )
    kind: str | None = Field(
        None,
        max_length=64,
        description="The eval item's kind when the call was not routed by `auto` "
        "(default: general)",
    )


class FeedbackPublic(BaseModel):
    id: int
    comparison_id: int
    verdict: str
    corrected: str | None
    eval_set_id: int | None
    created_at: datetime

    @classmethod
    def of(cls, feedback: ServedFeedback) -> FeedbackPublic:
        return cls.model_validate(feedback, from_attributes=True)


@router.post(
    "/comparisons/{comparison_id}/feedback", status_code=201, response_model=FeedbackPublic
)
def create_feedback(comparison_id: RecordId, body: FeedbackCreate, session: SessionDep):
    """Judge a served call; its query becomes an eval item (reference: the served answer, or
    the corrected one). 422 for a comparison that was not served or a thumbs down without a
    correction, 409 when the call was judged already."""
    feedback = give_feedback(session, comparison_id=comparison_id, **body.model_dump())
    session.commit()
    return FeedbackPublic.of(feedback)
