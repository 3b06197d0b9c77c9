"""The gate attacked as a security reviewer would (SECURITY.md), through the real proxy.

Requests are written byte for byte on a raw socket where an HTTP client would normalize the
attack away; what the upstream (a real process echoing what it got) receives is the proof.
A catch-all anonymous route (`/**`, GET) stands for "anything else on this host": a trick
that made a protected path miss its route would land there and show up as a 200.

The attacks are storage-independent, so the gate runs on SQLite only.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer
from tests.integration.oauth_support import RESOURCE_SCOPES, client_token, machine
from tests.integration.upstream_app import Upstream

PROXY = "127.0.0.2"


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


def _route(name: str, path: str, **extra: Any) -> dict[str, Any]:
    base = {"name": name, "path": path, "upstream": "main"}
    return {**base, "authenticate": ["anonymous"], "authorize": "allow", **extra}


def _jwt_route(name: str, path: str, scope: str, **extra: Any) -> dict[str, Any]:
    required = {"require": {"scopes_any": [scope]}}
    return _route(name, path, authenticate=["jwt"], authorize=required, **extra)


@pytest.fixture(scope="module")
def gate(make_server: ServerFactory, upstream: Upstream) -> AuthgateServer:
    routes = [
        _jwt_route("admin", "/admin/**", "orders:write"),
        _jwt_route("echo", "/echo/**", "orders:read", strip_prefix="/echo"),
        _route("open", "/open/**"),
        _route("anything", "/**", methods=["GET"]),
        _jwt_route("api-host", "/h/**", "orders:read", hosts=["api.example.com"]),
        _route("open-host", "/h/**", hosts=["open.example.com"]),
    ]
    gateway = {
        "trusted_proxies": [f"{PROXY}/32"],
        "upstreams": {"main": {"targets": [upstream.url]}},
        "routes": routes,
    }
    return make_server(oauth={"scopes": RESOURCE_SCOPES}, gateway=gateway)


@pytest.fixture(scope="module")
def token(gate: AuthgateServer) -> str:
    """A client token with orders:read (enough for /echo, not for /admin)."""
    return str(client_token(gate, machine(gate), scope="orders:read")["access_token"])


class Answer:
    """One HTTP answer read off a raw socket."""

    def __init__(self, raw: bytes) -> None:
        head, _, self.body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split(" ")[1]) if lines[0].startswith("HTTP/") else 0
        self.headers = [tuple(h.split(": ", 1)) for h in lines[1:] if ": " in h]

    @property
    def seen(self) -> dict[str, Any]:
        """What the upstream saw (the answer must be the upstream's echo)."""
        assert self.status == 200, self.body[:300]
        found: dict[str, Any] = json.loads(self.body)
        found["header_list"] = found["headers"]
        found["headers"] = dict(found["headers"])
        return found


def send_raw(gate: AuthgateServer, data: bytes, source: str | None = None) -> bytes:
    """Everything the gate sends back until it closes (bounded by a deadline)."""
    with socket.create_connection(
        ("127.0.0.1", gate.public_port), timeout=10, source_address=(source, 0) if source else None
    ) as conn:
        conn.sendall(data)
        received = b""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                chunk = conn.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            received += chunk
    return received


def request(
    gate: AuthgateServer,
    target: str | bytes,
    headers: bytes = b"",
    method: bytes = b"GET",
    host: bytes = b"Host: gate.test\r\n",
    body: bytes = b"",
) -> Answer:
    """One request, exactly as written, on its own connection."""
    line = target if isinstance(target, bytes) else target.encode("latin-1")
    data = method + b" " + line + b" HTTP/1.1\r\n" + host + headers + b"Connection: close\r\n\r\n"
    return Answer(send_raw(gate, data + body))


def auth(token: str) -> bytes:
    return f"Authorization: Bearer {token}\r\n".encode()


# -- request smuggling and malformed framing -------------------------------------------------


@pytest.mark.parametrize(
    "framing",
    [
        b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n",
        b"Content-Length: 4\r\nContent-Length: 5\r\n",
        b"Transfer-Encoding: chunked, identity\r\n",
        b"X-Folded: one\r\n two\r\n",
        b"X-Authgate-Sub : admin\r\n",
        b"X-Authgate Sub: admin\r\n",
        b"X-Value: a\x00b\r\n",
        b"X-Value: a\rX-Authgate-Sub: admin\r\n",
        b": no name\r\n",
    ],
    ids=["cl+te", "two-cl", "te-chunked-identity", "obs-fold", "space-before-colon",
         "space-in-name", "nul-in-value", "bare-cr", "empty-name"],
)  # fmt: skip
def test_ambiguous_framing_and_malformed_header_lines_are_400(
    gate: AuthgateServer, framing: bytes
) -> None:
    answer = request(gate, "/open/x", framing, method=b"POST", body=b"0\r\n\r\nabcde")
    assert answer.status == 400


def test_bare_lf_line_endings_are_400(gate: AuthgateServer) -> None:
    raw = b"GET /open/x HTTP/1.1\nHost: a\nX-Authgate-Sub: admin\nConnection: close\n\n"
    assert Answer(send_raw(gate, raw)).status == 400


def test_a_body_that_looks_like_a_request_is_forwarded_as_a_body(gate: AuthgateServer) -> None:
    smuggled = b"GET /admin/x HTTP/1.1\r\nHost: gate.test\r\n\r\n"
    length = f"Content-Length: {len(smuggled)}\r\n".encode()
    seen = request(gate, "/open/x", length, method=b"POST", body=smuggled).seen
    assert seen["body_bytes"] == len(smuggled)
    assert request(gate, "/open/after").seen["path"] == "/open/after"


def test_a_pipelined_request_is_decided_on_its_own(gate: AuthgateServer) -> None:
    raw = (
        b"GET /open/x HTTP/1.1\r\nHost: a\r\n\r\n"
        b"GET /admin/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    )
    received = send_raw(gate, raw)
    assert received.startswith(b"HTTP/1.1 200 ")
    assert received.count(b"HTTP/1.1 401 Unauthorized") == 1


def test_http_1_0_keep_alive_decides_each_request(gate: AuthgateServer) -> None:
    raw = b"GET /open/x HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /admin/x HTTP/1.0\r\n\r\n"
    received = send_raw(gate, raw)
    assert received.startswith(b"HTTP/1.1 200 ")
    assert b'"path": "/admin/x"' not in received


def test_a_one_mebibyte_header_is_refused(gate: AuthgateServer) -> None:
    answer = request(gate, "/open/x", b"X-Big: " + b"a" * 1024 * 1024 + b"\r\n")
    assert answer.status in (400, 431)


def test_a_head_within_the_bounds_is_served(gate: AuthgateServer) -> None:
    lines = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 500) for i in range(90))
    assert request(gate, "/open/x", lines).status == 200


