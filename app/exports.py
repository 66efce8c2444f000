"""Exports shared by every download: the formats offered and rows written as CSV text,
streamed a row at a time so that a large export never sits whole in memory."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import Any


class ExportFormat(StrEnum):
    csv = "csv"
    jsonl = "jsonl"


MEDIA_TYPES = {ExportFormat.csv: "text/csv", ExportFormat.jsonl: "application/x-ndjson"}


def csv_lines(rows: Iterable[dict[str, Any]], columns: list[str]) -> Iterator[str]:
    """A header, then one CSV line per row (keys outside `columns` are ignored)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def json_lines(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    return (json.dumps(row) + "\n" for row in rows)


def attachment(filename: str) -> dict[str, str]:
    """The response header that makes a browser save the download as `filename`."""
    return {"Content-Disposition": f'attachment; filename="{filename}"'}
