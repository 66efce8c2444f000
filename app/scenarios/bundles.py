"""Scenario bundles, the import and export format of a scenario: what the API, the pages,
the CLI and the demo's loader call. A bundle is a directory, or a `.tar.gz` of one:

    scenario.yaml     fields, each level's prompt, prompt history  (app/scenarios/manifest.py)
    documents/        the knowledge base
    train.jsonl       the dataset (+ eval_split.jsonl); more under datasets/<dir>/
    evalset.jsonl     the eval set
    pricing.toml      the scenario's own pricing profiles (optional)
    adapters/<dir>/   adapter.json, and weights/ when exported with them (optional)

- **import** (app/scenarios/bundle_import.py): everything is checked first
  (app/scenarios/bundle_check.py; BundleInvalid names each file and line), then stored in
  one transaction; nothing of a bundle with a problem is stored.
- **export** (app/scenarios/bundle_export.py): the same layout from what is stored.
- **init**: a commented template (app/scenarios/bundle_template.py) that imports as it is.

docs/bundles.md describes the format for users.
"""

from __future__ import annotations

from pathlib import Path

from app.scenarios.bundle_export import BundleTarget, empty_directory, export_archive, export_bundle
from app.scenarios.bundle_import import ImportReport, import_bundle, import_slug
from app.scenarios.bundle_template import TEMPLATE

__all__ = [
    "BundleTarget",
    "ImportReport",
    "export_archive",
    "export_bundle",
    "import_bundle",
    "import_slug",
    "init_bundle",
]


def init_bundle(directory: Path) -> list[Path]:
    """Write the commented template bundle into `directory` (new or empty; BundleTarget
    otherwise); returns the files written."""
    root = empty_directory(directory)
    written = []
    for name, text in TEMPLATE.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