def test_ten_thousand_header_lines_are_refused(gate: AuthgateServer) -> None:
    lines = b"".join(b"X-H%d: v\r\n" % i for i in range(10_000))
    assert request(gate, "/open/x", lines).status in (400, 431)


# -- paths ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/%252e%252e/admin/x",
        "/open/%252e%252e/admin/x",
        "/open/%c0%ae%c0%ae/admin/x",
        "/open/%ef%bc%8e%ef%bc%8e/admin/x",
        "/open/..%ef%bc%8fadmin/x",
        "/open/\xef\xbc\x8e\xef\xbc\x8e/admin/x",
        "/admin;jsessionid=1/x",
        "/admin/x;jsessionid=1",
        "/admin%3bjsessionid=1/x",
        "/open/..\\admin/x",
        "/open/%5c..%5cadmin/x",
        "/./admin/x",
        "/admin/x/.",
        "/admin/x/..",
        "/open/...",
        "/open/%2e",
        "/open/%2E%2e/admin/x",
        "//admin/x",
        "/open/%00",
        "/open/%u002e",
        "/open/%zz",
        "*",
    ],
)
def test_path_tricks_are_refused_with_400(gate: AuthgateServer, token: str, target: str) -> None:
    assert request(gate, target, auth(token)).status == 400


HIDDEN = {
    "%00": "control character",
    "a%2fb": "encoded '/'",
    "a%5cb": "encoded '\\'",
    "%25": "encoded '%'",
    "a;b": "';' path parameters",
    "%c0%ae": "non-ASCII",
    "a.": "ending in '.'",
    "a%20": "ending in '.' or a space",
    "": "empty path segments",
}


