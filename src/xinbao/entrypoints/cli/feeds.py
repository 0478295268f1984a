"""``xinbao feed``: a funder's files checked as a whole and applied whole or not at all
(issue 21; ``servicing/feeds.py``).

    xinbao feed load FILE --funder BANK-A [--type repayments] [--manifest M] [--map THEIRS=OURS]
    xinbao feed columns [--type repayments]

A file (CSV with a header, or Parquet) comes with its manifest, ``FILE.manifest.json`` by
default: ``{"type": "repayments", "funder": "BANK-A", "business_date": "2025-04-30",
"rows": 2, "totals": {"principal": "6000.00"}}`` (totals of yuan columns, optional). A refused
file writes its rejects beside it (``FILE.rejects.csv``: row, column, rule, message) and
exits 2; the same file again, under any name, changes nothing and says so.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from xinbao.batch import feeds, files
from xinbao.batch.feeds import SCHEMAS, FileType, Manifest
from xinbao.batch.files import FileRefused
from xinbao.entrypoints.cli.common import (
    DatabaseUrl,
    JsonOption,
    UserOption,
    container_for,
    emit_json,
    out,
    use_case,
)
from xinbao.kernel.errors import InvalidInput
from xinbao.kernel.money import format_yuan
from xinbao.servicing.feeds import FeedReport, LoadFeed, load_feed

feed_app = typer.Typer(help="The funders' files: checked whole, applied whole or not at all.",
                       no_args_is_help=True)
TypeOption = Annotated[str, typer.Option(
    "--type", help="disbursements, repayments, loan_status or early_settlements.")]


def _file_type(value: str) -> FileType:
    try:
        return FileType(value)
    except ValueError:
        raise InvalidInput.single("type", "feed.type", "a file type is one of " + ", ".join(
            t.value for t in FileType)) from None


@feed_app.command("columns")
def feed_columns(file_type: TypeOption = "repayments") -> None:
    """A file type's columns, their kinds and what they mean."""
    with use_case():
        kind = _file_type(file_type)
    table = Table("column", "kind", "required", "meaning", title=f"{kind.value} files")
    for c in SCHEMAS[kind]:
        table.add_row(c.name, c.kind.value, "yes" if c.required else "no", c.meaning)
    out.print(table)


@feed_app.command("load")
def feed_load(
    path: Annotated[Path, typer.Argument(help="The file: CSV with a header, or Parquet.")],
    funder: Annotated[str, typer.Option(help="The funder's code, as its agreement names it.")],
    file_type: TypeOption = "repayments",
    manifest: Annotated[Path | None, typer.Option(
        help="The manifest (default: FILE.manifest.json beside the file).")] = None,
    mapping: Annotated[list[str] | None, typer.Option(
        "--map", help="A column of the funder's named as ours: THEIRS=OURS (repeatable).")]
    = None,
    as_json: JsonOption = False,
    user: UserOption = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Check a funder's file against its manifest, its schema and the loans, and apply it
    whole or not at all; the same content again changes nothing."""
    with use_case():
        kind = _file_type(file_type)
        renames = dict(_pair(m) for m in mapping or [])
        listed = _manifest(manifest or path.with_name(path.name + ".manifest.json"), kind)
        try:
            raw = files.read(path, renames)
        except FileRefused as refused:
            raise InvalidInput.single("file", refused.rule, refused.message) from None
        digest = files.content_hash(path)
    container = container_for(database_url, user=user)
    with use_case():
        report = load_feed(LoadFeed(funder, path.name, digest, listed, raw,
                                    datetime.now(UTC).replace(tzinfo=None)), container.uow())
    rejects = path.with_name(path.name + ".rejects.csv")
    if report.rejects.height:
        report.rejects.write_csv(rejects)
    if as_json:
        emit_json({**report.summary(), "rejects_file": str(rejects)
                   if report.rejects.height else None})
    else:
        out.print(_table(report, rejects))
    if report.status == "refused":
        raise typer.Exit(2)


def _pair(text: str) -> tuple[str, str]:
    theirs, sep, ours = text.partition("=")
    if not sep or not theirs or not ours:
        raise InvalidInput.single("map", "feed.mapping", "a mapping is THEIRS=OURS")
    return theirs, ours


def _manifest(path: Path, kind: FileType) -> Manifest:
    try:
        listed = files.load_manifest(path)
    except FileNotFoundError:
        raise InvalidInput.single("manifest", "feed.manifest",
                                  f"no manifest at {path} (--manifest names another)") from None
    except (ValueError, KeyError, json.JSONDecodeError) as e:
        raise InvalidInput.single("manifest", "feed.manifest",
                                  f"the manifest cannot be read: {e}") from None
    if listed.file_type is not kind:
        raise InvalidInput.single("manifest", "feed.manifest",
                                  f"the manifest is for {listed.file_type.value} files")
    return listed


def _table(report: FeedReport, rejects: Path) -> Table:
    table = Table("", "", title=f"{report.file_name}: {report.status}")
    for label, value in (
            ("rows", f"{report.rows:,}"), ("recorded", f"{report.accepted:,}"),
            ("already recorded", f"{report.repeated:,}"),
            ("principal (yuan)", format_yuan(report.principal_fen)),
            ("interest (yuan)", format_yuan(report.interest_fen)),
            ("premium (yuan)", format_yuan(report.premium_fen))):
        table.add_row(label, value)
    for rule, message in report.refusals:
        table.add_row(f"refused: {rule}", message)
    if report.rejects.height:
        table.add_row("rejected rows", f"{report.rejects[feeds.ROW].n_unique():,} "
                                       f"(each with its rule in {rejects})")
    return table
