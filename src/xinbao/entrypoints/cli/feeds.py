"""``xinbao feed``: a funder's files checked as a whole and applied whole or not at all
(issue 21; ``servicing/feeds.py``).

    xinbao feed load FILE --funder BANK-A [--type repayments] [--manifest M] [--map THEIRS=OURS]
    xinbao feed columns [--type repayments]
    xinbao feed watch INBOX [--once] [--interval 10] [--settle 2]

Without ``--map``, a file is read with the column names its funder's agreement keeps for the
file type (``xinbao funders agreement CODE --feed-map TYPE:THEIRS=OURS``).

A file (CSV with a header, or Parquet) comes with its manifest, ``FILE.manifest.json`` by
default: ``{"type": "repayments", "funder": "BANK-A", "business_date": "2025-04-30",
"rows": 2, "totals": {"principal": "6000.00"}}`` (totals of yuan columns, optional). A refused
file writes its rejects beside it (``FILE.rejects.csv``: row, column, rule, message) and
exits 2; the same file again, under any name, changes nothing and says so. A loan status
file's rows that differ from our book are written beside it too (``FILE.differences.csv``:
both sides, and whether a person must look at it); a disbursement file issues policies,
an early settlement file settles loans, a claim notice file gives claims (each notice's
claim and where it went in ``FILE.claims.csv``; docs/BATCH.md).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer
from rich.table import Table

from xinbao.batch import feeds, files
from xinbao.batch.feeds import SCHEMAS, FileType, Manifest
from xinbao.batch.files import FileRefused
from xinbao.bootstrap import Container
from xinbao.catalogue import queries as catalogue_queries
from xinbao.entrypoints.cli.common import (
    DatabaseUrl,
    JsonOption,
    UserOption,
    container_for,
    emit_json,
    err,
    out,
    use_case,
)
from xinbao.iam.model.security import Forbidden
from xinbao.kernel.errors import Conflict, InvalidInput, NotFound, WriteConflict
from xinbao.kernel.money import format_yuan
from xinbao.servicing.feeds import FeedReport, LoadFeed, load_feed

feed_app = typer.Typer(help="The funders' files: checked whole, applied whole or not at all.",
                       no_args_is_help=True)
TypeOption = Annotated[str, typer.Option(
    "--type", help="disbursements, repayments, loan_status, early_settlements or "
                   "claim_notices.")]


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
        "--map", help="A column of the funder's named as ours: THEIRS=OURS (repeatable; "
                      "default: its agreement's mapping for the file type).")]
    = None,
    as_json: JsonOption = False,
    user: UserOption = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Check a funder's file against its manifest, its schema and the loans, and apply it
    whole or not at all; the same content again changes nothing."""
    container = container_for(database_url, user=user)
    with use_case():
        kind = _file_type(file_type)
        renames = dict(_pair(m) for m in mapping) if mapping else \
            agreed_mapping(container, funder, kind)
        listed = _manifest(manifest or path.with_name(path.name + ".manifest.json"), kind)
        try:
            raw = files.read(path, renames)
        except FileRefused as refused:
            raise InvalidInput.single("file", refused.rule, refused.message) from None
        digest = files.content_hash(path)
    with use_case():
        report = load_feed(LoadFeed(funder, path.name, digest, listed, raw,
                                    datetime.now(UTC).replace(tzinfo=None)), container.uow())
    rejects = path.with_name(path.name + ".rejects.csv")
    if report.rejects.height:
        report.rejects.write_csv(rejects)
    differences = path.with_name(path.name + ".differences.csv")
    if report.differences.height:
        report.differences.write_csv(differences)
    claims = path.with_name(path.name + ".claims.csv")
    if report.claims.height:
        report.claims.write_csv(claims)
    if as_json:
        emit_json({**report.summary(), "rejects_file": str(rejects)
                   if report.rejects.height else None, "differences_file": str(differences)
                   if report.differences.height else None,
                   "claims_file": str(claims) if report.claims.height else None})
    else:
        out.print(_table(report, rejects, differences, claims))
    if report.status == "refused":
        raise typer.Exit(2)


def agreed_mapping(container: Container, funder: str, kind: FileType) -> dict[str, str]:
    """The funder's column names for a file type, as its agreement in force keeps them."""
    current = catalogue_queries.get_funder(container.uow(), funder).current
    return current.mapping_for(kind.value) if current is not None else {}


def _pair(text: str) -> tuple[str, str]:
    theirs, sep, ours = text.partition("=")
    if not sep or not theirs or not ours:
        raise InvalidInput.single("map", "feed.mapping", "a mapping is THEIRS=OURS")
    return theirs, ours


def _manifest(path: Path, kind: FileType) -> Manifest:
    listed = _read_manifest(path)
    if listed.file_type is not kind:
        raise InvalidInput.single("manifest", "feed.manifest",
                                  f"the manifest is for {listed.file_type.value} files")
    return listed


