"""The `gateway:` section of the configuration, validated when it loads.

Every problem names the route (by name) or upstream and the key, and ambiguity is an error:
two routes that one request could match with equal specificity and priority are refused.
Handler options (authorize, identity, CORS, rate limits) are typed in `gateway.route_options`.
"""

from __future__ import annotations

import ipaddress
import re
from functools import cached_property
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from authgate.gateway.discovery import SRV_SCHEMES, parse_target, split_nameserver
from authgate.gateway.patterns import (
    NO_HOST_MATCH,
    HostPattern,
    PathPattern,
    host_rank,
    sample_hosts,
)
from authgate.gateway.route_options import (
    METHOD,
    AuthorizeSettings,
    CorsSettings,
    IdentitySettings,
    Model,
    RateLimitSettings,
)
from authgate.secret_refs import SecretRef
from authgate.units import ByteSize, Duration, Listen

RESERVED_SEGMENTS = frozenset(
    {
        "v1",
        "oauth2",
        ".well-known",
        "healthz",
        "readyz",
        "_authgate",
        "authz",
        "docs",
        "openapi.json",
        "cognito",
    }
)
"""First path segments that authgate serves itself; routes cannot claim them."""

AuthenticatorName = Literal["jwt", "introspection", "cookie", "client_credentials", "anonymous"]
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class HealthSettings(Model):
    """Active health checks of an upstream's targets: a target is taken out after
    `unhealthy_threshold` failed checks in a row and back after `healthy_threshold` passes."""

    path: str = "/health"
    interval: Duration = 5.0
    timeout: Duration = 2.0
    healthy_threshold: int = Field(default=2, ge=1)
    unhealthy_threshold: int = Field(default=2, ge=1)

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("the health path must start with '/'")
        return value


class TimeoutSettings(Model):
    connect: Duration = 2.0
    read: Duration = 30.0


class BasicAuthSettings(Model):
    """Credentials for a legacy upstream; secret references (env:, file:) resolve later."""

    username: SecretRef
    password: SecretRef


class UpstreamSettings(Model):
    targets: list[str] = Field(
        min_length=1,
        description="http(s)://HOST[:PORT] (a DNS name: every A/AAAA record, re-resolved on"
        " its TTL) or srv+http(s)://NAME (SRV records); no path.",
    )
    health: HealthSettings | None = None
    timeouts: TimeoutSettings = TimeoutSettings()
    basic_auth: BasicAuthSettings | None = None
    audience: str | None = Field(
        default=None, description="`aud` required of tokens on routes to this upstream."
    )

    @field_validator("targets")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        targets = []
        for target in value:
            parts = urlsplit(target)
            if parts.scheme in SRV_SCHEMES:
                parse_target(target)
                targets.append(target.rstrip("/"))
                continue
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"target {target!r} must be an http(s) URL or srv+http(s)://NAME")
            if parts.username or parts.password or parts.query or parts.fragment:
                raise ValueError(f"target {target!r} must not carry credentials, query or fragment")
            if parts.path not in ("", "/"):
                raise ValueError(f"target {target!r} must not have a path")
            try:
                parts.port  # noqa: B018 - raises on an invalid port
            except ValueError:
                raise ValueError(f"target {target!r} has an invalid port") from None
            targets.append(target.rstrip("/"))
        return targets


