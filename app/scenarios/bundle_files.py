"""A scenario bundle on disk: its layout, opening a directory or a `.tar.gz` of one safely,
packing one, and the problems that refuse an import.

The layout (docs/bundles.md has every field):

    scenario.yaml            the scenario's fields, prompts per level and prompt history
    documents/               the knowledge base: files of any format ingest accepts
    train.jsonl              the dataset (+ eval_split.jsonl, its held-out split)
    datasets/<dir>/          further datasets, the same two files each
    evalset.jsonl            the eval set
    pricing.toml             the scenario's own pricing profiles
    adapters/<dir>/          adapter.json (metadata), weights/ (only exported on request)

An archive is read member by member before anything is written: absolute names, `..`,
links and devices are refused, and so is an archive whose members add up to more than
`MAX_BUNDLE_BYTES`; then it is extracted with tarfile's `data` filter into a temporary
directory that is removed afterwards.
"""

from __future__ import annotations

import re
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import yaml

from app.errors import AppError
from app.finetune.validate import LineError

MANIFEST = "scenario.yaml"
DOCUMENTS = "documents"
TRAIN, EVAL_SPLIT = "train.jsonl", "eval_split.jsonl"
DATASETS = "datasets"
EVALSET = "evalset.jsonl"
PRICING = "pricing.toml"
ADAPTERS = "adapters"
ADAPTER_METADATA = "adapter.json"
WEIGHTS = "weights"
KNOWN = {MANIFEST, DOCUMENTS, TRAIN, EVAL_SPLIT, DATASETS, EVALSET, PRICING, ADAPTERS}

# An archive's members together (adapter weights included), and how many there may be.
MAX_BUNDLE_BYTES = 512 * 1024 * 1024
MAX_MEMBERS = 20_000
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")
MAX_SHOWN = 20


class BundleInvalid(AppError):
    """422: the bundle's files fail validation; `problems` names each file and line (line 0:
    the file as a whole). Nothing of the bundle was stored."""

    status = 422

    def __init__(self, problems: Sequence[LineError]) -> None:
        shown = [where(p) + f": {p.message}" for p in problems[:MAX_SHOWN]]
        if len(problems) > MAX_SHOWN:
            shown.append(f"... {len(problems) - MAX_SHOWN} more")
        super().__init__("invalid bundle: " + "; ".join(shown))
        self.problems = list(problems)


def where(problem: LineError) -> str:
    return f"{problem.file}:{problem.line}" if problem.line else problem.file


def is_archive(path: Path) -> bool:
    return path.name.endswith(ARCHIVE_SUFFIXES)


@contextmanager
def open_bundle(path: Path) -> Iterator[Path]:
    """The bundle's directory: `path` itself, or a `.tar.gz` extracted into a temporary
    directory (removed on exit). BundleInvalid for an unsafe or oversized archive."""
    if path.is_dir():
        yield path
        return
    if not path.is_file() or not is_archive(path):
        raise BundleInvalid([LineError(path.name, 0, "not a directory or a .tar.gz file")])
    with tempfile.TemporaryDirectory(prefix="tritune-bundle-") as scratch:
        yield extract(path, Path(scratch))


def extract(archive: Path, into: Path) -> Path:
    """Extract the archive after checking every member; the bundle's root is the archive's
    root, or its one top-level directory."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            check_members(archive.name, members)
            tar.extractall(into, filter="data")
    except (tarfile.TarError, OSError, EOFError) as error:
        raise BundleInvalid([LineError(archive.name, 0, f"unreadable archive ({error})")]) from None
    entries = [p for p in into.iterdir() if not p.name.startswith(".")]
    if len(entries) == 1 and entries[0].is_dir() and not (into / MANIFEST).exists():
        return entries[0]
    return into


def check_members(name: str, members: list[tarfile.TarInfo]) -> None:
    problems = [LineError(name, 0, f"{m.name}: {why}") for m in members if (why := unsafe(m))]
    total = sum(m.size for m in members if m.isfile())
    if total > MAX_BUNDLE_BYTES:
        problems.append(
            LineError(name, 0, f"{total:,} bytes unpacked; the limit is {MAX_BUNDLE_BYTES:,}")
        )
    if len(members) > MAX_MEMBERS:
        problems.append(
            LineError(name, 0, f"{len(members):,} members; the limit is {MAX_MEMBERS:,}")
        )
    if problems:
        raise BundleInvalid(problems)


def unsafe(member: tarfile.TarInfo) -> str | None:
    """Why the member may not be extracted, if it may not."""
    path = PurePosixPath(member.name)
    if (
        path.is_absolute()
        or member.name.startswith(("/", "\\"))
        or re.match(r"^[A-Za-z]:", member.name)
    ):
        return "an absolute path"
    if ".." in path.parts:
        return "a path outside the bundle ('..')"
    if member.issym() or member.islnk():
        return "a link (links are not allowed in a bundle)"
    if not (member.isfile() or member.isdir()):
        return "not a file or a directory"
    return None


def pack(directory: Path, archive: Path, top: str) -> None:
    """Write `directory` as a `.tar.gz` whose one top-level directory is `top`."""
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(directory, arcname=top, filter=plain_member)


def plain_member(member: tarfile.TarInfo) -> tarfile.TarInfo:
    # the same archive whoever exports it: no owner, no user or group names
    member.uid = member.gid = 0
    member.uname = member.gname = ""
    return member


def safe_name(name: str, fallback: str) -> str:
    """`name` as one file or directory name: letters, digits, `.`, `_` and `-` only."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name)[:120].strip(".-")
    return cleaned or fallback


def unique(name: str, taken: set[str]) -> str:
    """`name`, or `name-2`, `name-3`... (before its extension) when taken; recorded."""
    stem, dot, suffix = name.partition(".") if "." in name[1:] else (name, "", "")
    candidate, number = name, 2
    while candidate in taken:
        candidate = f"{stem}-{number}{dot}{suffix}"
        number += 1
    taken.add(candidate)
    return candidate


def yaml_line(text: str, path: Sequence[str | int]) -> int:
    """The line (1-based) of the value at `path` (keys and list indexes) in YAML `text`: the
    deepest part of the path found; 0 when the text does not parse."""
    try:
        node: Any = yaml.compose(text)
    except yaml.YAMLError:
        return 0
    line = node.start_mark.line + 1 if node is not None else 0
    for part in path:
        child = child_node(node, part)
        if child is None:
            break
        node, line = child, child.start_mark.line + 1
    return line


def child_node(node: Any, part: str | int) -> Any:
    if isinstance(node, yaml.MappingNode):
        return next((value for key, value in node.value if key.value == part), None)
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part]
    return None


class BundleTooLarge(AppError):
    status = 413


@contextmanager
def saved_archive(stream: BinaryIO, name: str) -> Iterator[Path]:
    """An uploaded archive copied to a temporary file (removed on exit), refused when its name
    is not a .tar.gz (BundleInvalid) or it is larger than `MAX_BUNDLE_BYTES` (BundleTooLarge)."""
    if not name.endswith(ARCHIVE_SUFFIXES):
        raise BundleInvalid([LineError(name or "upload", 0, "not a .tar.gz file")])
    with tempfile.TemporaryDirectory(prefix="tritune-upload-") as scratch:
        path = Path(scratch) / "bundle.tar.gz"
        with path.open("wb") as out:
            while chunk := stream.read(1024 * 1024):
                if out.tell() + len(chunk) > MAX_BUNDLE_BYTES:
                    raise BundleTooLarge(f"file: larger than {MAX_BUNDLE_BYTES:,} bytes")
                out.write(chunk)
        yield path
