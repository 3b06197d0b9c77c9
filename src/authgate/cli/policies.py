"""`authgate policies`: import, export, list and explain access policies.

`import` takes what `export` writes (a JSON list), one JSON document, or JSON Lines, and is
all or nothing. `check` explains a decision for people debugging access: the answer, the
subjects it was asked for, and every policy that matched with whether its conditions held.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from authgate.bootstrap import Services
from authgate.cli.support import CLI, ConfigOption, JsonOption, fail, out, with_services
from authgate.policy.access import AccessDecision
from authgate.policy.documents import PolicyDocument, document_json

policies_app = typer.Typer(help="Access policies (Ladon documents).", no_args_is_help=True)


class PolicyFileError(ValueError):
    """The file is not JSON, a JSON list, or JSON Lines of documents."""


def read_documents(text: str) -> list[object]:
    """A JSON list of documents, one JSON document, or one document per line (JSON Lines)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return [_json_line(number, line) for number, line in _lines(text)]
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        return [data]
    raise PolicyFileError("expected a JSON object, a JSON list of objects, or JSON Lines")


def _lines(text: str) -> list[tuple[int, str]]:
    return [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]


def _json_line(number: int, line: str) -> object:
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise PolicyFileError(f"line {number}: not JSON ({exc.msg})") from None


@policies_app.command("import")
def policies_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help=".json or .jsonl")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import policies, all or nothing; a document replaces the policy with its id."""
    try:
        items = read_documents(file.read_text(encoding="utf-8"))
    except (PolicyFileError, UnicodeDecodeError) as exc:
        fail([f"{file}: {exc}"])

    async def work(services: Services) -> list[PolicyDocument]:
        return await services.policies.import_documents(items, CLI)

    imported = with_services(config, work)
    if as_json:
        sys.stdout.write(json.dumps({"imported": len(imported)}) + "\n")
    else:
        out.print(f"imported {len(imported)} policies", highlight=False)


@policies_app.command("export")
def policies_export(config: ConfigOption = None) -> None:
    """Write every policy to stdout as a JSON list, ready to import again."""

    async def work(services: Services) -> list[PolicyDocument]:
        return await services.policies.list()

    documents = [document_json(d) for d in with_services(config, work)]
    sys.stdout.write(json.dumps(documents, indent=2, ensure_ascii=False) + "\n")


@policies_app.command("list")
def policies_list(
    subject: Annotated[
        str | None, typer.Option(help="Only policies whose subject patterns match this.")
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List policies by id."""

    async def work(services: Services) -> list[PolicyDocument]:
        return await services.policies.list(subject)

    documents = with_services(config, work)
    if as_json:
        rows = [document_json(d) for d in documents]
        sys.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
        return
    table = Table(title="policies")
    for column in ("id", "effect", "subjects", "actions", "resources", "description"):
        table.add_column(column)
    for d in documents:
        patterns = (" ".join(d.subjects), " ".join(d.actions), " ".join(d.resources))
        table.add_row(d.id, d.effect, *patterns, d.description)
    out.print(table)


def _context(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        fail([f"--context: not JSON ({exc.msg})"])
    if not isinstance(value, dict):
        fail(["--context: must be a JSON object"])
    return value


@policies_app.command("check")
def policies_check(
    subject: Annotated[str, typer.Option(help="A user's sub, a client id, or any subject.")],
    action: Annotated[str, typer.Option()],
    resource: Annotated[str, typer.Option()],
    context: Annotated[
        str | None, typer.Option(help='JSON object, e.g. \'{"remoteIP": "10.0.0.1"}\'.')
    ] = None,
    group: Annotated[
        list[str] | None, typer.Option("--group", help="A group to count the subject in.")
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Explain a decision: exit 0 when allowed, 1 when denied.

    A subject that is a user of the pool counts with its current groups as well."""
    fields = _context(context)

    async def work(services: Services) -> tuple[AccessDecision, tuple[str, ...]]:
        return await services.policies.check(subject, action, resource, fields, group or [])

    decision, subjects = with_services(config, work)
    matches = [
        {"id": m.policy_id, "effect": m.effect, "conditions_held": m.conditions_held}
        for m in decision.matches
    ]
    if as_json:
        answer = {
            "allowed": decision.allowed,
            "reason": decision.reason,
            "subjects": list(subjects),
            "matches": matches,
        }
        sys.stdout.write(json.dumps(answer, indent=2) + "\n")
    else:
        verdict = "[green]allowed[/green]" if decision.allowed else "[red]denied[/red]"
        out.print(f"{verdict} (reason: {decision.reason})", highlight=False)
        out.print(f"subjects: {', '.join(subjects)}", highlight=False)
        table = Table(title="matching policies")
        for column in ("id", "effect", "conditions_held"):
            table.add_column(column)
        for m in decision.matches:
            table.add_row(m.policy_id, m.effect, str(m.conditions_held).lower())
        out.print(table)
    raise typer.Exit(0 if decision.allowed else 1)