@pytest.mark.parametrize("dots", ["..", "%2e%2e", "."])
@pytest.mark.parametrize("hidden", list(HIDDEN), ids=list(HIDDEN))
def test_a_refused_segment_is_refused_when_a_dot_segment_would_remove_it(
    gate: AuthgateServer, token: str, hidden: str, dots: str
) -> None:
    """`/open/%00/../x` reads as `/open/x` once dot segments are resolved: the gate refuses
    it for the `%00`, before dot segments are looked at, and the upstream never sees it."""
    answer = request(gate, f"/open/{hidden}/{dots}/x", auth(token))
    assert answer.status == 400, answer.body[:300]
    refusal = json.loads(answer.body)
    assert refusal["error"] == "ambiguous_path"
    assert HIDDEN[hidden] in refusal["message"]


def test_an_overlong_target_never_reaches_the_upstream(gate: AuthgateServer, token: str) -> None:
    """Refused while the head is parsed: a 400, unless the connection is reset before the
    client reads it (the gate closes with the rest of the head unread)."""
    answer = request(gate, "/open/" + "a" * 200_000, auth(token))
    assert answer.status in (0, 400)


@pytest.mark.parametrize(
    ("target", "forwarded"),
    [
        ("/open/%61%62c", "/open/abc"),
        ("/open/%7e", "/open/~"),
        ("/open/a%3fb", "/open/a%3Fb"),
        ("/ADMIN/x", "/ADMIN/x"),
        ("/open/x?a=/../admin", "/open/x"),
        ("/open/" + "a" * 60_000, "/open/" + "a" * 60_000),
    ],
)
def test_the_upstream_receives_exactly_the_normalized_path(
    gate: AuthgateServer, target: str, forwarded: str
) -> None:
    assert request(gate, target).seen["path"] == forwarded


@pytest.mark.parametrize("target", ["/%61dmin/x", "/admin/x/", "/admin", "/%61%64%6d%69%6e/x"])
def test_a_protected_path_in_any_spelling_stays_protected(
    gate: AuthgateServer, target: str
) -> None:
    assert request(gate, target).status == 401


def test_the_prefix_is_stripped_from_the_normalized_path(gate: AuthgateServer, token: str) -> None:
    assert request(gate, "/%65cho/%61/b", auth(token)).seen["path"] == "/a/b"


@pytest.mark.parametrize("target", ["/admin./x", "/admin%20/x"])
def test_segments_with_trailing_dots_or_spaces_are_refused(
    gate: AuthgateServer, target: str
) -> None:
    assert request(gate, target).status == 400


# -- hosts ---------------------------------------------------------------------------------


def test_host_spellings_still_reach_the_protected_host_route(gate: AuthgateServer) -> None:
    assert request(gate, "/h/x", host=b"Host: API.EXAMPLE.COM.\r\n").status == 401
    assert request(gate, "/h/x", host=b"Host: api.example.com:8443\r\n").status == 401


def test_a_host_with_userinfo_is_400(gate: AuthgateServer) -> None:
    answer = request(gate, "/h/x", host=b"Host: open.example.com@api.example.com\r\n")
    assert answer.status == 400


def test_absolute_form_is_refused(gate: AuthgateServer) -> None:
    assert request(gate, "http://elsewhere.example/admin/x").status == 400


def test_two_host_headers_are_400(gate: AuthgateServer) -> None:
    hosts = b"Host: open.example.com\r\nHost: api.example.com\r\n"
    assert request(gate, "/h/x", host=hosts).status == 400


def test_an_http_1_1_request_without_host_is_400(gate: AuthgateServer) -> None:
    assert request(gate, "/open/x", host=b"").status == 400


def test_absolute_form_cannot_choose_another_host_route(gate: AuthgateServer) -> None:
    answer = request(gate, "http://api.example.com/h/x", host=b"Host: open.example.com\r\n")
    assert answer.status == 400


