"""Prompt versions: each change of a level's prompt makes a new immutable version.

A level's prompt is the values of its `prompt_fields` (app/levels: the `prompt` level's
system prompt and few-shot settings, the `rag` level's instruction and template, the
`finetune` level's system prompt). The scenario's columns hold the current values; the
versions are their history, numbered from 1 per scenario and level, each with the content's
sha256 and an author note. After every create or edit `record_versions` adds a version for
each level whose content differs from its latest, so the latest version always equals the
columns. A comparison runs with the latest versions unless it pins older ones
(`resolve_versions`); its results name the version they used.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db.models import PromptVersion, Scenario
from app.errors import AppError, NotFound
from app.levels import REGISTRY


class UnknownVersion(AppError):
    status = 422


def versioned_levels() -> dict[str, tuple[str, ...]]:
    """The levels that have a prompt, with the scenario fields it is made of."""
    return {name: level.prompt_fields for name, level in REGISTRY.items() if level.prompt_fields}


def version_content(scenario: Scenario, level: str) -> dict[str, Any]:
    """The level's prompt as the scenario holds it now."""
    return {name: getattr(scenario, name) for name in versioned_levels()[level]}


def content_sha256(content: dict[str, Any]) -> str:
    """The sha256 of the content as canonical JSON (keys sorted, no spaces)."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def latest_versions(session: Session, scenario_id: int) -> dict[str, PromptVersion]:
    """Each level's latest version."""
    latest = (
        select(PromptVersion.level, func.max(PromptVersion.number).label("number"))
        .where(PromptVersion.scenario_id == scenario_id)
        .group_by(PromptVersion.level)
        .subquery()
    )
    rows = session.scalars(
        select(PromptVersion)
        .join(
            latest,
            (PromptVersion.level == latest.c.level) & (PromptVersion.number == latest.c.number),
        )
        .where(PromptVersion.scenario_id == scenario_id)
    )
    return {version.level: version for version in rows}


def record_versions(session: Session, scenario: Scenario, note: str = "") -> list[PromptVersion]:
    """Add a version for each level whose prompt differs from its latest version (all of
    them for a new scenario); returns the new versions."""
    session.flush()  # a new scenario needs its id
    latest = latest_versions(session, scenario.id)
    added = []
    for level in versioned_levels():
        content = version_content(scenario, level)
        sha256 = content_sha256(content)
        previous = latest.get(level)
        if previous is not None and previous.sha256 == sha256:
            continue
        version = PromptVersion(
            scenario_id=scenario.id,
            level=level,
            number=previous.number + 1 if previous else 1,
            content=content,
            sha256=sha256,
            note=note,
        )
        session.add(version)
        added.append(version)
    session.flush()
    return added


def list_versions(
    session: Session, scenario_id: int, level: str | None = None
) -> list[PromptVersion]:
    """The scenario's versions, by level (simplest first) and newest first."""
    statement = select(PromptVersion).where(PromptVersion.scenario_id == scenario_id)
    if level is not None:
        statement = statement.where(PromptVersion.level == level)
    order = list(versioned_levels())
    versions = session.scalars(statement.order_by(PromptVersion.number.desc())).all()
    return sorted(versions, key=lambda v: order.index(v.level) if v.level in order else len(order))


def versions_by_level(session: Session, scenario_id: int) -> dict[str, list[PromptVersion]]:
    """Each level's versions, newest first."""
    grouped: dict[str, list[PromptVersion]] = {}
    for version in list_versions(session, scenario_id):
        grouped.setdefault(version.level, []).append(version)
    return grouped


def get_version(session: Session, scenario: Scenario, level: str, number: int) -> PromptVersion:
    """Version `number` of the level's prompt (NotFound)."""
    version = session.scalar(
        select(PromptVersion).where(
            PromptVersion.scenario_id == scenario.id,
            PromptVersion.level == level,
            PromptVersion.number == number,
        )
    )
    if version is None:
        raise NotFound(
            f"scenario {scenario.slug!r} has no version {number} of the {level!r} prompt"
        )
    return version


def resolve_versions(
    session: Session, scenario: Scenario, pinned: dict[str, int] | None = None
) -> dict[str, PromptVersion]:
    """The version each level runs with: the pinned number, else the latest
    (UnknownVersion naming the level and number that do not exist). A scenario whose columns
    were written without a version (by hand, or by SQL) gets one now, so that what runs is
    always a version."""
    try:
        with session.begin_nested():  # a concurrent run may record the same version
            record_versions(session, scenario, "recorded at use: the prompt had no version")
    except IntegrityError:
        pass
    versions = latest_versions(session, scenario.id)
    for level, number in (pinned or {}).items():
        if level not in versioned_levels():
            raise UnknownVersion(f"prompt_versions: level {level!r} has no prompt to pin")
        if versions.get(level) is None or versions[level].number != number:
            try:
                versions[level] = get_version(session, scenario, level, number)
            except NotFound as error:
                raise UnknownVersion(f"prompt_versions: {error}") from None
    return versions


def version_record(version: PromptVersion) -> dict[str, Any]:
    """A version as the API and the exports show it."""
    return {
        "level": version.level,
        "number": version.number,
        "sha256": version.sha256,
        "note": version.note,
        "created_at": version.created_at,
        "content": version.content,
    }


def as_text(value: Any) -> list[str]:
    """A field's value as lines to compare (text as it is, anything else as JSON)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text.splitlines()


def diff_versions(old: PromptVersion, new: PromptVersion) -> list[dict[str, Any]]:
    """Per field of the level's prompt: whether it changed, and a unified diff of its text."""
    names = list(dict.fromkeys([*old.content, *new.content]))
    changes = []
    for name in names:
        before, after = old.content.get(name), new.content.get(name)
        lines = difflib.unified_diff(
            as_text(before),
            as_text(after),
            fromfile=f"v{old.number}",
            tofile=f"v{new.number}",
            lineterm="",
        )
        changes.append({"field": name, "changed": before != after, "diff": list(lines)})
    return changes
