"""What a drafting request and a verdict on a draft may say (the API's bodies, the page's
forms)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.drafts.jobs import DraftOptions
from app.drafts.review import Edit


class DraftRunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kinds: list[Literal["eval_item", "chat_example"]] = Field(
        ["eval_item", "chat_example"],
        min_length=1,
        description="Draft eval items (from eval-side documents), chat examples (from "
        "training-side documents), or both",
    )
    count: int = Field(5, ge=1, le=200, description="Drafts of each kind (one per chunk)")
    engine: Literal["local", "teacher"] = Field(
        "local", description="`local`: the runtime's engine; `teacher`: the server below"
    )
    teacher_base_url: str | None = Field(
        None, max_length=500, description="OpenAI-compatible base URL of the teacher"
    )
    teacher_model: str | None = Field(None, max_length=200, description="The teacher's model")
    eval_share: float = Field(
        0.5, ge=0, le=1, description="Share of unassigned documents put on the eval side"
    )
    label: str = Field("knowledge", min_length=1, max_length=64, description="Eval items' kind")
    max_new_tokens: int = Field(160, ge=16, le=1024)

    def options(self) -> DraftOptions:
        return DraftOptions(**self.model_dump())


class DraftVerdict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str | None = Field(None, max_length=2000, description="Edited question")
    answer: str | None = Field(None, max_length=5000, description="Edited answer")

    def edit(self) -> Edit:
        return Edit(question=self.question, answer=self.answer)
