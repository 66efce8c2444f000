"""Logging for the server: plain lines, or one JSON object per line
(`TRITUNE_LOG_FORMAT=json`) for a log collector.

A JSON line carries `time` (ISO 8601, UTC), `level`, `logger`, `message`, the exception's
traceback as `exception` when there is one, and any field a caller passed with `extra=`.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, Literal

PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# What every LogRecord has; anything else on a record came from `extra=`.
RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        extra = {k: v for k, v in vars(record).items() if k not in RECORD_FIELDS}
        line.update(extra)
        return json.dumps(line, default=str)


def configure_logging(log_format: Literal["text", "json"] = "text") -> None:
    """Log INFO and above to stderr, as plain lines or JSON lines; uvicorn's loggers too."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(PLAIN_FORMAT))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    if log_format == "json":  # uvicorn's own handlers would print plain lines beside ours
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
            logger = logging.getLogger(name)
            logger.handlers = []
            logger.propagate = True
