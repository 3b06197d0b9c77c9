"""Value types shared by every configuration section: durations, rates, listen addresses, sizes.

They live apart from `authgate.config` so that section models kept in other packages (the
gateway's) can use them without an import cycle through the top-level `Settings`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from annotated_types import Ge
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def _parse_duration(value: Any) -> Any:
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValueError("expected a duration such as 90s, 15m, 1h or 30d")
        return float(match.group(1)) * _UNITS[match.group(2)]
    return value


Duration = Annotated[float, BeforeValidator(_parse_duration), Field(gt=0)]
"""Seconds; also written as `90s`, `15m`, `1h`, `30d`."""

DurationOrZero = Annotated[float, Ge(0), BeforeValidator(_parse_duration)]
"""A Duration that may be 0 (which turns the feature it times off)."""

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(second|minute|hour|day)\s*$")
_RATE_UNITS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}


class Rate(BaseModel):
    """A limit of `count` events per `period` seconds; written `20/hour`."""

    model_config = ConfigDict(frozen=True)
    count: int = Field(gt=0)
    period: float = Field(gt=0)

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            match = _RATE.match(value)
            if not match:
                raise ValueError("expected a rate such as 20/hour")
            return {"count": int(match.group(1)), "period": _RATE_UNITS[match.group(2)]}
        return value


def _check_listen(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("expected HOST:PORT, e.g. 127.0.0.1:8080")
    return value


Listen = Annotated[str, AfterValidator(_check_listen)]

_SIZE = re.compile(r"^\s*(\d+)\s*(B|KB|MB|GB|KiB|MiB|GiB)?\s*$")
_SIZE_UNITS = {
    None: 1,
    "B": 1,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
}


def _parse_size(value: Any) -> Any:
    if isinstance(value, str):
        match = _SIZE.match(value)
        if not match:
            raise ValueError("expected a size such as 512KiB, 10MiB or 1GiB")
        return int(match.group(1)) * _SIZE_UNITS[match.group(2)]
    return value


ByteSize = Annotated[int, BeforeValidator(_parse_size), Field(gt=0)]
"""Bytes; also written as `512KiB`, `10MiB`, `1GiB` (or decimal `KB`, `MB`, `GB`)."""
