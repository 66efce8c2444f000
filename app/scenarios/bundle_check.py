"""Checking a scenario bundle before anything of it is stored: every file is read and
validated by the same readers as its upload (documents by ingest's extractor, datasets by
the dataset report, the eval set by its parser, pricing by the cost model's), and every
problem is collected with its file and line into one `BundleInvalid`.

What passes is a `Bundle`: the parsed contents, ready to store without reading a file again
(adapter weights aside, which are copied).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.costs import parse_profiles
from app.evals.items import EvalItemSpec, EvalSetInvalid, parse_eval_jsonl
from app.finetune.adapters import adapter_checksum
from app.finetune.config import DEFAULTS
from app.finetune.dataset import ChatExample, dataset_sha256
from app.finetune.validate import LineError, validate_dataset
from app.rag.extract import Extracted, Rejected
from app.rag.ingest import SourceFile, read_checked
from app.scenarios.bundle_files import (
    ADAPTER_METADATA,
    ADAPTERS,
    DATASETS,
    DOCUMENTS,
    EVAL_SPLIT,
    EVALSET,
    KNOWN,
    MANIFEST,
    PRICING,
    TRAIN,
    WEIGHTS,
    BundleInvalid,
    safe_name,
    yaml_line,
)
from app.scenarios.manifest import (
    POOL_KEY,
    SHA256,
    DatasetEntry,
    Manifest,
    level_sections,
    read_manifest,
)

DEFAULT_DATASET = "train"
CountTokens = Callable[[str], int]


@dataclass(frozen=True)
class PlannedDocument:
    file: str  # as named in the bundle: documents/<name>
    source: str
    title: str | None  # None: from the text, as an upload's
    extracted: Extracted
    size_bytes: int


@dataclass(frozen=True)
class PlannedDataset:
    name: str
    sha256: str
    train: list[ChatExample]
    eval: list[ChatExample]


class AdapterMetadata(BaseModel):
    """adapters/<dir>/adapter.json: an adapter as the registry holds it."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    base_model: str
    dataset_sha256: str = Field(pattern=SHA256)
    checksum: str = Field(pattern=SHA256)
    config: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)
    evaluation: dict[str, Any] = Field(default_factory=dict)
    active: bool = False
    created_at: datetime | None = None


@dataclass(frozen=True)
class PlannedAdapter:
    file: str  # adapters/<dir>
    weights: Path
    metadata: AdapterMetadata


@dataclass
class Bundle:
    """A checked bundle: what an import stores, in that order."""

    manifest: Manifest
    datasets: list[PlannedDataset]
    documents: list[PlannedDocument]
    eval_items: list[EvalItemSpec] | None
    adapters: list[PlannedAdapter]
    warnings: list[str] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return str(self.manifest.values["slug"])

    @property
    def parts(self) -> int:
        """How many files an import stores (its progress counts them)."""
        evalset = 1 if self.eval_items is not None else 0
        return len(self.datasets) + len(self.documents) + evalset + len(self.adapters)


class BundleChecker:
    """Reads one bundle directory, collecting problems and warnings."""

    def __init__(self, root: Path, max_bytes: int, count_tokens: CountTokens) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.count_tokens = count_tokens
        self.problems: list[LineError] = []
        self.warnings: list[str] = []
        self.manifest_text = ""

    def problem(self, file: str, line: int, message: str) -> None:
        self.problems.append(LineError(file, line, message))

    def manifest_problem(self, path: tuple[str | int, ...], message: str) -> None:
        key = ".".join(map(str, path))
        self.problem(MANIFEST, yaml_line(self.manifest_text, path), f"{key}: {message}")

    def text(self, name: str, missing: str = "") -> str | None:
        """A file of the bundle as text (None when absent, a problem saying `missing` when
        that is given)."""
        path = self.root / name
        if not path.is_file():
            if missing:
                self.problem(name, 0, missing)
            return None
        if path.stat().st_size > self.max_bytes:
            self.problem(name, 0, f"{path.stat().st_size:,} bytes; the limit is {self.max_bytes:,}")
            return None
        data = path.read_bytes()
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            self.problem(name, data[: error.start].count(b"\n") + 1, "not UTF-8 text")
            return None


