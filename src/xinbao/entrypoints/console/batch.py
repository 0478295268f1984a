"""The console's batch pages (issue 21): the end-of-day snapshots (the days kept; a day's
totals, class × bucket table, aggregates by dimension and early-warning signals), the
classification overrides (listed; set and lifted by who may), and the funder files applied
(listed, each with its reconciliation report; uploaded and applied as ``xinbao feed load``
does).

Every read and write goes through the batch's and servicing's use cases, which authorize the
signed-in person and keep a funder's user to its own funder's files (another's is not
found); their refusals become pages (``entrypoints/api/app.py``). The snapshots are read from
the folder the end-of-day batch writes them to (``Container.snapshots``:
``XINBAO_SNAPSHOT_DIR``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

import polars as pl
from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from xinbao.batch import files, overrides
from xinbao.batch import queries as batch
from xinbao.batch.commands import LiftOverride, SetOverride
from xinbao.batch.feeds import ROW, FileType
from xinbao.batch.model import BUCKET_LABELS, CONCENTRATION_CODES, LEVELS, TIER_LABELS, Tier
from xinbao.batch.repository import FEED_FILE_SORTS, FeedFileFilter
from xinbao.catalogue import queries as catalogue
from xinbao.entrypoints.console import web
from xinbao.entrypoints.console.web import N_, Listing, RecordId, Signed
from xinbao.iam.model.security import Action, Forbidden
from xinbao.kernel.errors import InvalidInput
from xinbao.kernel.paging import Page
from xinbao.servicing.feeds import ACTIONS, FeedReport, LoadFeed, load_feed

#: Included in the console's router (``routes.py``), which adds the ``/console`` prefix.
router = APIRouter(include_in_schema=False)
#: The path the upload form posts a funder's file to, allowed the larger body of an upload
#: (``XINBAO_MAX_UPLOAD_BYTES``; ``api/app.py`` gives it to ``hardening.BodySizeLimit``).
UPLOADS = re.compile(r"/console/feeds")

#: What the pages call each of the five tiers (the snapshot keeps their Chinese labels).
TIER_NAMES = {Tier.NORMAL: N_("Normal"), Tier.SPECIAL_MENTION: N_("Special mention"),
              Tier.SUBSTANDARD: N_("Substandard"), Tier.DOUBTFUL: N_("Doubtful"),
              Tier.LOSS: N_("Loss")}
TIER_BADGES = {Tier.NORMAL: "good", Tier.SPECIAL_MENTION: "warn", Tier.SUBSTANDARD: "bad",
               Tier.DOUBTFUL: "bad", Tier.LOSS: "bad"}
#: The dimensions a day's aggregates are cut by (``batch.services.DIMENSIONS``).
DIMENSION_NAMES = {"product": N_("Product"), "funder": N_("Funder"), "region": N_("Region"),
                   "vintage": N_("Vintage")}
#: What each early-warning signal means (``batch.model``'s codes).
SIGNAL_NAMES = {
    "EW-FPD": N_("First-payment default"),
    "EW-ROLL": N_("Rolled to a worse bucket"),
    "EW-PARTIAL": N_("Repeated partial payments"),
    "EW-VINTAGE": N_("Vintage default rate above expectation"),
    CONCENTRATION_CODES["funder"]: N_("Concentration by funder"),
    CONCENTRATION_CODES["region"]: N_("Concentration by region"),
    CONCENTRATION_CODES["product"]: N_("Concentration by product"),
    CONCENTRATION_CODES["obligor"]: N_("Concentration by obligor"),
}
LEVEL_NAMES = {"low": N_("Low"), "medium": N_("Medium"), "high": N_("High")}
LEVEL_BADGES = {"low": "", "medium": "warn", "high": "bad"}
TYPE_NAMES = {FileType.DISBURSEMENTS: N_("Disbursements"),
              FileType.REPAYMENTS: N_("Repayments"), FileType.LOAN_STATUS: N_("Loan status"),
              FileType.EARLY_SETTLEMENTS: N_("Early settlements"),
              FileType.CLAIM_NOTICES: N_("Claim notices")}
#: Where a claim notice file's claims went (``claims.model.ClaimStatus`` values).
CLAIM_STATUS_NAMES = {"notified": N_("Notified"), "under_review": N_("Under review"),
                      "approved": N_("Approved"), "declined": N_("Declined")}
FEED_STATUS_NAMES = {"applied": N_("Applied"), "repeat": N_("Already applied"),
                     "refused": N_("Refused")}
FEED_BADGES = {"applied": "good", "repeat": "", "refused": "bad"}
#: The flash of each redirect after an override form (``?done=``).
DONE = {"set": N_("The override is recorded: the next end-of-day run classifies the loan "
                  "by it."),
        "lifted": N_("The override is lifted: from its date the rules classify the loan "
                     "again."),
        "same": N_("The loan's newest override already says this; nothing was added.")}
#: The most rejects of a refused file the page lists (the total is said).
SHOWN_REJECTS = 200
#: The largest manifest read (a few hundred bytes in practice).
_DAYS_PER_PAGE = 50
_SIGNALS_PER_PAGE = 50


def _tier_names(console: web.Console) -> dict[str, str]:
    """The tier's Chinese label (as the snapshot keeps it) → its name in the reader's
    language."""
    return {TIER_LABELS[t]: console.gettext(n) for t, n in TIER_NAMES.items()}


def _in_memory(items: list[Any], listing: Listing) -> Page[Any]:
    """A page of a list held in memory (a snapshot's rows, the days), in the order given."""
    request = listing.page_request()
    return Page(items[request.offset:request.offset + request.size], len(items), request)


# End of day ----------------------------------------------------------------------------------


@router.get("/eod", response_class=HTMLResponse)
def eod_days(console: Signed) -> Response:
    """The business days with an end-of-day snapshot, newest first (oldest first on
    request)."""
    listing = Listing.of(console.request, ("date",), default="date", descending=True,
                         size=_DAYS_PER_PAGE)
    days = batch.snapshot_days(console.uow(), console.container.snapshots)
    ordered = days if listing.descending else list(reversed(days))
    return console.render("batch/days.html", "eod", listing=listing,
                          result=_in_memory(ordered, listing),
                          may_override=console.may(Action.CLASSIFICATION_OVERRIDE))


@dataclass(frozen=True, slots=True)
class Totals:
    loans: int
    overdue: int  # loans past due (any bucket but M0)
    outstanding_fen: int
    overdue_fen: int  # overdue principal and interest
    exposure_fen: int


def _totals(aggregates: pl.DataFrame) -> tuple[Totals, dict[tuple[str, str], int]]:
    """The day's totals and loans by (class, bucket), from one dimension's aggregates (each
    dimension cuts every loan once)."""
    one = aggregates.filter(pl.col("dimension") == "product").with_columns(
        pl.col("tier_label").cast(pl.String), pl.col("bucket").cast(pl.String))
    cells = {(str(r["tier_label"]), str(r["bucket"])): int(r["loans"]) for r in
             one.group_by("tier_label", "bucket").agg(pl.col("loans").sum())
             .iter_rows(named=True)}

    def total(column: str, where: pl.Expr | None = None) -> int:
        rows = one if where is None else one.filter(where)
        return int(rows[column].sum() or 0)

    return Totals(
        loans=total("loans"), overdue=total("loans", pl.col("bucket") != BUCKET_LABELS[0]),
        outstanding_fen=total("outstanding_principal_fen"),
        overdue_fen=total("overdue_principal_fen") + total("overdue_interest_fen"),
        exposure_fen=total("exposure_fen")), cells


def _by_dimension(aggregates: pl.DataFrame, dimension: str) -> list[dict[str, Any]]:
    """The aggregates of one dimension by its keys (every class and bucket summed), with
    the loans past due."""
    rows = aggregates.filter(pl.col("dimension") == dimension).with_columns(
        pl.col("bucket").cast(pl.String))
    return (rows.group_by("key")
            .agg(pl.col("loans").sum(),
                 pl.col("loans").filter(pl.col("bucket") != BUCKET_LABELS[0]).sum()
                 .alias("overdue"),
                 pl.col("outstanding_principal_fen").sum(),
                 (pl.col("overdue_principal_fen") + pl.col("overdue_interest_fen")).sum()
                 .alias("overdue_fen"),
                 pl.col("exposure_fen").sum())
            .sort("key").to_dicts())


def _iso_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput.single("date", "date.format", "a date as YYYY-MM-DD") from None


@router.get("/eod/overrides", response_class=HTMLResponse)
def override_list(console: Signed, loan: str | None = None,
                  done: str | None = None) -> Response:
    """The classification overrides set and lifted (of one loan, or all), newest first;
    the forms to set or lift one for who may."""
    loan_id = int(loan) if loan and loan.isdigit() and len(loan) < 19 else None
    listing = Listing.of(console.request, ("id",), default="id", descending=True)
    rows = overrides.list_overrides(console.uow(), loan_id)
    ordered = list(reversed(rows)) if listing.descending else rows
    return console.render(
        "batch/overrides.html", "eod", listing=listing, result=_in_memory(ordered, listing),
        loan=loan_id, tiers=[(int(t), t.label, console.gettext(TIER_NAMES[t])) for t in Tier],
        tier_names=_tier_names(console), today=web.today(),
        notice=console.gettext(DONE[done]) if done in DONE else None,
        may_override=console.may(Action.CLASSIFICATION_OVERRIDE))


def _loan_id(text: str) -> int:
    digits = text.strip()
    if not digits.isdigit() or len(digits) > 18 or int(digits) < 1:
        raise InvalidInput.single("loan_id", "override.loan", "a loan's id: a number")
    return int(digits)


def _tier(text: str) -> int:
    """The tier chosen (1–5); anything else is left for the use case to refuse (0)."""
    return int(text) if text.strip().isdigit() and len(text.strip()) < 3 else 0


def _overridden(loan_id: int, added: bool, what: str) -> Response:
    return RedirectResponse(f"/console/eod/overrides?loan={loan_id}&done="
                            f"{what if added else 'same'}", status_code=303)


@router.post("/eod/overrides")
def set_override(console: Signed, csrf_token: Annotated[str, Form(max_length=100)],
                 loan_id: Annotated[str, Form(max_length=20)],
                 tier: Annotated[str, Form(max_length=4)],
                 reason: Annotated[str, Form(max_length=400)],
                 effective_from: Annotated[str, Form(max_length=10)]) -> Response:
    """Classify a loan in a tier by hand from a date, with a reason."""
    console.check_csrf(csrf_token)
    loan = _loan_id(loan_id)
    done = overrides.set_override(
        SetOverride(loan, _tier(tier), reason, web.form_date("effective_from", effective_from)),
        console.uow(), now=web.now())
    return _overridden(loan, done.added, "set")


@router.post("/eod/overrides/lift")
def lift_override(console: Signed, csrf_token: Annotated[str, Form(max_length=100)],
                  loan_id: Annotated[str, Form(max_length=20)],
                  reason: Annotated[str, Form(max_length=400)],
                  effective_from: Annotated[str, Form(max_length=10)]) -> Response:
    """Let the rules classify the loan again from a date."""
    console.check_csrf(csrf_token)
    loan = _loan_id(loan_id)
    done = overrides.lift_override(
        LiftOverride(loan, reason, web.form_date("effective_from", effective_from)),
        console.uow(), now=web.now())
    return _overridden(loan, done.added, "lifted")


@router.get("/eod/{day}", response_class=HTMLResponse)
def eod_day(console: Signed, day: str, dimension: str = "product", code: str | None = None,
            level: str | None = None) -> Response:
    """A day's snapshot: its totals, loans by class and bucket, the aggregates of one
    dimension, and its early-warning signals (filtered by code and level, a page at a
    time); a day with no snapshot is not found."""
    on = _iso_day(day)
    view = batch.day_snapshot(console.uow(), console.container.snapshots, on)
    totals, cells = _totals(view.aggregates)
    dimension = dimension if dimension in DIMENSION_NAMES else "product"
    signals = view.signals.with_columns(pl.col("level").cast(pl.String))
    codes = sorted(set(SIGNAL_NAMES) | set(signals["code"].unique().to_list()))
    if code in codes:
        signals = signals.filter(pl.col("code") == code)
    if level in LEVELS:
        signals = signals.filter(pl.col("level") == level)
    listing = Listing.of(console.request, ("code",), default="code", descending=False,
                         size=_SIGNALS_PER_PAGE)
    rows = signals.to_dicts()
    if listing.descending:
        rows.reverse()
    _ = console.gettext
    return console.render(
        "batch/day.html", "eod", on=on, totals=totals, cells=cells,
        tiers=[(t.label, _(TIER_NAMES[t]), TIER_BADGES[t]) for t in Tier],
        buckets=BUCKET_LABELS, dimension=dimension,
        dimensions={d: _(n) for d, n in DIMENSION_NAMES.items()},
        by_dimension=_by_dimension(view.aggregates, dimension),
        listing=listing, result=_in_memory(rows, listing),
        codes=[(c, _(SIGNAL_NAMES[c]) if c in SIGNAL_NAMES else c) for c in codes],
        signal_names={c: _(n) for c, n in SIGNAL_NAMES.items()},
        levels=[(v, _(LEVEL_NAMES[v])) for v in LEVELS], level_badges=LEVEL_BADGES,
        level_names={v: _(n) for v, n in LEVEL_NAMES.items()},
        filters={"code": code if code in codes else None,
                 "level": level if level in LEVELS else None})


# Funder files --------------------------------------------------------------------------------


def _funders(console: web.Console) -> dict[int, str]:
    """The funders the person may see, id → code (a funder's user: its own)."""
    try:
        views = catalogue.list_funders(console.uow())
    except Forbidden:
        return {}
    return {v.funder.id: v.funder.code for v in views
            if v.funder.id is not None and console.session.principal.sees_funder(v.funder.id)}


def _may_upload(console: web.Console) -> list[FileType]:
    """The file types the person may apply (a disbursement file issues policies)."""
    return [t for t in FileType if console.may(ACTIONS[t])]


def _feed_names(console: web.Console) -> dict[str, Any]:
    _ = console.gettext
    return {"types": {t.value: _(n) for t, n in TYPE_NAMES.items()},
            "statuses": {s: _(n) for s, n in FEED_STATUS_NAMES.items()},
            "badges": FEED_BADGES}


@router.get("/feeds", response_class=HTMLResponse)
def feed_list(console: Signed, funder: str | None = None,
              type: str | None = None) -> Response:  # noqa: A002 - the filter's name
    """The funder files applied, filtered by funder and type, a page at a time; the form to
    upload one for who may apply files."""
    listing = Listing.of(console.request, FEED_FILE_SORTS, default="id", descending=True)
    where = FeedFileFilter(
        funder_id=int(funder) if funder and funder.isdigit() and len(funder) < 19 else None,
        file_type=type if type in set(FileType) else None)
    result = batch.feed_files(console.uow(), where, listing.page_request())
    return console.render("batch/feeds.html", "feeds", listing=listing, result=result,
                          filters=where, funders=_funders(console),
                          upload_types=_may_upload(console), **_feed_names(console))


@router.get("/feeds/{file_id}", response_class=HTMLResponse)
def feed_page(console: Signed, file_id: RecordId) -> Response:
    """A file applied: what it was, and its reconciliation report."""
    entry = batch.feed_file(console.uow(), file_id)
    return console.render("batch/feed.html", "feeds", entry=entry, feed=entry.file,
                          report=entry.file.report, **_feed_names(console))


@router.post("/feeds", response_class=HTMLResponse)
def upload_feed(console: Signed, csrf_token: Annotated[str, Form(max_length=100)],
                funder: Annotated[str, Form(max_length=40)],
                file_type: Annotated[str, Form(max_length=40)],
                file: Annotated[UploadFile, File()],
                manifest: Annotated[UploadFile, File()]) -> Response:
    """Check an uploaded funder's file against its manifest, its schema and the loans, and
    apply it whole or not at all (``servicing.feeds.load_feed``), read with the funder's
    column names as its agreement in force keeps them; the page shows its report (a file
    refused: 422, with its rejects)."""
    console.check_csrf(csrf_token)
    if file_type not in set(FileType):
        raise InvalidInput.single("type", "feed.type", "a file type is one of " + ", ".join(
            t.value for t in FileType))
    kind = FileType(file_type)
    listed = files.manifest_of(manifest.file)
    if listed.file_type is not kind:
        raise InvalidInput.single("manifest", "feed.manifest",
                                  f"the manifest is for {listed.file_type.value} files")
    code = funder.strip()
    current = catalogue.get_funder(console.uow(), code).current  # 404: not the person's
    mapping = current.mapping_for(kind.value) if current is not None else {}
    name = files.upload_name(file.filename)
    raw, digest = files.read_upload(file.file, name, mapping)
    report = load_feed(LoadFeed(code, name, digest, listed, raw, web.now()), console.uow())
    return console.render("batch/report.html", "feeds",
                          status_code=422 if report.status == "refused" else 200,
                          funder=code, kind=kind.value, report=report,
                          rejects=_rejects(report), rejected_rows=_rejected_rows(report),
                          claims=report.claims.head(SHOWN_REJECTS).rename({ROW: "row"})
                          .to_dicts() if report.claims.height else [],
                          claim_statuses={k: console.gettext(n)
                                          for k, n in CLAIM_STATUS_NAMES.items()},
                          **_feed_names(console))


def _rejects(report: FeedReport) -> list[dict[str, Any]]:
    return report.rejects.head(SHOWN_REJECTS).rename({ROW: "row"}).to_dicts()


def _rejected_rows(report: FeedReport) -> int:
    return int(report.rejects[ROW].n_unique()) if report.rejects.height else 0


