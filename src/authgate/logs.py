"""The process's log output: one line a record, as JSON or as plain text (`logging.format`).

In JSON every logger (authgate's, uvicorn's, the access log) writes one object a line with
`time` (UTC, ISO 8601), `level`, `logger` and `message`, then the record's structured fields:
those given with `extra=`, or, when the message itself is a mapping (the access log's), its
items. An exception is the field `exception`, its traceback one string, so nothing ever spans
lines. Log shippers read it as it is. Text is for people at a terminal, and the default there.
A line written while a request is handled carries its `request_id` (`authgate.request_ids`),
in text as a trailing `request_id=...`. Python warnings (a library's deprecation, SQLAlchemy's)
are logged too (logger `py.warnings`), so they are lines of the same format.

Only what the code chose to log is written: no call arguments, no request headers, so a
secret reaches the log only if a caller passed it, which none does.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

import orjson

from authgate.request_ids import RequestIdFilter

LogFormat = Literal["json", "text"]

_STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys()
    | {"message", "asctime", "color_message", "taskName"}
)
"""Attributes every record has (and uvicorn's colour copy of its message): not fields."""


def _plain(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)


_ORJSON_OPTIONS = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)
"""Such values are written as `str()` gives them, as the standard encoder's fallback does."""


def _encoded(entry: dict[str, Any]) -> str:
    """One line per record, on the access log's hot path: orjson, several times faster than
    the standard encoder; the standard one for what orjson refuses (an int past 64 bits)."""
    try:
        return orjson.dumps(entry, default=_plain, option=_ORJSON_OPTIONS).decode()
    except TypeError:
        return json.dumps(entry, default=_plain, ensure_ascii=False, separators=(",", ":"))


class JsonFormatter(logging.Formatter):
    """One JSON object a record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
        }
        if isinstance(record.msg, Mapping) and not record.args:
            entry["message"] = record.name.rpartition(".")[2]
            fields: Mapping[str, Any] = record.msg
        else:
            entry["message"] = record.getMessage()
            fields = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        for name, value in fields.items():
            entry.setdefault(name, value)
        request_id = getattr(record, "request_id", None)
        if request_id is not None:
            entry.setdefault("request_id", request_id)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return _encoded(entry)


class TextFormatter(logging.Formatter):
    """`LEVEL logger: message`, an exception's traceback on the lines after it."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        if request_id is None:
            return line
        first, newline, rest = line.partition("\n")
        return f"{first} request_id={request_id}{newline}{rest}"


def chosen_format(configured: LogFormat | None, stream: TextIO) -> LogFormat:
    """The configured format, or text for a terminal and JSON for anything else."""
    if configured is not None:
        return configured
    try:
        return "text" if stream.isatty() else "json"
    except (AttributeError, ValueError):
        return "json"


def configure_logging(
    configured: LogFormat | None, level: str = "info", stream: TextIO | None = None
) -> LogFormat:
    """Route every logger through one handler on the root logger; returns the format used.

    uvicorn's loggers are emptied of handlers of their own and propagate to it, so they
    write in the same format."""
    stream = stream or sys.stderr
    chosen = chosen_format(configured, stream)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if chosen == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    logging.captureWarnings(True)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    # debug is for authgate's own loggers: libraries' debug lines (a database driver's
    # queries and their parameters) could carry hashes and tokens.
    wanted = logging.getLevelName(level.upper())
    root.setLevel(max(wanted, logging.INFO))
    logging.getLogger("authgate").setLevel(wanted)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    return chosen
