"""Importing a scenario bundle: check all of it (app/scenarios/bundle_check.py), then store it
in the caller's one transaction (flushed, not committed), in this order: the scenario, its
datasets (in the bundle's order, so that the last is the latest), the prompt history,
documents (embedded: the slow part, reported file by file), the eval set, and adapters with
weights (copied into the adapters folder; the copies are removed again if the import fails).

Into an existing scenario (`keep_existing`, the demo's load at every start) only what it
lacks is added: its fields, prompt versions and documents of the same source stay as the
team left them, documents it deleted stay deleted; datasets and the eval set are keyed by
content.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.models import (
    Adapter,
    Dataset,
    DeletedDocument,
    Document,
    EvalSet,
    PromptVersion,
    Scenario,
)
from app.db.queries import find_scenario
from app.evals.items import eval_set_sha256, store_eval_set
from app.finetune.adapters import register_adapter
from app.finetune.dataset import store_dataset
from app.finetune.validate import LineError
from app.rag.embedding import Embedder
from app.rag.extract import Rejected
from app.rag.ingest import store_extracted
from app.rag.reembed import require_embedding_model
from app.scenarios.bundle_check import Bundle, PlannedAdapter, PlannedDocument, check_bundle
from app.scenarios.bundle_files import EVALSET, BundleInvalid, open_bundle
from app.scenarios.manifest import POOL_FIELD, POOL_KEY
from app.scenarios.requests import Slug
from app.scenarios.service import BadScenario, SlugTaken, add_new, check_selection
from app.scenarios.versions import content_sha256, record_versions

OnFile = Callable[[str, int, int], None]  # (file, stored so far, of how many)
SLUG_CHECK: TypeAdapter[str] = TypeAdapter(Slug)


@dataclass
class ImportReport:
    """What an import stored (`added`), found in place (`unchanged`), and noticed."""

    slug: str
    created: bool
    added: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    adapters: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def count(self, kind: str, added: bool, n: int = 1) -> None:
        counts = self.added if added else self.unchanged
        counts[kind] = counts.get(kind, 0) + n


def import_bundle(
    session: Session,
    *,
    source: Path,
    embedder: Embedder,
    settings: Settings,
    slug: str | None = None,
    keep_existing: bool = False,
    on_file: OnFile | None = None,
) -> ImportReport:
    """Import the bundle at `source` (a directory or a .tar.gz) as scenario `slug` (default:
    its own): BundleInvalid (422) naming every problem, SlugTaken (409) unless
    `keep_existing`. Flushed; the caller commits."""
    with open_bundle(source) as root:
        bundle = check_bundle(
            root, slug=slug, max_bytes=settings.max_upload_bytes, count_tokens=embedder.count_tokens
        )
        existing = find_scenario(session, bundle.slug)
        if existing is not None and not keep_existing:
            raise SlugTaken(
                f"slug: a scenario {bundle.slug!r} exists already; import it under another slug"
            )
        store = BundleStore(session, bundle, embedder, settings, on_file)
        try:
            return store.run(existing, adapter_names(session, bundle))
        except BaseException:
            store.remove_copies()
            raise


def import_slug(value: str | None) -> str | None:
    """The slug a form or option asks to import under: None when blank, else a valid slug
    (BadScenario naming `slug` otherwise)."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        return SLUG_CHECK.validate_python(value)
    except ValidationError as error:
        message = error.errors()[0]["msg"].removeprefix("Value error, ")
        raise BadScenario(f"slug: {message}") from None


def adapter_names(session: Session, bundle: Bundle) -> dict[str, str]:
    """The name each adapter of the bundle is registered under: its own, else prefixed with
    the slug (adapter names are unique across scenarios). BundleInvalid when both are taken."""
    names, problems = {}, []
    for adapter in bundle.adapters:
        own = adapter.metadata.name
        for candidate in (own, f"{bundle.slug}-{own}"[:200]):
            if session.scalar(select(Adapter.id).where(Adapter.name == candidate)) is None:
                names[adapter.file] = candidate
                break
        else:
            problems.append(LineError(adapter.file, 0, f"an adapter {own!r} exists already"))
    if problems:
        raise BundleInvalid(problems)
    return names


def kept_out(session: Session, scenario: Scenario, source: str) -> bool:
    """Whether the scenario has a document of `source`, or had one its team deleted."""
    same_source = select(Document.id).where(
        Document.scenario_id == scenario.id, Document.source == source
    )
    deleted = select(DeletedDocument.source).where(
        DeletedDocument.scenario_id == scenario.id, DeletedDocument.source == source
    )
    return session.scalar(same_source.limit(1)) is not None or session.scalar(deleted) is not None