def check_bundle(
    root: Path, *, slug: str | None, max_bytes: int, count_tokens: CountTokens
) -> Bundle:
    """The bundle in directory `root`, checked (BundleInvalid naming every problem). `slug`
    replaces the manifest's; `count_tokens` sizes the dataset report's length warnings."""
    checker = BundleChecker(root, max_bytes, count_tokens)
    text = checker.text(MANIFEST, missing="missing: every bundle has one")
    checker.manifest_text = text or ""
    pricing = check_pricing(checker)
    manifest = None
    if text is not None:
        manifest, problems = read_manifest(text, slug=slug, pricing=pricing)
        checker.problems.extend(problems)
    default_name = DEFAULT_DATASET
    datasets = check_datasets(checker, manifest.datasets if manifest else None, default_name)
    documents = check_documents(checker, manifest)
    eval_items = check_eval_set(checker)
    adapters = check_adapters(checker)
    if manifest is not None:
        check_references(checker, manifest, [d.name for d in datasets])
    checker.warnings += [
        f"{p.name}: ignored (not part of a bundle)"
        for p in sorted(root.iterdir())
        if p.name not in KNOWN and not p.name.startswith(".")
    ]
    if checker.problems or manifest is None:
        raise BundleInvalid(checker.problems)
    return Bundle(manifest, datasets, documents, eval_items, adapters, checker.warnings)


def check_pricing(checker: BundleChecker) -> str | None:
    """pricing.toml's text when it holds valid profiles (None when absent or invalid)."""
    text = checker.text(PRICING)
    if text is None:
        return None
    try:
        parse_profiles(text, PRICING)
    except ValueError as error:
        message = str(error).removeprefix(f"{PRICING}: ")
        line = re.search(r"at line (\d+)", message)
        checker.problem(PRICING, int(line.group(1)) if line else 0, message)
        return None
    return text


def check_documents(checker: BundleChecker, manifest: Manifest | None) -> list[PlannedDocument]:
    """Every file under documents/ (hidden ones aside), extracted as ingest would."""
    folder = checker.root / DOCUMENTS
    overrides = manifest.documents if manifest else {}
    files = sorted(folder.rglob("*")) if folder.is_dir() else []
    planned = []
    for path in files:
        name = path.relative_to(folder).as_posix()
        if path.is_dir() or any(part.startswith(".") for part in name.split("/")):
            continue
        file = f"{DOCUMENTS}/{name}"
        if path.is_symlink() or not path.is_file():
            checker.problem(file, 0, "not a plain file (links are not allowed in a bundle)")
            continue
        try:
            extracted = read_checked(SourceFile.of_path(name, path), checker.max_bytes)
        except Rejected as error:
            checker.problem(file, 0, str(error))
            continue
        given = overrides.get(name)
        source, title = (given.source, given.title) if given else (None, None)
        planned.append(PlannedDocument(file, source or name, title, extracted, path.stat().st_size))
    known = {d.file.removeprefix(f"{DOCUMENTS}/") for d in planned}
    for name in overrides.keys() - known:
        checker.manifest_problem(("documents", name), f"no file {DOCUMENTS}/{name} in the bundle")
    return planned


def dataset_entries(
    checker: BundleChecker, entries: list[DatasetEntry] | None, default_name: str
) -> list[DatasetEntry]:
    """The datasets scenario.yaml lists; without a list, datasets/<dir> (named by the
    directory, in name order) and then train.jsonl at the root (the latest, so the default
    example pool)."""
    folder = checker.root / DATASETS
    found = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    if entries is None:
        entries = [DatasetEntry(name=name, dir=name) for name in found]
        if (checker.root / TRAIN).is_file():
            entries.append(DatasetEntry(name=default_name, dir="."))
        return entries
    listed = {entry.dir for entry in entries}
    for name in sorted(set(found) - listed):
        checker.problem(f"{DATASETS}/{name}", 0, f"not listed in {MANIFEST}'s datasets")
    if (checker.root / TRAIN).is_file() and "." not in listed:
        checker.problem(TRAIN, 0, f"not listed in {MANIFEST}'s datasets (dir: .)")
    return entries


def check_datasets(
    checker: BundleChecker, entries: list[DatasetEntry] | None, default_name: str
) -> list[PlannedDataset]:
    planned: list[PlannedDataset] = []
    names: set[str] = set()
    for index, entry in enumerate(dataset_entries(checker, entries, default_name)):
        if entry.name in names:
            checker.manifest_problem(("datasets", index, "name"), "two datasets of this name")
        names.add(entry.name)
        if entry.dir != "." and entry.dir != safe_name(entry.dir, ""):
            message = "'.' or the name of a directory under datasets/ (letters, digits, . _ -)"
            checker.manifest_problem(("datasets", index, "dir"), message)
            continue
        dataset = check_dataset(checker, entry)
        if dataset is not None:
            planned.append(dataset)
    return planned