def _read_manifest(path: Path) -> Manifest:
    try:
        return files.load_manifest(path)
    except FileNotFoundError:
        raise InvalidInput.single("manifest", "feed.manifest",
                                  f"no manifest at {path} (--manifest names another)") from None
    except (ValueError, KeyError, TypeError, AttributeError, json.JSONDecodeError) as e:
        raise InvalidInput.single("manifest", "feed.manifest",
                                  f"the manifest cannot be read: {e}") from None


def _table(report: FeedReport, rejects: Path, differences: Path, claims: Path) -> Table:
    table = Table("", "", title=f"{report.file_name}: {report.status}")
    for label, value in (
            ("rows", f"{report.rows:,}"), ("recorded", f"{report.accepted:,}"),
            ("already recorded", f"{report.repeated:,}"),
            ("principal (yuan)", format_yuan(report.principal_fen)),
            ("interest (yuan)", format_yuan(report.interest_fen)),
            ("premium (yuan)", format_yuan(report.premium_fen))):
        table.add_row(label, value)
    if report.premium_refunded_fen:
        table.add_row("premium refunded (yuan)", format_yuan(report.premium_refunded_fen))
    if report.differing:
        where = f"; both sides in {differences}" if report.differences.height else ""
        table.add_row("differ from our book",
                      f"{report.differing:,} ({report.flagged:,} for a person{where})")
    if report.claims_by_status:
        where = f"; each notice's claim in {claims}" if report.claims.height else ""
        table.add_row("claims", ", ".join(f"{n:,} {status.replace('_', ' ')}" for status, n
                                          in report.claims_by_status.items()) + where)
    for rule, message in report.refusals:
        table.add_row(f"refused: {rule}", message)
    if report.rejects.height:
        table.add_row("rejected rows", f"{report.rejects[feeds.ROW].n_unique():,} "
                                       f"(each with its rule in {rejects})")
    return table


# The watched inbox ------------------------------------------------------------------------

#: Where a funder's folder keeps what the watcher has handled, and what it is handling.
DONE, REFUSED, CLAIMED = "done", "refused", ".claimed"
_MANIFEST = ".manifest.json"


