"""The funder's files checked as columns (issue 21): one documented schema per file type,
the manifest checked before anything else, and every row validated by vectorized rules (no
Python loop a row), each reject with its row, column, rule and message. Reading the files
(a funder's own column names mapped onto the schema) is ``batch.files``'s.

A file is accepted whole or not at all: ``check`` returns the typed rows and the rejects; a
file with any reject, or a manifest that does not match, is refused as a whole by whoever
applies it. Amounts are sent in yuan with at most two decimals and become integer fen here,
exactly (never through a float).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

import polars as pl


class FileType(StrEnum):
    DISBURSEMENTS = "disbursements"
    REPAYMENTS = "repayments"
    LOAN_STATUS = "loan_status"
    EARLY_SETTLEMENTS = "early_settlements"
    CLAIM_NOTICES = "claim_notices"


class Kind(StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    DATE = "date"  # YYYY-MM-DD
    YUAN = "yuan"  # a non-negative amount with at most two decimals


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: Kind
    required: bool = True
    meaning: str = ""


#: Each file type's columns (the documented schema; ``xinbao feed columns`` prints them).
SCHEMAS: dict[FileType, tuple[Column, ...]] = {
    FileType.DISBURSEMENTS: (
        Column("contract_no", Kind.TEXT, meaning="the funder's loan contract number"),
        Column("application_ref", Kind.TEXT, meaning="the funder's application number"),
        Column("disbursed_on", Kind.DATE, meaning="the day the loan was paid out"),
        Column("principal", Kind.YUAN, meaning="the amount lent"),
        Column("term_months", Kind.INTEGER, meaning="the loan's term, 1 to 360 months"),
        Column("reference", Kind.TEXT, meaning="the funder's transaction number")),
    FileType.REPAYMENTS: (
        Column("contract_no", Kind.TEXT, meaning="the funder's loan contract number"),
        Column("installment_number", Kind.INTEGER, meaning="which installment, from 1"),
        Column("paid_on", Kind.DATE, meaning="the day the borrower paid"),
        Column("principal", Kind.YUAN, meaning="principal repaid"),
        Column("interest", Kind.YUAN, meaning="interest repaid"),
        Column("premium", Kind.YUAN, required=False,
               meaning="installment premium and its VAT paid with it (empty: none)"),
        Column("reference", Kind.TEXT, meaning="the funder's transaction number")),
    FileType.LOAN_STATUS: (
        Column("contract_no", Kind.TEXT, meaning="the funder's loan contract number"),
        Column("as_of", Kind.DATE, meaning="the day the status is as of"),
        Column("status", Kind.TEXT, meaning="active, paid_off, restructured or written_off"),
        Column("outstanding_principal", Kind.YUAN, meaning="principal still owed"),
        Column("days_past_due", Kind.INTEGER, meaning="the funder's own count")),
    FileType.EARLY_SETTLEMENTS: (
        Column("contract_no", Kind.TEXT, meaning="the funder's loan contract number"),
        Column("settled_on", Kind.DATE, meaning="the day the loan was repaid in full"),
        Column("principal", Kind.YUAN, meaning="principal repaid to settle"),
        Column("interest", Kind.YUAN, meaning="interest charged for the current period"),
        Column("reference", Kind.TEXT, meaning="the funder's transaction number")),
    FileType.CLAIM_NOTICES: (
        Column("contract_no", Kind.TEXT, meaning="the funder's loan contract number"),
        Column("reference", Kind.TEXT, meaning="the funder's own number of the notice"),
        Column("notified_on", Kind.DATE, meaning="the day the funder gave notice"),
        Column("claimed", Kind.YUAN, required=False,
               meaning="a partial claim's ask (empty: all that is owed)"),
        Column("document", Kind.TEXT, required=False,
               meaning="a document the notice comes with, by the funder's reference"),
        Column("document_sha256", Kind.TEXT, required=False,
               meaning="that document's SHA-256, 64 hexadecimal digits")),
}
#: The columns that make a row's key: a row with a key seen before is the same row.
ROW_KEYS: dict[FileType, tuple[str, ...]] = {
    FileType.DISBURSEMENTS: ("contract_no",),
    FileType.REPAYMENTS: ("contract_no", "reference"),
    FileType.LOAN_STATUS: ("contract_no", "as_of"),
    FileType.EARLY_SETTLEMENTS: ("contract_no", "reference"),
    FileType.CLAIM_NOTICES: ("reference",),  # a notice's number is the funder's, once
}
#: The date column each type's rows happen on (none after the file's business date).
EVENT_DATES = {FileType.DISBURSEMENTS: "disbursed_on", FileType.REPAYMENTS: "paid_on",
               FileType.LOAN_STATUS: "as_of", FileType.EARLY_SETTLEMENTS: "settled_on",
               FileType.CLAIM_NOTICES: "notified_on"}
STATUSES = ("active", "paid_off", "restructured", "written_off")
_YUAN = r"^[0-9]{1,13}(\.[0-9]{1,2})?$"  # ASCII digits only: \d would take full-width ones
_INTEGER = r"^[0-9]{1,9}$"
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
MAX_TEXT = 64
ROW = "_row"  # the row's number in the file, from 1 (after a CSV's header)


@dataclass(frozen=True, slots=True)
class Manifest:
    """What the funder says the file holds: checked before any row is."""

    file_type: FileType
    funder: str
    business_date: date
    rows: int
    totals: dict[str, int] = field(default_factory=dict)  # yuan column -> sum in fen

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Manifest:
        """A manifest as JSON gives it: ``type``, ``funder``, ``business_date``, ``rows`` and
        ``totals`` (each yuan column's sum, in yuan as a string: exact)."""
        return cls(FileType(data["type"]), str(data["funder"]),
                   date.fromisoformat(data["business_date"]), int(data["rows"]),
                   {k: yuan_to_fen(str(v)) for k, v in data.get("totals", {}).items()})


@dataclass(frozen=True, slots=True)
class Checked:
    """A file's rows typed (``rows``), its rejects (``rejects``: row, column, rule,
    message), and what is wrong with the file as a whole (``refusals``: rule, message)."""

    rows: pl.DataFrame
    rejects: pl.DataFrame
    refusals: tuple[tuple[str, str], ...]

    @property
    def accepted(self) -> bool:
        return not self.refusals and self.rejects.is_empty()


def yuan_to_fen(text: str) -> int:
    """An amount in yuan with at most two decimals, as fen (ValueError otherwise)."""
    if not re.fullmatch(r"-?[0-9]+(\.[0-9]{1,2})?", text.strip()):
        raise ValueError(f"not an amount in yuan with at most two decimals: {text!r}")
    whole, _, cents = text.strip().lstrip("-").partition(".")
    fen = int(whole) * 100 + int(cents.ljust(2, "0") or 0)
    return -fen if text.strip().startswith("-") else fen


def check(raw: pl.DataFrame, manifest: Manifest, loans: pl.DataFrame) -> Checked:
    """The file's rows against its manifest, its schema and the funder's loans (``loans``:
    ``contract_no``, ``loan_id``, ``start_date``, ``term_months``, ``status``; only that
    funder's)."""
    schema = SCHEMAS[manifest.file_type]
    refusals = _file_refusals(raw, manifest, schema)
    if refusals:
        return Checked(pl.DataFrame(), no_rejects(), tuple(refusals))
    frame = raw.with_columns(pl.lit(None, dtype=pl.String).alias(c.name) for c in schema
                             if c.name not in raw.columns)
    frame = frame.with_columns(pl.col(c.name).str.strip_chars() for c in schema)
    rules = [*_format_rules(schema), *_business_rules(manifest)]
    typed = _typed(frame, schema).join(
        loans.select("contract_no", "loan_id", "start_date", "term_months",
                     pl.col("status").alias("loan_status")),
        on="contract_no", how="left")
    rejects = _rejects(typed, rules)
    refusals = _manifest_totals(typed, manifest, schema)
    return Checked(typed.drop("start_date", "term_months", "loan_status"), rejects,
                   tuple(refusals))


def _file_refusals(raw: pl.DataFrame, manifest: Manifest,
                   schema: tuple[Column, ...]) -> list[tuple[str, str]]:
    names = {c.name for c in schema}
    found = set(raw.columns) - {ROW}
    refusals = []
    if unknown := sorted(found - names):
        refusals.append(("feed.columns", f"unknown columns {', '.join(unknown)}"))
    if missing := sorted(c.name for c in schema if c.required and c.name not in found):
        refusals.append(("feed.columns", f"missing columns {', '.join(missing)}"))
    if raw.height != manifest.rows:
        refusals.append(("manifest.rows", f"the manifest says {manifest.rows} rows, the file "
                                          f"has {raw.height}"))
    return refusals


def _manifest_totals(typed: pl.DataFrame, manifest: Manifest,
                     schema: tuple[Column, ...]) -> list[tuple[str, str]]:
    refusals = []
    for c in schema:
        if c.kind is Kind.YUAN and c.name in manifest.totals:
            total = int(typed[f"{c.name}_fen"].sum() or 0)
            if total != manifest.totals[c.name]:
                refusals.append(("manifest.totals", f"{c.name}: the manifest says "
                                 f"{manifest.totals[c.name]} fen, the rows sum to {total}"))
    return refusals


#: A rule: (column, rule code, message, expression true where a row breaks it).
Rule = tuple[str, str, str, pl.Expr]


def _format_rules(schema: tuple[Column, ...]) -> list[Rule]:
    rules: list[Rule] = []
    for c in schema:
        value = pl.col(c.name)
        empty = value.is_null() | (value == "")
        if c.required:
            rules.append((c.name, "feed.required", "a value is required", empty))
        pattern = {Kind.YUAN: (_YUAN, "feed.amount", "a non-negative amount in yuan with at "
                               "most two decimals"),
                   Kind.INTEGER: (_INTEGER, "feed.integer", "a whole number"),
                   Kind.DATE: (_DATE, "feed.date", "a date as YYYY-MM-DD"),
                   Kind.TEXT: (rf"^[^\x00-\x1f]{{1,{MAX_TEXT}}}$", "feed.text",
                               f"1 to {MAX_TEXT} characters, no control characters")}[c.kind]
        rules.append((c.name, pattern[1], pattern[2],
                      ~empty & ~value.str.contains(pattern[0]).fill_null(False)))
        if c.kind is Kind.DATE:
            rules.append((c.name, "feed.date", "no such day", ~empty & value.str.contains(
                _DATE).fill_null(False) & pl.col(f"{c.name}_date").is_null()))
    return rules


def _business_rules(manifest: Manifest) -> list[Rule]:
    kind = manifest.file_type
    event = EVENT_DATES[kind]
    rules: list[Rule] = [
        ("contract_no", "feed.contract", "no loan of this funder has this contract number",
         pl.col("contract_no").is_not_null() & pl.col("loan_id").is_null()
         & (pl.lit(kind) != FileType.DISBURSEMENTS.value)),
        (event, "feed.after_business_date", "after the file's business date",
         pl.col(f"{event}_date") > manifest.business_date),
        (event, "feed.before_disbursement", "before the loan was disbursed",
         pl.col(f"{event}_date") < pl.col("start_date")),
        ("+".join(ROW_KEYS[kind]), "feed.duplicate", "the same row key twice in the file",
         (pl.len().over(ROW_KEYS[kind]) > 1) & pl.all_horizontal(
             pl.col(k).is_not_null() for k in ROW_KEYS[kind])),
    ]
    if kind is FileType.REPAYMENTS:
        rules += [
            ("installment_number", "feed.installment", "outside the loan's installments",
             (pl.col("installment_number_int") < 1)
             | (pl.col("installment_number_int") > pl.col("term_months"))),
            ("principal", "feed.nothing_paid", "a repayment repays something",
             (pl.col("principal_fen") == 0) & (pl.col("interest_fen") == 0)),
            ("contract_no", "feed.loan_state", "the loan is no longer being repaid",
             pl.col("loan_status").is_not_null() & (pl.col("loan_status") != "active")),
        ]
    if kind is FileType.LOAN_STATUS:
        rules.append(("status", "feed.status", f"one of {', '.join(STATUSES)}",
                      pl.col("status").is_not_null() & ~pl.col("status").is_in(STATUSES)))
    if kind is FileType.CLAIM_NOTICES:
        given = {c: pl.col(c).is_not_null() & (pl.col(c) != "")
                 for c in ("claimed", "document", "document_sha256")}
        rules += [
            ("claimed", "claim.claimed_amount", "a partial claim asks for a positive amount",
             given["claimed"] & (pl.col("claimed_fen") == 0)),
            ("document_sha256", "claim.document_hash",
             "a document's SHA-256 is 64 hexadecimal digits",
             given["document_sha256"]
             & ~pl.col("document_sha256").str.contains("^[0-9a-fA-F]{64}$").fill_null(False)),
            ("document", "claim.document", "a document comes with its SHA-256, and a SHA-256 "
             "with its document", given["document"] != given["document_sha256"]),
        ]
    if kind is FileType.DISBURSEMENTS:
        rules.append(("term_months", "feed.term", "1 to 360 months",
                      (pl.col("term_months_int") < 1) | (pl.col("term_months_int") > 360)))
    return rules


def _typed(frame: pl.DataFrame, schema: tuple[Column, ...]) -> pl.DataFrame:
    """Each column as its kind (null where it cannot be read): ``<name>_fen`` for yuan,
    ``<name>_int`` for integers, ``<name>_date`` for dates; text kept."""
    out = []
    for c in schema:
        value = pl.col(c.name)
        if c.kind is Kind.YUAN:
            ok = value.str.contains(_YUAN).fill_null(False)
            # Split at the point (a value the pattern took has one at most): a third of
            # the time of two regular-expression extractions.
            parts = value.str.split_exact(".", 1)
            whole = parts.struct.field("field_0").cast(pl.Int64, strict=False)
            cents = parts.struct.field("field_1").fill_null("").str.pad_end(2, "0")
            fen = whole * 100 + cents.cast(pl.Int64, strict=False).fill_null(0)
            default = 0 if not c.required else None
            out.append(pl.when(ok).then(fen).otherwise(
                pl.when(value.is_null() | (value == "")).then(default)).alias(f"{c.name}_fen"))
        elif c.kind is Kind.INTEGER:
            out.append(value.cast(pl.Int64, strict=False).alias(f"{c.name}_int"))
        elif c.kind is Kind.DATE:
            out.append(value.str.to_date("%Y-%m-%d", strict=False).alias(f"{c.name}_date"))
    return frame.with_columns(out)


def _rejects(typed: pl.DataFrame, rules: list[Rule]) -> pl.DataFrame:
    """One row a broken rule: the row's number, the column, the rule and its message."""
    checked = typed.with_columns(
        expr.fill_null(False).alias(f"_bad{i}") for i, (_, _, _, expr) in enumerate(rules))
    parts = [checked.filter(pl.col(f"_bad{i}")).select(
        ROW, pl.lit(column).alias("column"), pl.lit(rule).alias("rule"),
        pl.lit(message).alias("message"))
        for i, (column, rule, message, _) in enumerate(rules)]
    return pl.concat(parts).sort(ROW, "column", "rule") if parts else no_rejects()


def no_rejects() -> pl.DataFrame:
    """An empty frame of rejects."""
    return pl.DataFrame(schema={ROW: pl.Int64, "column": pl.String, "rule": pl.String,
                                "message": pl.String})