def check_dataset(checker: BundleChecker, entry: DatasetEntry) -> PlannedDataset | None:
    prefix = "" if entry.dir == "." else f"{DATASETS}/{entry.dir}/"
    train_name, eval_name = prefix + TRAIN, prefix + EVAL_SPLIT
    train = checker.text(train_name, missing="missing: a dataset needs its train.jsonl")
    eval_text = checker.text(eval_name)
    if train is None:
        return None
    report = validate_dataset(
        train,
        eval_text=eval_text,
        count_tokens=checker.count_tokens,
        max_seq_len=DEFAULTS.max_seq_len,
        train_name=train_name,
        eval_name=eval_name,
    )
    checker.problems.extend(report.errors)
    checker.warnings += [f"{train_name}: {warning}" for warning in report.warnings]
    if not report.ok:
        return None
    files = [checker.root / train_name]
    if eval_text is not None:
        files.append(checker.root / eval_name)
    files_sha256 = dataset_sha256(*files)
    unchanged = entry.sha256 is not None and entry.files_sha256 == files_sha256
    sha256 = entry.sha256 if unchanged and entry.sha256 else files_sha256
    return PlannedDataset(entry.name, sha256, report.train, report.eval)


def check_eval_set(checker: BundleChecker) -> list[EvalItemSpec] | None:
    text = checker.text(EVALSET)
    if text is None:
        return None
    try:
        return parse_eval_jsonl(text)
    except EvalSetInvalid as error:
        for message in error.errors:
            found = re.match(r"line (\d+): (.*)", message, re.DOTALL)
            line, reason = (int(found.group(1)), found.group(2)) if found else (0, message)
            checker.problem(EVALSET, line, reason)
        return None


def check_adapters(checker: BundleChecker) -> list[PlannedAdapter]:
    """Adapters with weights (their checksum must match); metadata alone is a warning."""
    folder = checker.root / ADAPTERS
    planned = []
    for directory in sorted(folder.iterdir()) if folder.is_dir() else []:
        if not directory.is_dir() or directory.name.startswith("."):
            continue
        file = f"{ADAPTERS}/{directory.name}"
        metadata = adapter_metadata(checker, directory, f"{file}/{ADAPTER_METADATA}")
        if metadata is None:
            continue
        weights = directory / WEIGHTS
        if not weights.is_dir():
            checker.warnings.append(
                f"{file}: metadata only (exported without weights); not registered"
            )
        elif not (weights / "adapter_config.json").is_file():
            checker.problem(f"{file}/{WEIGHTS}", 0, "no adapter_config.json: not a PEFT adapter")
        elif adapter_checksum(weights) != metadata.checksum:
            checker.problem(
                f"{file}/{WEIGHTS}", 0, "the files' checksum differs from adapter.json's"
            )
        else:
            planned.append(PlannedAdapter(file, weights, metadata))
    return planned


def adapter_metadata(checker: BundleChecker, directory: Path, file: str) -> AdapterMetadata | None:
    text = checker.text(file, missing="missing: an adapter's metadata")
    if text is None:
        return None
    try:
        return AdapterMetadata.model_validate(json.loads(text))
    except json.JSONDecodeError as error:
        checker.problem(file, error.lineno, f"not JSON ({error.msg})")
    except ValidationError as error:
        for item in error.errors():
            checker.problem(file, 0, f"{'.'.join(map(str, item['loc']))}: {item['msg']}")
    return None


def check_references(checker: BundleChecker, manifest: Manifest, datasets: list[str]) -> None:
    """The example pools that scenario.yaml names (its own and its versions') are datasets of
    the bundle."""
    pool_level = next(level for level, keys in level_sections().items() if POOL_KEY in keys)
    named: list[tuple[tuple[str | int, ...], Any]] = [((pool_level, POOL_KEY), manifest.pool)]
    for index, version in enumerate(manifest.versions):
        named.append((("versions", index, "content", POOL_KEY), version.content.get(POOL_KEY)))
    for path, name in named:
        if name is not None and name not in datasets:
            listed = ", ".join(datasets) or "none"
            checker.manifest_problem(
                path, f"no dataset {name!r} in the bundle (datasets: {listed})"
            )
