"""The `policy` authorizer's templates: how a route turns a request into action and resource.

A template is literal text with placeholders in braces, parsed once when the configuration
loads, so a typo is a load error naming the route and key, never a request-time surprise:

- `{method_verb}`: `read` for GET, HEAD and OPTIONS, `write` otherwise, unless the route's
  `methods` map names the method (HEAD falls back to GET's entry: HEAD is authorized like GET);
- `{method}`: the upper-cased method, HEAD rendered as GET for the same reason;
- `{path}`: the normalized request path, as the route matched it (BEFORE `strip_prefix`, so a
  resource names what the client asked for, whatever the upstream is sent);
- `{path[N]}`: its N-th segment, 0-based (`/orders/42`: `{path[1]}` is `42`);
- `{host}`, `{route}`, `{sub}`, `{client}`: the host (lower case, no port), the route's name,
  and the principal's subject and client id.

A placeholder with no value (a path too short, an anonymous caller's `{sub}`, an empty
trailing segment) makes the whole input missing: the authorizer then denies, because an
empty string would let `orders:{path[1]}` become `orders:`, which a policy never meant.
Values are inserted as they are (the path already normalized); a literal brace is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NAMES = frozenset({"method_verb", "method", "path", "host", "route", "sub", "client"})
MAX_SEGMENT_INDEX = 63
MAX_TEMPLATE = 512
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_PLACEHOLDER = re.compile(r"\{([a-z_]+)(?:\[(\d{1,3})\])?\}")


class TemplateError(ValueError):
    """A template that cannot be parsed; the message says what and where."""


class MissingInput(Exception):
    """A placeholder had no value for this request."""

    def __init__(self, placeholder: str) -> None:
        super().__init__(f"{{{placeholder}}} has no value for this request")
        self.placeholder = placeholder


@dataclass(frozen=True)
class Placeholder:
    name: str
    index: int | None = None

    def __str__(self) -> str:
        return f"{{{self.name}}}" if self.index is None else f"{{{self.name}[{self.index}]}}"


@dataclass(frozen=True)
class RequestFacts:
    """What a template may name about one request, gathered once per decision."""

    method: str
    method_verb: str
    path: str
    segments: tuple[str, ...]
    host: str | None
    route: str
    sub: str | None
    client: str | None

    def value_of(self, placeholder: Placeholder) -> str | None:
        if placeholder.index is not None:
            index = placeholder.index
            return self.segments[index] if index < len(self.segments) else None
        value: str | None = getattr(self, placeholder.name)
        return value


@dataclass(frozen=True)
class Template:
    """A parsed template: literal strings and placeholders, in order."""

    source: str
    parts: tuple[str | Placeholder, ...]

    def render(self, facts: RequestFacts) -> str:
        """The text for this request; MissingInput when a placeholder has no value."""
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = facts.value_of(part)
            if not value:
                raise MissingInput(str(part).strip("{}"))
            out.append(value)
        return "".join(out)


def _literal(text: str, source: str) -> str:
    if "{" in text or "}" in text:
        raise TemplateError(
            f"{source!r}: a brace that is not a placeholder; use one of "
            + ", ".join(sorted(f"{{{name}}}" for name in NAMES))
            + " or {path[N]}"
        )
    return text


def parse_template(source: str) -> Template:
    """Parse once, at configuration load; TemplateError names the bad placeholder."""
    if not source:
        raise TemplateError("a template must not be empty")
    if len(source) > MAX_TEMPLATE:
        raise TemplateError(f"a template is at most {MAX_TEMPLATE} characters")
    parts: list[str | Placeholder] = []
    position = 0
    for found in _PLACEHOLDER.finditer(source):
        if found.start() > position:
            parts.append(_literal(source[position : found.start()], source))
        name, index = found.group(1), found.group(2)
        if name not in NAMES:
            raise TemplateError(f"{source!r}: unknown placeholder {{{name}}}")
        if index is not None and name != "path":
            raise TemplateError(f"{source!r}: only {{path[N]}} takes an index, not {{{name}[]}}")
        if index is not None and int(index) > MAX_SEGMENT_INDEX:
            raise TemplateError(f"{source!r}: a segment index is at most {MAX_SEGMENT_INDEX}")
        parts.append(Placeholder(name, None if index is None else int(index)))
        position = found.end()
    if position < len(source):
        parts.append(_literal(source[position:], source))
    return Template(source, tuple(parts))


def method_verb(method: str, methods: dict[str, str]) -> str:
    """The route's own word for the method if it maps it (HEAD as GET), else read/write."""
    method = method.upper()
    if method in methods:
        return methods[method]
    if method == "HEAD" and "GET" in methods:
        return methods["GET"]
    return "read" if method in READ_METHODS else "write"