class BundleStore:
    """One import's writes: a checked bundle stored into one scenario, part by part, with
    its progress and report."""

    def __init__(
        self,
        session: Session,
        bundle: Bundle,
        embedder: Embedder,
        settings: Settings,
        on_file: OnFile | None,
    ) -> None:
        self.session, self.bundle = session, bundle
        self.embedder, self.settings, self.on_file = embedder, settings, on_file
        self.report = ImportReport(bundle.slug, True, warnings=list(bundle.warnings))
        self.copied: list[Path] = []  # adapter directories written so far
        self.stored = 0

    def run(self, existing: Scenario | None, adapter_names: dict[str, str]) -> ImportReport:
        self.report.created = existing is None
        scenario = existing or add_new(self.session, Scenario(**self.bundle.manifest.values))
        if existing is not None:
            require_embedding_model(self.session, scenario=scenario, model=self.embedder.name)
        dataset_ids = self.store_datasets(scenario)
        if existing is None:
            scenario.few_shot_dataset_id = dataset_ids.get(self.bundle.manifest.pool or "")
            check_selection(scenario)
            self.recreate_versions(scenario, dataset_ids)
        for document in self.bundle.documents:
            self.store_document(scenario, document, keep_source=existing is not None)
        self.store_eval_set(scenario)
        for adapter in self.bundle.adapters:
            self.store_adapter(scenario, adapter, adapter_names[adapter.file])
        self.session.flush()
        return self.report

    def done(self, file: str) -> None:
        self.stored += 1
        if self.on_file is not None:
            self.on_file(file, self.stored, self.bundle.parts)

    def store_datasets(self, scenario: Scenario) -> dict[str, int]:
        """The datasets in the bundle's order (the last is the latest); their ids by name."""
        ids = {}
        for planned in self.bundle.datasets:
            known = self.session.scalar(
                select(Dataset.id).where(
                    Dataset.scenario_id == scenario.id, Dataset.sha256 == planned.sha256
                )
            )
            dataset = store_dataset(
                self.session,
                scenario=scenario,
                name=planned.name,
                sha256=planned.sha256,
                splits={"train": planned.train, "eval": planned.eval},
                embedder=self.embedder,
            )
            ids[planned.name] = dataset.id
            self.report.count("datasets", known is None)
            self.report.count("examples", known is None, len(planned.train) + len(planned.eval))
            self.done(planned.name)
        return ids

    def recreate_versions(self, scenario: Scenario, dataset_ids: dict[str, int]) -> None:
        """The bundle's prompt history in order, then a version for each level whose fields
        differ from its last one (every level when the bundle has no history)."""
        history = self.bundle.manifest.versions
        for version in history:
            content = {
                POOL_FIELD if key == POOL_KEY else key: value
                for key, value in version.content.items()
            }
            if POOL_FIELD in content:
                content[POOL_FIELD] = dataset_ids.get(content[POOL_FIELD])
            row = PromptVersion(
                scenario_id=scenario.id,
                level=version.level,
                number=version.number,
                content=content,
                sha256=content_sha256(content),
                note=version.note,
            )
            if version.created_at is not None:
                row.created_at = version.created_at
            self.session.add(row)
        self.session.flush()
        if history:
            note = "the bundle's fields differ from its last version"
        else:
            note = self.bundle.manifest.note or "imported from a bundle"
        added = record_versions(self.session, scenario, note)
        self.report.count("prompt_versions", True, len(history) + len(added))

    def store_document(
        self, scenario: Scenario, document: PlannedDocument, keep_source: bool
    ) -> None:
        """One document; with `keep_source`, none where the scenario has one of that source
        (a team's own version stays) or had one its team deleted."""
        if keep_source and kept_out(self.session, scenario, document.source):
            self.report.count("documents", False)
        else:
            try:
                stored = store_extracted(
                    self.session,
                    scenario=scenario,
                    source=document.source,
                    extracted=document.extracted,
                    size_bytes=document.size_bytes,
                    embedder=self.embedder,
                    settings=self.settings,
                    title=document.title,
                )
            except Rejected as error:  # no text left to index, found only when chunking
                raise BundleInvalid([LineError(document.file, 0, str(error))]) from None
            self.report.count("documents", stored.status != "unchanged")
            if stored.status != "unchanged":
                self.report.count("chunks", True, stored.chunks)
        self.done(document.file)

    def store_eval_set(self, scenario: Scenario) -> None:
        items = self.bundle.eval_items
        if items is None:
            return
        known = self.session.scalar(
            select(EvalSet.id).where(
                EvalSet.scenario_id == scenario.id, EvalSet.sha256 == eval_set_sha256(items)
            )
        )
        name = self.bundle.manifest.eval_set or f"{scenario.slug}-evalset"
        store_eval_set(self.session, scenario=scenario, name=name, items=items)
        self.report.count("eval_items", known is None, len(items))
        self.done(EVALSET)

    def store_adapter(self, scenario: Scenario, adapter: PlannedAdapter, name: str) -> None:
        """Copy the weights into the adapters folder (under a temporary name, then renamed)
        and register them; the one exported as active becomes the scenario's active one."""
        target = self.settings.adapters_dir / name
        if target.exists():
            message = f"{target} exists already; remove it or import under another slug"
            raise BundleInvalid([LineError(adapter.file, 0, message)])
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{name}.import-{uuid.uuid4().hex[:8]}")
        self.copied.append(partial)
        shutil.copytree(adapter.weights, partial)
        partial.rename(target)
        self.copied.append(target)
        metadata = adapter.metadata
        row = register_adapter(
            self.session,
            scenario=scenario,
            name=name,
            path=target,
            base_model=metadata.base_model,
            dataset_sha256=metadata.dataset_sha256,
            config=metadata.config,
            metrics=metadata.metrics,
            activate=metadata.active,
        )
        row.evaluation = metadata.evaluation
        self.report.adapters.append(name)
        self.done(adapter.file)

    def remove_copies(self) -> None:
        """Remove the adapter files this import wrote (it failed: nothing of it stays)."""
        for path in self.copied:
            shutil.rmtree(path, ignore_errors=True)