@feed_app.command("watch")
def feed_watch(
    inbox: Annotated[Path, typer.Argument(
        help="The inbox: a folder per funder, named by its code (INBOX/BANK-A/).")],
    once: Annotated[bool, typer.Option(
        "--once", help="Handle the files there now, then stop.")] = False,
    interval: Annotated[float, typer.Option(
        min=0.1, help="Seconds between two looks at the inbox.")] = 10.0,
    settle: Annotated[float, typer.Option(
        min=0.0, help="A file is taken once it and its manifest kept their size and time "
                      "for this many seconds.")] = 2.0,
    as_json: JsonOption = False,
    user: UserOption = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Load the funders' files dropped in an inbox, each with the mapping of its funder's
    agreement, and move each to done/ or refused/ with its report (docs/BATCH.md).

    INBOX/BANK-A/X.csv (or X.parquet) is taken when X.csv.manifest.json is beside it and
    neither changed for --settle seconds; it and its manifest then go to INBOX/BANK-A/done/
    (applied, or a repeat) or INBOX/BANK-A/refused/ (with X.csv.rejects.csv), each with
    X.csv.report.json. Until interrupted (Ctrl-C), or once with --once."""
    with use_case():
        if not inbox.is_dir():
            raise InvalidInput.single("inbox", "feed.inbox", f"no folder {inbox}")
    container = container_for(database_url, user=user)
    handled: list[dict[str, Any]] = []
    try:
        while True:
            handled += sweep(container, inbox, settle=settle,
                             say=err.print if as_json else out.print)
            if once:
                break
            time.sleep(interval)
    except KeyboardInterrupt:
        err.print("Stopped: files being handled went back to the inbox.")
    if as_json:
        emit_json(handled)


def sweep(container: Container, inbox: Path, *, settle: float,
          say: Callable[[str], object] = err.print) -> list[dict[str, Any]]:
    """One look at the inbox: every file ready handled, what became of each (a line said
    for each)."""
    handled = []
    for folder, name in _ready(inbox, settle):
        outcome = _take(container, folder, name)
        if outcome is not None:
            handled.append(outcome)
            say(f"{folder.name}/{name}: [bold]{outcome['status']}[/], "
                f"{outcome.get('rows', 0):,} row(s) -> {outcome['moved_to']}")
    return handled


def _ready(inbox: Path, settle: float) -> list[tuple[Path, str]]:
    """The files with their manifest beside them whose sizes and times held still for
    ``settle`` seconds (a file still being written is left for a later look)."""
    first = _look(inbox)
    if settle > 0 and first:
        time.sleep(settle)
    second = _look(inbox)
    return sorted(key for key, seen in first.items() if second.get(key) == seen)


def _look(inbox: Path) -> dict[tuple[Path, str], tuple[int, ...]]:
    seen: dict[tuple[Path, str], tuple[int, ...]] = {}
    for folder in sorted(inbox.iterdir()):
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        for path in folder.iterdir():
            if path.name.startswith(".") or path.suffix.lower() not in (".csv", ".parquet"):
                continue
            try:
                data, listed = path.stat(), (folder / (path.name + _MANIFEST)).stat()
            except FileNotFoundError:
                continue  # no manifest yet, or taken meanwhile
            if path.is_file():
                seen[folder, path.name] = (data.st_size, data.st_mtime_ns, listed.st_size,
                                           listed.st_mtime_ns)
    return seen


def _take(container: Container, folder: Path, name: str) -> dict[str, Any] | None:
    """Claim a file (a rename: of two watchers, one wins; the other finds it gone and
    leaves it), load it, and move it where its outcome says. None: another watcher took it,
    or it must wait (its funder unknown or not permitted, a collision: said, put back)."""
    claim = folder / CLAIMED / uuid.uuid4().hex
    claim.mkdir(parents=True)
    work, manifest = claim / name, claim / (name + _MANIFEST)
    try:
        (folder / name).rename(work)
    except FileNotFoundError:
        claim.rmdir()
        return None
    try:
        (folder / (name + _MANIFEST)).rename(manifest)
        outcome = _load_claimed(container, folder.name, work, manifest)
    except (NotFound, Forbidden, Conflict, WriteConflict, FileNotFoundError) as exc:
        _put_back(claim, folder)
        err.print(f"{folder.name}/{name}: left for later: {exc}")
        return None
    except BaseException:
        _put_back(claim, folder)
        raise
    return _file_away(claim, folder, name, outcome)


_Outcome = tuple[dict[str, Any], pl.DataFrame, pl.DataFrame]


def _load_claimed(container: Container, funder: str, work: Path, manifest: Path) -> _Outcome:
    """A claimed file's report, rejects and differences from our book (a file refused at
    the door: its rule)."""
    try:
        listed = _read_manifest(manifest)
        try:
            raw = files.read(work, agreed_mapping(container, funder, listed.file_type))
        except FileRefused as refused:
            raise InvalidInput.single("file", refused.rule, refused.message) from None
        report = load_feed(LoadFeed(funder, work.name, files.content_hash(work), listed, raw,
                                    datetime.now(UTC).replace(tzinfo=None)), container.uow())
    except InvalidInput as exc:
        return {"status": "refused", "file_name": work.name, "rows": 0,
                "refusals": [[e.rule, e.message] for e in exc.errors]}, feeds.no_rejects(), \
            pl.DataFrame()
    return report.summary(), report.rejects, report.differences


def _file_away(claim: Path, folder: Path, name: str, outcome: _Outcome) -> dict[str, Any]:
    """The report, rejects and differences written, then the manifest and the file moved
    (the file last: present in done/ or refused/, its report is there too)."""
    summary, rejects, differences = outcome
    place = folder / (DONE if summary["status"] in ("applied", "repeat") else REFUSED)
    place.mkdir(exist_ok=True)
    final = _free_name(place, name)
    summary = {**summary, "funder": folder.name, "moved_to": str(place / final),
               "handled_at": datetime.now(UTC).replace(tzinfo=None).isoformat(
                   timespec="seconds"),
               "rejects_file": str(place / (final + ".rejects.csv")) if rejects.height
               else None, "differences_file": str(place / (final + ".differences.csv"))
               if differences.height else None}
    if rejects.height:
        rejects.write_csv(place / (final + ".rejects.csv"))
    if differences.height:
        differences.write_csv(place / (final + ".differences.csv"))
    (place / (final + ".report.json")).write_text(
        json.dumps(summary, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    (claim / (name + _MANIFEST)).rename(place / (final + _MANIFEST))
    (claim / name).rename(place / final)
    claim.rmdir()
    return summary


def _free_name(place: Path, name: str) -> str:
    """``name``, or ``stem-2.csv``, ``stem-3.csv`` … when a file of that name was handled
    before (a funder may send a name again on another day)."""
    path, candidate, number = Path(name), name, 1
    while (place / candidate).exists() or (place / (candidate + ".report.json")).exists():
        number += 1
        candidate = f"{path.stem}-{number}{path.suffix}"
    return candidate


def _put_back(claim: Path, folder: Path) -> None:
    """A claimed file and its manifest back where they were, for a later look."""
    for path in claim.iterdir():
        path.rename(folder / path.name)
    claim.rmdir()