# -- headers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spoofed",
    [
        b"X-AuthGate-Identity: forged\r\n",
        b"x.authgate-groups: admin\r\nX_AUTHGATE_USERNAME: admin\r\n",
        b"X-Authgate-Sub: admin\r\nx-authgate-sub: admin\r\n",
        b"Connection: close, X-Authgate-Sub\r\nX-Authgate-Sub: admin\r\n",
        b"Connection: X-Authgate-Identity\r\n",
    ],
)
def test_identity_headers_are_the_gates_whatever_the_client_sends(
    gate: AuthgateServer, token: str, spoofed: bytes
) -> None:
    seen = request(gate, "/echo/x", auth(token) + spoofed).seen
    reserved = [(k, v) for k, v in seen["header_list"] if "authgate" in k.replace("_", "-")]
    assert {k for k, _ in reserved} == {
        "x-authgate-sub",
        "x-authgate-client",
        "x-authgate-scopes",
        "x-authgate-identity",
    }
    assert "admin" not in [v for _, v in reserved]
    assert "forged" not in [v for _, v in reserved]


@pytest.mark.parametrize(
    "name",
    ["X-Original-URL", "X_Original_URL", "X-Rewrite-URL", "X.Rewrite.Url", "X-Original-URI",
     "X-HTTP-Method-Override", "x_http_method", "X-Method-Override", "X-Forwarded-Prefix"],
)  # fmt: skip
def test_url_and_method_overrides_never_reach_the_upstream(gate: AuthgateServer, name: str) -> None:
    seen = request(gate, "/open/x", f"{name}: /admin/x\r\n".encode(), method=b"POST").seen
    assert seen["method"] == "POST"
    assert "/admin/x" not in [v for _, v in seen["header_list"]]


def test_forwarding_headers_in_other_spellings_never_reach_the_upstream(
    gate: AuthgateServer,
) -> None:
    spoofed = (
        b"X_Forwarded_For: 203.0.113.66\r\nX.Forwarded.Host: evil\r\nX-Real_IP: 203.0.113.66\r\n"
    )
    values = [v for _, v in request(gate, "/open/x", spoofed).seen["header_list"]]
    assert "203.0.113.66" not in values
    assert "evil" not in values


def test_other_forwarding_headers_from_an_untrusted_peer_are_dropped(
    gate: AuthgateServer,
) -> None:
    spoofed = (
        b"Client-IP: 203.0.113.66\r\nTrue-Client-IP: 203.0.113.66\r\n"
        b"X-Client-IP: 203.0.113.66\r\nX-Forwarded-Scheme: https\r\n"
        b"X-Forwarded-Ssl: on\r\nX-Url-Scheme: https\r\n"
    )
    seen = request(gate, "/open/x", spoofed).seen["headers"]
    assert not {"client-ip", "true-client-ip", "x-client-ip"} & set(seen)
    assert not {"x-forwarded-scheme", "x-forwarded-ssl", "x-url-scheme"} & set(seen)


def test_utf8_header_bytes_reach_the_upstream_unchanged(gate: AuthgateServer) -> None:
    seen = request(gate, "/open/x", b"X-Name: caf\xc3\xa9\r\n").seen["headers"]
    assert seen["x-name"].encode("latin-1") == b"caf\xc3\xa9"


def test_other_header_bytes_above_ascii_are_refused_not_altered(gate: AuthgateServer) -> None:
    answer = request(gate, "/open/x", b"X-Latin: caf\xe9\r\n")
    assert answer.status == 400
    assert b"bad_header_value" in answer.body


def test_two_authorization_headers_are_400(gate: AuthgateServer, token: str) -> None:
    assert request(gate, "/echo/x", auth(token) + auth(token)).status == 400


@pytest.mark.parametrize(
    "value",
    [b"Bearer ", b"Bearer", b"Bearer {t} junk", b"Bearer {t}, Bearer {t}", b"Bearer\t{t}", b""],
)
def test_odd_bearer_values_never_authenticate(
    gate: AuthgateServer, token: str, value: bytes
) -> None:
    line = b"Authorization: " + value.replace(b"{t}", token.encode()) + b"\r\n"
    answer = request(gate, "/echo/x", line)
    assert answer.status == 401
    assert "www-authenticate" in [name for name, _ in answer.headers]


