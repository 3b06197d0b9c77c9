"""`logging.format`: every record one line, JSON objects for machines, plain text for people."""

from __future__ import annotations

import io
import json
import logging
import sys
import warnings
from collections.abc import Iterator
from datetime import datetime

import pytest

from authgate.config import load_settings
from authgate.gateway.observe import Exchange, Observer
from authgate.logs import JsonFormatter, TextFormatter, chosen_format, configure_logging
from authgate.request_ids import current_request_id


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root, ours = logging.getLogger(), logging.getLogger("authgate")
    handlers, level, our_level = list(root.handlers), root.level, ours.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    ours.setLevel(our_level)
    logging.captureWarnings(False)


def record(message: object, *args: object, **fields: object) -> logging.LogRecord:
    made = logging.LogRecord("authgate.test", logging.WARNING, __file__, 1, message, args, None)
    made.__dict__.update(fields)
    return made


def test_a_record_is_one_json_object_with_time_level_logger_and_message() -> None:
    line = JsonFormatter().format(record("target %s failed", "http://a"))

    entry = json.loads(line)
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "authgate.test"
    assert entry["message"] == "target http://a failed"
    assert datetime.fromisoformat(entry["time"]).utcoffset() is not None


def test_fields_given_with_extra_are_fields_of_the_object() -> None:
    entry = json.loads(JsonFormatter().format(record("reloaded", routes=3, caller="10.0.0.1")))

    assert (entry["routes"], entry["caller"]) == (3, "10.0.0.1")


def test_a_mapping_message_gives_its_items_as_fields() -> None:
    entry = json.loads(JsonFormatter().format(record({"route": "r", "status": 200})))

    assert (entry["route"], entry["status"], entry["message"]) == ("r", 200, "test")


def test_fields_cannot_overwrite_time_level_or_logger() -> None:
    entry = json.loads(JsonFormatter().format(record({"level": "DEBUG", "logger": "x"})))

    assert (entry["level"], entry["logger"]) == ("WARNING", "authgate.test")


def test_an_exception_is_a_field_and_the_line_stays_one_line() -> None:
    try:
        raise ValueError("first line\nsecond line")
    except ValueError:
        failed = record("it failed\non two lines")
        failed.exc_info = sys.exc_info()

    line = JsonFormatter().format(failed)

    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "it failed\non two lines"
    assert "Traceback" in entry["exception"] and "ValueError" in entry["exception"]


def test_values_json_cannot_hold_are_written_as_text() -> None:
    entry = json.loads(JsonFormatter().format(record("x", path=io)))

    assert entry["path"].startswith("<module 'io'")


def test_datetimes_are_written_as_text_too() -> None:
    when = datetime(2026, 12, 6, 13, 0)
    entry = json.loads(JsonFormatter().format(record("x", at=when)))

    assert entry["at"] == str(when)


def test_an_integer_past_64_bits_is_written_whole() -> None:
    line = JsonFormatter().format(record("x", big=2**70, name_="ünïcode"))

    assert "\n" not in line
    assert json.loads(line)["big"] == 2**70
    assert "ünïcode" in line


def test_the_default_is_text_for_a_terminal_and_json_otherwise() -> None:
    assert chosen_format(None, Terminal()) == "text"
    assert chosen_format(None, io.StringIO()) == "json"


def test_a_configured_format_wins_over_the_terminal_check() -> None:
    assert chosen_format("json", Terminal()) == "json"
    assert chosen_format("text", io.StringIO()) == "text"


def exchange() -> Exchange:
    return Exchange("orders", "GET", 200, "alice", None, "http://t", "10.0.0.1", 0.1, 0.2, 0.4)


@pytest.mark.usefixtures("restore_logging")
def test_in_json_the_access_log_line_has_the_request_as_fields() -> None:
    out = io.StringIO()
    configure_logging("json", stream=out)

    Observer().record(exchange())

    entry = json.loads(out.getvalue())
    assert entry["logger"] == "authgate.access"
    assert (entry["route"], entry["status"], entry["subject"]) == ("orders", 200, "alice")


@pytest.mark.usefixtures("restore_logging")
def test_in_text_the_access_log_line_is_the_request_as_compact_json() -> None:
    out = io.StringIO()
    configure_logging("text", stream=out)

    Observer().record(exchange())

    prefix, _, rest = out.getvalue().partition(": ")
    assert prefix == "INFO authgate.access"
    assert json.loads(rest)["route"] == "orders"


@pytest.mark.usefixtures("restore_logging")
def test_uvicorns_loggers_write_through_the_same_handler() -> None:
    out = io.StringIO()
    stray = logging.StreamHandler(io.StringIO())
    logging.getLogger("uvicorn.error").addHandler(stray)
    configure_logging("json", stream=out)

    logging.getLogger("uvicorn.error").warning("Invalid HTTP request received.")

    assert json.loads(out.getvalue())["logger"] == "uvicorn.error"
    assert stray not in logging.getLogger("uvicorn.error").handlers


def test_the_format_is_a_setting_with_the_terminal_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTHGATE_LOGGING__FORMAT", "json")

    assert load_settings().logging.format == "json"
    monkeypatch.delenv("AUTHGATE_LOGGING__FORMAT")
    assert load_settings().logging.format is None


@pytest.mark.usefixtures("restore_logging")
def test_debug_is_for_authgates_loggers_only() -> None:
    out = io.StringIO()
    configure_logging("json", "debug", stream=out)

    logging.getLogger("aiosqlite").debug("executing INSERT ... ('hash-of-a-token',)")
    logging.getLogger("authgate.gate").debug("matched route orders")

    assert [json.loads(line)["logger"] for line in out.getvalue().splitlines()] == ["authgate.gate"]


@pytest.mark.usefixtures("restore_logging")
def test_python_warnings_are_lines_of_the_same_format() -> None:
    out = io.StringIO()
    configure_logging("json", stream=out)

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("this API is deprecated", DeprecationWarning, stacklevel=1)

    line = json.loads(out.getvalue())
    assert line["logger"] == "py.warnings"
    assert "this API is deprecated" in line["message"]


@pytest.mark.usefixtures("restore_logging")
def test_a_line_written_during_a_request_carries_its_id() -> None:
    out = io.StringIO()
    configure_logging("json", stream=out)
    token = current_request_id.set("req-1")
    try:
        logging.getLogger("authgate.test").warning("inside")
        logging.getLogger("sqlalchemy.pool").warning("a library, inside")
    finally:
        current_request_id.reset(token)
    logging.getLogger("authgate.test").warning("outside")

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line.get("request_id") for line in lines] == ["req-1", "req-1", None]


@pytest.mark.usefixtures("restore_logging")
def test_the_access_line_carries_the_request_id_as_a_field() -> None:
    out = io.StringIO()
    configure_logging("json", stream=out)
    token = current_request_id.set("req-2")
    try:
        Observer().record(exchange())
    finally:
        current_request_id.reset(token)

    assert json.loads(out.getvalue())["request_id"] == "req-2"


def test_in_text_the_request_id_ends_the_first_line() -> None:
    made = record("something happened", request_id="req-3")

    expected = "WARNING authgate.test: something happened request_id=req-3"
    assert TextFormatter().format(made) == expected
