"""The access log line and the Prometheus series the gate keeps per route."""

from __future__ import annotations

import json
import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families

from authgate.gateway.observe import Exchange, Observer, access_line


def exchange(**changes: object) -> Exchange:
    fields: dict[str, object] = {
        "route": "orders-read",
        "method": "GET",
        "status": 200,
        "subject": "user-1",
        "client": "web",
        "target": "http://127.0.0.1:9001",
        "peer": "127.0.0.1",
        "auth_seconds": 0.0015,
        "upstream_seconds": 0.004,
        "total_seconds": 0.006,
        "path": "/orders/1",
        "bytes_out": 120,
    }
    fields.update(changes)
    return Exchange(**fields)  # type: ignore[arg-type]


def samples(observer: Observer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text, _ = observer.exposition()
    found = {}
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_access_line_is_one_json_object_with_durations_in_ms() -> None:
    line = access_line(exchange())
    assert "\n" not in line
    record = json.loads(line)
    assert record["route"] == "orders-read"
    assert record["status"] == 200
    assert record["subject"] == "user-1"
    assert record["upstream_target"] == "http://127.0.0.1:9001"
    assert record["auth_ms"] == 1.5
    assert record["upstream_ms"] == 4.0


def test_access_line_escapes_control_characters_in_the_path() -> None:
    line = access_line(exchange(path="/a\r\nforged: yes"))
    assert "\n" not in line and "\r" not in line
    assert json.loads(line)["path"] == "/a\r\nforged: yes"


def test_refused_request_has_no_upstream_time_and_names_the_reason() -> None:
    record = json.loads(
        access_line(exchange(status=403, reason_id="missing_scope", upstream_seconds=None))
    )
    assert record["upstream_ms"] is None
    assert record["reason_id"] == "missing_scope"


def test_requests_are_counted_by_route_method_and_status() -> None:
    observer = Observer(access_log=False)
    observer.record(exchange())
    observer.record(exchange())
    observer.record(exchange(status=403, upstream_seconds=None))
    found = samples(observer)
    labels = (("method", "GET"), ("route", "orders-read"), ("status", "200"))
    assert found[("authgate_gate_requests_total", labels)] == 2
    denied = (("method", "GET"), ("route", "orders-read"), ("status", "403"))
    assert found[("authgate_gate_requests_total", denied)] == 1


def test_upstream_histogram_counts_only_forwarded_requests() -> None:
    observer = Observer(access_log=False)
    observer.record(exchange())
    observer.record(exchange(status=401, upstream_seconds=None))
    found = samples(observer)
    route = (("route", "orders-read"),)
    assert found[("authgate_gate_upstream_duration_seconds_count", route)] == 1
    assert found[("authgate_gate_request_duration_seconds_count", route)] == 2


def test_odd_methods_share_one_label_so_series_stay_bounded() -> None:
    observer = Observer(access_log=False)
    for method in ("BREW", "PROPFIND", "X-ANYTHING"):
        observer.record(exchange(method=method))
    methods = {
        dict(labels)["method"]
        for (name, labels) in samples(observer)
        if name == "authgate_gate_requests_total"
    }
    assert methods == {"OTHER"}


def test_unmatched_requests_are_counted_under_a_dash() -> None:
    observer = Observer(access_log=False)
    observer.record(exchange(route=None, status=404, upstream_seconds=None))
    found = samples(observer)
    labels = (("method", "GET"), ("route", "-"), ("status", "404"))
    assert found[("authgate_gate_requests_total", labels)] == 1


def test_two_observers_keep_separate_series() -> None:
    first, second = Observer(access_log=False), Observer(access_log=False)
    first.record(exchange())
    labels = (("method", "GET"), ("route", "orders-read"), ("status", "200"))
    assert ("authgate_gate_requests_total", labels) not in samples(second)


def test_access_log_can_be_turned_off(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="authgate.access")
    Observer(access_log=False).record(exchange())
    Observer(access_log=True).record(exchange(route="other"))
    lines = [r.getMessage() for r in caplog.records if r.name == "authgate.access"]
    assert [json.loads(line)["route"] for line in lines] == ["other"]
