"""Properties of the vetting's parsers: the path normaliser and the secret matchers."""

from __future__ import annotations

import posixpath
import string

from examples.intake.vetting.paths import is_under, link_target, normalise
from examples.intake.vetting.secrets import file_rule, redact, redact_text, scan_env, scan_text
from hypothesis import given
from hypothesis import strategies as st

parts = st.sampled_from(["a", "b", "etc", ".", "..", "", "passwd", "..."])
names = st.lists(parts, max_size=8).map("/".join) | st.text(max_size=40)


@given(names)
def test_a_normalised_path_is_relative_and_canonical(name: str) -> None:
    path = normalise(name).path
    assert not path.startswith("/")
    assert all(part not in ("", ".", "..") for part in path.split("/")) or path == ""
    assert normalise(path).path == path and not normalise(path).escapes


@given(names)
def test_escaping_is_what_posixpath_calls_leaving_the_root(name: str) -> None:
    result = normalise(name)
    if name.startswith("/"):
        return
    expected = posixpath.normpath(name) if name else "."
    leaves = expected == ".." or expected.startswith("../")
    assert result.escapes == leaves
    if not leaves:
        assert result.path == ("" if expected == "." else expected)


@given(names)
def test_a_normalised_path_stays_under_any_root_it_is_joined_to(name: str) -> None:
    joined = posixpath.normpath(posixpath.join("/srv/root", normalise(name).path))
    assert joined == "/srv/root" or joined.startswith("/srv/root/")


@given(names, names)
def test_a_symlink_target_that_does_not_escape_resolves_under_the_root(
    entry: str, target: str
) -> None:
    resolved = link_target(entry, target, hard=False)
    assert is_under(resolved.path, "")
    if not target.startswith("/") and not resolved.escapes:
        base = posixpath.dirname(normalise(entry).path)
        assert posixpath.normpath(posixpath.join("/r", base, target)).startswith("/r")


separators = st.text(alphabet=" \t\n=:;,'\"", min_size=1, max_size=3)
noise = st.text(alphabet=string.ascii_lowercase + " .-_/", max_size=30)
aws_ids = st.builds(
    lambda prefix, body: prefix + body,
    st.sampled_from(["AKIA", "ASIA"]),
    st.text(alphabet=string.ascii_uppercase + string.digits, min_size=16, max_size=16),
)
github = st.builds(
    lambda kind, body: f"gh{kind}_{body}",
    st.sampled_from("pousr"),
    st.text(alphabet=string.ascii_letters + string.digits, min_size=36, max_size=60),
)
slack = st.builds(
    lambda kind, body: f"xox{kind}-{body}",
    st.sampled_from("baprs"),
    st.text(alphabet=string.ascii_letters + string.digits + "-", min_size=10, max_size=40),
)
aws_secrets = st.text(
    alphabet=string.ascii_letters + string.digits + "/+", min_size=40, max_size=40
)


@given(noise, separators, st.one_of(aws_ids, github, slack), separators, noise)
def test_a_known_token_is_found_wherever_it_sits(
    before: str, left: str, token: str, right: str, after: str
) -> None:
    text = before + left + token + right + after
    kinds = {m.kind for m in scan_text(text)}
    expected = {"A": "aws-access-key-id", "g": "github-token", "x": "slack-token"}[token[0]]
    assert expected in kinds
    assert all(m.severity == "high" for m in scan_text(text))


@given(st.one_of(aws_ids, github, slack, aws_secrets))
def test_no_detail_nor_redacted_text_holds_the_secret(token: str) -> None:
    for match in scan_text(f"x={token}") + scan_env("AWS_SECRET_ACCESS_KEY", token):
        assert token not in match.detail
    assert token not in redact(token)
    assert token not in redact_text(f"AWS_SECRET_ACCESS_KEY={token} and {token[:30]}")


@given(st.sampled_from(["AWS_SECRET_ACCESS_KEY", "aws_secret", "MY_AWS_KEY"]), aws_secrets)
def test_a_40_character_secret_next_to_an_aws_name_is_high(name: str, value: str) -> None:
    assert ("high", "aws-secret-access-key") in {
        (m.severity, m.kind) for m in scan_env(name, value)
    }


@given(st.text(alphabet=string.ascii_lowercase + " _-.", max_size=200))
def test_lowercase_prose_holds_no_known_token(text: str) -> None:
    assert scan_text(text) == []


@given(st.text(max_size=300), st.text(max_size=300))
def test_the_env_scanner_takes_any_text(name: str, value: str) -> None:
    for match in scan_env(name, value):
        assert match.severity in ("high", "medium")


@given(st.text(min_size=1, max_size=40))
def test_a_secret_named_variable_with_a_trivial_value_is_not_flagged(value: str) -> None:
    short = value[:7]
    assert scan_env("API_TOKEN", short) == [] or any(
        m.severity == "high" for m in scan_env("API_TOKEN", short)
    )


@given(names)
def test_file_rules_look_at_names_only(name: str) -> None:
    rule = file_rule(normalise(name).path)
    if rule is not None:
        assert rule.kind