class RouteSettings(Model):
    name: str
    hosts: list[str] = Field(
        default_factory=list, description="Exact names or `*.example.com` (one label); default any."
    )
    path: str = Field(description="`/a/*/b/**`: `*` one segment, `**` any rest (last only).")
    priority: int = Field(default=0, description="Breaks ties between equally specific routes.")
    methods: list[str] = Field(
        default_factory=list, description="Default any; GET implies HEAD (authorized alike)."
    )
    upstream: str
    strip_prefix: str | None = Field(default=None, description="A literal prefix of `path`.")
    authenticate: list[AuthenticatorName] = Field(min_length=1)
    authorize: AuthorizeSettings
    identity: IdentitySettings = IdentitySettings()
    keep_authorization: bool = False
    audience: str | None = Field(default=None, description="`aud` required; else the upstream's.")
    max_body: ByteSize = Field(default=10 * 1024 * 1024, description="Bytes; e.g. 10MiB.")
    cors: CorsSettings | None = Field(default=None, description="Browser origins allowed.")
    rate_limit: RateLimitSettings | None = Field(
        default=None, description="Per subject, client or IP; counted per process."
    )

    @model_validator(mode="wrap")
    @classmethod
    def _errors_name_the_route(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError as exc:
            name = value.get("name") if isinstance(value, dict) else None
            if not isinstance(name, str):
                raise
            raise _located(
                exc.title,
                [
                    (error["loc"], f"route {name!r}: {_message(error['msg'])}")
                    for error in exc.errors()
                ],
            ) from None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError("a route name is 1-64 of letters, digits, '_', '.', '-'")
        return value

    @field_validator("hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        hosts = [value.lower() for value in value]
        for host in hosts:
            HostPattern.parse(host)
        if len(set(hosts)) != len(hosts):
            raise ValueError("a host is listed twice")
        return hosts

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        pattern = PathPattern.parse(value)
        if pattern.literal_prefix and pattern.literal_prefix[0] in RESERVED_SEGMENTS:
            raise ValueError(f"/{pattern.literal_prefix[0]} is served by authgate itself")
        return value

    @field_validator("methods")
    @classmethod
    def _methods(cls, value: list[str]) -> list[str]:
        methods = list(dict.fromkeys(method.upper() for method in value))
        for method in methods:
            if not METHOD.fullmatch(method):
                raise ValueError(f"{method!r} is not an HTTP method")
        return methods

    @field_validator("authenticate")
    @classmethod
    def _authenticators(cls, value: list[AuthenticatorName]) -> list[AuthenticatorName]:
        if len(set(value)) != len(value):
            raise ValueError("an authenticator is listed twice")
        if "anonymous" in value[:-1]:
            raise ValueError("anonymous may only be the last authenticator")
        return value

    @field_validator("strip_prefix")
    @classmethod
    def _strip_prefix(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or "path" not in info.data:
            return value
        prefix = PathPattern.parse(value)
        literal = PathPattern.parse(info.data["path"]).literal_prefix
        if value.endswith("/") or prefix.segments != literal[: len(prefix.segments)]:
            raise ValueError(
                f"{value!r} must be a literal prefix of path {info.data['path']!r}"
                " made of whole segments, without a trailing '/'"
            )
        return value

    @cached_property
    def pattern(self) -> PathPattern:
        return PathPattern.parse(self.path)

    @cached_property
    def host_patterns(self) -> tuple[HostPattern, ...]:
        return tuple(HostPattern.parse(host) for host in self.hosts)

    @cached_property
    def allowed_methods(self) -> frozenset[str] | None:
        """The methods this route serves, HEAD added when GET is there; None for any."""
        if not self.methods:
            return None
        methods = set(self.methods)
        if "GET" in methods:
            methods.add("HEAD")
        return frozenset(methods)

    @cached_property
    def strip_segments(self) -> int:
        return (
            0 if self.strip_prefix is None else len(PathPattern.parse(self.strip_prefix).segments)
        )


class ListenerTlsSettings(Model):
    """TLS termination on a listener: PEM files, read (and checked) at start and reload."""

    cert: str = Field(min_length=1, description="PEM certificate chain, leaf first.")
    key: str = Field(min_length=1, description="PEM private key, unencrypted.")


class GatewayListener(Model):
    """A listener of the gate's own: it serves the gate, with authgate's paths first."""

    listen: Listen
    tls: ListenerTlsSettings | None = None


def _network(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return ipaddress.ip_network(value.strip())
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an IP network: {exc}") from None
    return value


class DnsSettings(Model):
    """How DNS-named upstream targets are resolved; the system resolver by default."""

    nameservers: list[str] = Field(
        default_factory=list,
        description="`IP` or `IP:PORT` of the servers to ask; default the"
        " system's (/etc/resolv.conf).",
    )

    @field_validator("nameservers")
    @classmethod
    def _servers(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                split_nameserver(entry)
            except ValueError:
                raise ValueError(f"nameserver {entry!r} must be IP or IP:PORT") from None
        return value


class GatewaySettings(Model):
    trusted_proxies: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = Field(
        default_factory=list,
        description="Peers whose X-Forwarded-* headers are believed; none by default.",
    )
    upstreams: dict[str, UpstreamSettings] = Field(default_factory=dict)
    routes: list[RouteSettings] = Field(default_factory=list)
    access_log: bool = Field(
        default=True, description="One JSON line a request on the `authgate.access` logger."
    )
    dns: DnsSettings = DnsSettings()
    listen: list[GatewayListener] = Field(
        default_factory=list,
        description="Listeners of the gate's own; when given, the public listener serves only"
        " authgate's paths. A change needs a restart.",
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        return [_network(item) for item in value] if isinstance(value, list) else value

    @field_validator("upstreams")
    @classmethod
    def _upstream_names(cls, value: dict[str, UpstreamSettings]) -> dict[str, UpstreamSettings]:
        for name in value:
            if not _NAME.fullmatch(name):
                raise ValueError(f"upstream name {name!r}: 1-64 of letters, digits, '_', '.', '-'")
        return value

    @model_validator(mode="after")
    def _routes_consistent(self) -> GatewaySettings:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        seen: set[str] = set()
        for index, route in enumerate(self.routes):
            if route.name in seen:
                problems.append((("routes", index, "name"), f"route {route.name!r}: used twice"))
            seen.add(route.name)
            if route.upstream not in self.upstreams:
                problems.append(
                    (
                        ("routes", index, "upstream"),
                        f"route {route.name!r}: {route.upstream!r} is not declared in"
                        " gateway.upstreams",
                    )
                )
            elif route.keep_authorization and self.upstreams[route.upstream].basic_auth:
                problems.append(
                    (
                        ("routes", index, "keep_authorization"),
                        f"route {route.name!r}: keep_authorization is ambiguous with upstream"
                        f" {route.upstream!r}'s basic_auth (both set Authorization)",
                    )
                )
        for index, first in enumerate(self.routes):
            for later, second in enumerate(self.routes[index + 1 :], start=index + 1):
                if ambiguous(first, second):
                    problems.append(
                        (
                            ("routes", later, "path"),
                            f"routes {first.name!r} and {second.name!r} are ambiguous: one"
                            " request can match both with equal specificity; give them"
                            " different `priority` values or make one more specific",
                        )
                    )
        if problems:
            raise _located("GatewaySettings", problems)
        return self


def routes_claiming(
    routes: list[RouteSettings], segments: set[str] | frozenset[str]
) -> list[tuple[int, RouteSettings]]:
    """The routes (with their index) whose literal path starts with one of `segments`."""
    return [
        (index, route)
        for index, route in enumerate(routes)
        if route.pattern.literal_prefix and route.pattern.literal_prefix[0] in segments
    ]


def located_problems(
    title: str, problems: list[tuple[tuple[str | int, ...], str]]
) -> ValidationError:
    """A ValidationError whose problems each name their own key path."""
    return _located(title, problems)


def _message(msg: str) -> str:
    return msg.removeprefix("Value error, ")


def _located(title: str, problems: list[tuple[tuple[str | int, ...], str]]) -> ValidationError:
    details = [
        InitErrorDetails(
            type=PydanticCustomError("gateway_config", "{problem}", {"problem": problem}),
            loc=loc,
            input=None,
        )
        for loc, problem in problems
    ]
    return ValidationError.from_exception_data(title, details)


def ambiguous(first: RouteSettings, second: RouteSettings) -> bool:
    """Whether one request can match both routes with nothing to choose between them."""
    if first.priority != second.priority:
        return False
    if first.pattern.specificity != second.pattern.specificity:
        return False
    if not first.pattern.overlaps(second.pattern):
        return False
    a, b = first.allowed_methods, second.allowed_methods
    if a is not None and b is not None and not a & b:
        return False
    for host in sample_hosts(first.host_patterns, second.host_patterns):
        rank = host_rank(first.host_patterns, host)
        if rank != NO_HOST_MATCH and rank == host_rank(second.host_patterns, host):
            return True
    return False