def test_a_token_in_the_query_string_is_not_accepted(gate: AuthgateServer, token: str) -> None:
    assert request(gate, f"/echo/x?access_token={token}").status == 401


def test_head_is_authorized_like_get(gate: AuthgateServer) -> None:
    assert request(gate, "/admin/x", method=b"HEAD").status == 401


def test_an_h2c_upgrade_is_not_passed_on(gate: AuthgateServer) -> None:
    upgrade = b"Upgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMA\r\n"
    seen = request(gate, "/open/x", upgrade).seen["headers"]
    assert not {"upgrade", "http2-settings", "connection"} & set(seen)


# -- WebSocket -----------------------------------------------------------------------------


def _ws_status(gate: AuthgateServer, path: str, headers: dict[str, str]) -> int:
    url = f"ws://127.0.0.1:{gate.public_port}{path}"
    with pytest.raises(InvalidStatus) as refused:
        connect(url, open_timeout=10, additional_headers=headers).close()
    return refused.value.response.status_code


def test_a_websocket_to_a_protected_route_needs_credentials(gate: AuthgateServer) -> None:
    assert _ws_status(gate, "/admin/socket", {}) == 401


def test_a_websocket_with_a_token_lacking_the_scope_is_403(
    gate: AuthgateServer, token: str
) -> None:
    assert _ws_status(gate, "/admin/socket", {"Authorization": f"Bearer {token}"}) == 403


def test_a_websocket_path_trick_is_400(gate: AuthgateServer) -> None:
    assert _ws_status(gate, "/open/%2e%2e/admin/socket", {}) == 400


def test_a_websocket_path_hiding_a_refused_segment_is_400(gate: AuthgateServer) -> None:
    assert _ws_status(gate, "/open/%00/../socket", {}) == 400


def test_an_upgrade_without_a_websocket_key_never_gets_through(gate: AuthgateServer) -> None:
    upgrade = b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
    assert request(gate, "/admin/x", upgrade).status == 401
    answer = request(gate, "/open/x", upgrade)
    assert answer.status == 400 or "upgrade" not in answer.seen["headers"]


# -- forward-auth reads paths with the very same function --------------------------------


def forward(gate: AuthgateServer, uri: str, extra: bytes = b"") -> int:
    raw = (
        b"GET /_authgate/forward HTTP/1.1\r\nHost: gate.test\r\nX-Forwarded-Method: GET\r\n"
        + b"X-Forwarded-Uri: "
        + uri.encode("latin-1")
        + b"\r\n"
        + extra
        + b"Connection: close\r\n\r\n"
    )
    return Answer(send_raw(gate, raw, source=PROXY)).status


@pytest.mark.parametrize(
    "uri",
    ["/open/%252e%252e/admin/x", "/open/%c0%ae/x", "/admin;x=1/y", "/open/%5cx", "/open/./x",
     "//admin/x", "/ADMIN/x", "/%61dmin/x", "/open/a%3bb", "/admin/x", "/open/x?a=/../admin"],
)  # fmt: skip
def test_forward_auth_decides_paths_as_the_proxy_does(gate: AuthgateServer, uri: str) -> None:
    assert forward(gate, uri) == request(gate, uri).status


@pytest.mark.parametrize("uri", ["http://elsewhere/admin/x", "*", "admin/x", "/open/x#frag"])
def test_forward_auth_refuses_a_uri_that_is_not_a_path(gate: AuthgateServer, uri: str) -> None:
    assert forward(gate, uri) == 400


def test_forward_auth_refuses_two_hosts(gate: AuthgateServer) -> None:
    assert forward(gate, "/open/x", b"X-Forwarded-Host: a\r\nX-Forwarded-Host: b\r\n") == 400


def test_forward_auth_from_an_untrusted_peer_never_answers_200(gate: AuthgateServer) -> None:
    raw = (
        b"GET /_authgate/forward HTTP/1.1\r\nHost: gate.test\r\nX-Forwarded-Method: GET\r\n"
        b"X-Forwarded-Uri: /open/x\r\nX-Forwarded-For: 127.0.0.2\r\nConnection: close\r\n\r\n"
    )
    assert Answer(send_raw(gate, raw)).status == 403
