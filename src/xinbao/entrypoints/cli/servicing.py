"""``xinbao loans|repayments|eod``: a loan's schedule and position, the funder's repayment
file, and the end-of-day batch.

A repayment file is CSV (with a header row) or JSON lines, one record a row:

======================  ===============================================================
column                  meaning
======================  ===============================================================
``type``                ``repayment`` (the default when empty or absent),
                        ``prepayment`` (the whole loan repaid early) or
                        ``partial_prepayment`` (part of its principal repaid early)
``contract_no``         the funder's loan contract number
``installment_number``  which installment a repayment pays (repayments only)
``paid_on``             YYYY-MM-DD
``principal``           principal repaid, yuan with at most two decimals (repayments
                        and partial prepayments)
``interest``            interest repaid, yuan (for a prepayment: the current period's)
``premium``             installment premium and its VAT paid with it, yuan (optional, 0)
``reference``           the funder's transaction number: a row seen before is ignored
======================  ===============================================================

The file is one transaction: every good row is recorded (repayments first, then partial
prepayments, then prepayments), every bad row refused alone with its line, field and rule
(exit 2 if any).
"""

from __future__ import annotations

import contextlib
import csv
import json
from collections.abc import Iterator, Mapping
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress
from rich.table import Table

from xinbao.batch import overrides
from xinbao.batch import services as batch
from xinbao.batch.commands import LiftOverride, SetOverride
from xinbao.batch.engines import DaskEngine, Engine, LocalEngine
from xinbao.batch.model import BUCKET_LABELS, TIER_LABELS, Tier
from xinbao.batch.repository import Override
from xinbao.entrypoints.api.schemas.servicing import EndOfDayOut, LoanOut
from xinbao.entrypoints.cli.common import (
    DatabaseUrl,
    JsonOption,
    UserOption,
    business_date,
    container_for,
    emit_json,
    err,
    file_lines,
    out,
    parse_field,
    use_case,
    utc_now,
)
from xinbao.kernel.errors import FieldError, InvalidInput, NotFound
from xinbao.kernel.money import Money, format_yuan
from xinbao.loans.model import paid_by_installment
from xinbao.servicing import queries as servicing_queries
from xinbao.servicing import services as servicing
from xinbao.servicing.commands import (
    IngestRepaymentFile,
    PartialPrepaymentRecord,
    PrepaymentRecord,
    RecordMissedInstallment,
    RepaymentRecord,
    RunEndOfDay,
)

loans_app = typer.Typer(help="Loans: schedule, repayments and days past due.",
                        no_args_is_help=True)
repayments_app = typer.Typer(help="The funders' repayment files.", no_args_is_help=True)
eod_app = typer.Typer(help="The end-of-day batch.", no_args_is_help=True)

#: The columns a repayment file may have (any other is refused).
COLUMNS = frozenset({"type", "contract_no", "installment_number", "paid_on", "principal",
                     "interest", "premium", "reference"})


@loans_app.command("show")
def loans_show(
    loan_id: Annotated[int, typer.Argument(help="Loan id (a policy's loan).", min=1)],
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Position on this date (default today).")] = None,
    as_json: JsonOption = False,
    user: UserOption = None,
    database_url: DatabaseUrl = None,
) -> None:
    """The schedule with what was paid on each installment, the repayments, and the
    position on a date: days past due, overdue and outstanding amounts."""
    container = container_for(database_url, user=user)
    with use_case():
        view = servicing_queries.get_loan(container.uow(), loan_id, as_of=business_date(as_of))
    if as_json:
        emit_json({**LoanOut.of(view).model_dump(mode="json"), "repayments": [
            {"installment_number": r.installment_number, "paid_on": r.paid_on.isoformat(),
             "principal_fen": r.principal_fen, "interest_fen": r.interest_fen}
            for r in view.repayments]})
        return
    loan, pos = view.loan, view.position
    paid = paid_by_installment(view.repayments)
    table = Table("#", "due", "principal", "interest", "paid principal", "paid interest", "",
                  title=f"Loan {loan.id} ({loan.contract_no}): "
                        f"{format_yuan(loan.principal_fen)} yuan at {loan.annual_rate} over "
                        f"{loan.term_months} months, {loan.method.value}, {loan.status.value}")
    for i in loan.installments:
        p_paid, i_paid = paid.get(i.number, (0, 0))
        settled = p_paid >= i.principal_fen and i_paid >= i.interest_fen
        state = ("paid" if settled else "[red]overdue[/]" if i.due_date < pos.as_of
                 else "due")
        table.add_row(str(i.number), str(i.due_date), format_yuan(i.principal_fen),
                      format_yuan(i.interest_fen), format_yuan(p_paid), format_yuan(i_paid),
                      state)
    out.print(table)
    out.print(f"On {pos.as_of}: {pos.days_past_due} days past due; overdue "
              f"{format_yuan(pos.overdue_principal_fen)} principal and "
              f"{format_yuan(pos.overdue_interest_fen)} interest; outstanding principal "
              f"{format_yuan(pos.outstanding_principal_fen)} yuan"
              + ("; paid off." if pos.paid_off else "."))


@loans_app.command("missed")
def loans_missed(
    loan_id: Annotated[int, typer.Argument(help="Loan id.", min=1)],
    installment: Annotated[int, typer.Option(help="The installment not paid.", min=1)],
    on: Annotated[str | None, typer.Option(
        "--on", help="The day the funder reports it (after its due date; default today).")]
    = None,
    as_json: JsonOption = False,
    user: UserOption = None,
    database_url: DatabaseUrl = None,
) -> None:
    """The funder reports an installment unpaid after its due date: kept as an
    ``InstallmentMissed`` record with the days past due (the batch counts them anyway)."""
    container = container_for(database_url, user=user)
    with use_case():
        event = servicing.record_missed_installment(RecordMissedInstallment(
            loan_id, installment, business_date(on)), container.uow())
    if as_json:
        emit_json({"name": event.name, "loan_id": event.aggregate_id, "on": event.on.isoformat(),
                   **event.data})
        return
    out.print(f"Installment {installment} of loan {loan_id} reported missed on {event.on}: "
              f"{event.data['days_past_due']} days past its due date, the loan "
              f"{event.data['loan_days_past_due']} days past due.")


@repayments_app.command("load")
def repayments_load(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False,
                                         help="The funder's file, CSV or JSON lines.")],
    funder: Annotated[str, typer.Option(help="Code of the funder that sent the file.")],
    file_reference: Annotated[str | None, typer.Option(
        help="The funder's name for the file (default: the file's name).")] = None,
    received_on: Annotated[str | None, typer.Option(
        help="Business date the file was received (default today).")] = None,
    file_format: Annotated[str | None, typer.Option(
        "--format", help="csv or jsonl (default: from the file's extension).")] = None,
    as_json: JsonOption = False,
    user: UserOption = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Record a funder's repayment file: repayments by installment and early settlements
    (see the columns in ``xinbao repayments columns``); one transaction, each bad row
    refused alone."""
    received = business_date(received_on)
    kind = (file_format or {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl",
                            ".json": "jsonl"}.get(path.suffix.lower(), "")).lower()
    if kind not in ("csv", "jsonl"):
        err.print("[bold red]Refused[/]: --format is csv or jsonl (the file's extension "
                  "does not say which).")
        raise typer.Exit(2)
    repayments: list[tuple[int, RepaymentRecord]] = []
    partials: list[tuple[int, PartialPrepaymentRecord]] = []
    prepayments: list[tuple[int, PrepaymentRecord]] = []
    refused: list[dict[str, Any]] = []
    for line, row in _rows(path, kind, refused):
        try:
            record = _record(row)
        except InvalidInput as exc:
            refused.append(_refusal(line, str(row.get("reference") or ""), exc))
            continue
        if isinstance(record, RepaymentRecord):
            repayments.append((line, record))
        elif isinstance(record, PartialPrepaymentRecord):
            partials.append((line, record))
        else:
            prepayments.append((line, record))
    container = container_for(database_url, user=user)
    with use_case():
        result = servicing.ingest_repayment_file(IngestRepaymentFile(
            funder_code=funder, file_reference=file_reference or path.name,
            received_on=received, records=tuple(r for _, r in repayments),
            prepayments=tuple(p for _, p in prepayments),
            partial_prepayments=tuple(p for _, p in partials)), container.uow())
    lines = [n for n, _ in repayments] + [n for n, _ in partials] + [n for n, _ in prepayments]
    for r in result.rejected:
        refused.append(_refusal(lines[r.index], r.reference, r.error))
    refused.sort(key=lambda item: item["line"])
    if as_json:
        emit_json({"repayments_recorded": result.accepted, "prepayments_settled":
                   result.prepaid, "partial_prepayments": result.prepaid_in_part,
                   "repeats_ignored": result.repeated,
                   "premium_collected_fen": result.premium_collected_fen,
                   "premium_refunded_fen": result.premium_refunded_fen, "refused": refused})
    else:
        out.print(f"{result.accepted:,} repayments recorded, {result.prepaid_in_part:,} "
                  f"partial prepayments, {result.prepaid:,} loans settled "
                  f"early, {result.repeated:,} repeats ignored, {len(refused):,} rows refused; "
                  f"premium collected {format_yuan(result.premium_collected_fen)} yuan, "
                  f"refunded {format_yuan(result.premium_refunded_fen)} yuan.")
        for item in refused:
            reasons = "; ".join(f"{e['field']}: {e['message']} [{e['rule']}]"
                                for e in item["errors"])
            err.print(f"  line {item['line']} ({item['reference']}): {reasons}", markup=False)
    if refused:
        raise typer.Exit(2)


@repayments_app.command("columns")
def repayments_columns() -> None:
    """The columns of a repayment file and what each means."""
    out.print(__doc__.split("\n\n", 1)[1].strip() if __doc__ else "", markup=False)


def _lines(path: Path, refused: list[dict[str, Any]]) -> Iterator[tuple[int, str]]:
    """(line number, text) of each non-blank line; a line that is not UTF-8 is refused with
    its number like any bad line."""
    for number, text in file_lines(path):
        if isinstance(text, UnicodeDecodeError):
            refused.append(_refusal(number, "", InvalidInput.single(
                "line", "file.encoding", f"not UTF-8 text (byte {text.start + 1})")))
            continue
        yield number, text


def _rows(path: Path, kind: str, refused: list[dict[str, Any]],
          ) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """(line number, row) for each data row; unreadable rows go to ``refused``."""
    lines = _lines(path, refused)
    if kind == "csv":
        first = next(lines, None)
        if first is None:
            return
        header = [name.strip() for name in next(csv.reader([first[1]]))]
        unknown = set(header) - COLUMNS
        if unknown:
            refused.append(_refusal(first[0], "", InvalidInput.single(
                "header", "file.columns", f"unknown columns {', '.join(sorted(unknown))}; "
                f"a file has {', '.join(sorted(COLUMNS))}")))
            return
        for number, text in lines:
            values = next(csv.reader([text]))
            if len(values) > len(header):
                refused.append(_refusal(number, "", InvalidInput.single(
                    "line", "file.columns", f"{len(values)} values for {len(header)} "
                    "columns")))
                continue
            yield number, dict(zip(header, values, strict=False))
        return
    for number, text in lines:
        try:
            row = json.loads(text, parse_float=Decimal)
            if not isinstance(row, dict):
                raise ValueError("a line is one JSON object")
        except ValueError as exc:
            refused.append(_refusal(number, "", InvalidInput.single(
                "line", "file.json", f"not a JSON object: {exc}")))
            continue
        unknown = set(row) - COLUMNS
        if unknown:
            refused.append(_refusal(number, str(row.get("reference") or ""),
                                    InvalidInput.single("line", "file.columns",
                                                        "unknown fields "
                                                        f"{', '.join(sorted(unknown))}")))
            continue
        yield number, row


def _record(row: Mapping[str, Any],
            ) -> RepaymentRecord | PrepaymentRecord | PartialPrepaymentRecord:
    """One row as a record, or every field it gets wrong."""
    errors: list[FieldError] = []

    def read(name: str, parse: Any, *, required: bool = True, default: Any = None) -> Any:
        value = row.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                errors.append(FieldError(name, f"{name}.required", f"{name} is required"))
            return default
        try:
            return parse(value.strip() if isinstance(value, str) else value)
        except InvalidInput as exc:
            errors.extend(exc.errors)
        except (ValueError, TypeError, ArithmeticError) as exc:
            errors.append(FieldError(name, f"{name}.format", f"cannot read {value!r}: {exc}"))
        return default

    kind = str(row.get("type") or "repayment").strip().lower()
    if kind not in ("repayment", "prepayment", "partial_prepayment"):
        raise InvalidInput.single("type", "file.type",
                                  "type is repayment, prepayment or partial_prepayment")
    contract = read("contract_no", str)
    paid_on = read("paid_on", lambda v: date.fromisoformat(str(v)))
    reference = read("reference", str)
    interest = read("interest", _fen, required=False, default=0)
    if kind == "prepayment":
        if errors:
            raise InvalidInput(errors)
        return PrepaymentRecord(contract, paid_on, interest, reference)
    if kind == "partial_prepayment":
        principal = read("principal", _fen)
        if errors:
            raise InvalidInput(errors)
        return PartialPrepaymentRecord(contract, paid_on, principal, interest, reference)
    number = read("installment_number", _count)
    principal = read("principal", _fen)
    premium = read("premium", _fen, required=False, default=0)
    if errors:
        raise InvalidInput(errors)
    return RepaymentRecord(contract, number, paid_on, principal, interest, reference, premium)


def _fen(value: Any) -> int:
    if isinstance(value, float | bool):
        raise ValueError("an amount is a number in yuan")
    return Money.yuan(value).fen


def _count(value: Any) -> int:
    if isinstance(value, bool) or not str(value).isdigit():
        raise ValueError("a whole number from 1")
    return int(value)


def _refusal(line: int, reference: str, error: Exception) -> dict[str, Any]:
    """A refused row as its file line, reference and each field and rule it broke."""
    if isinstance(error, InvalidInput):
        errors = [{"field": e.field, "rule": e.rule, "message": e.message} for e in error.errors]
    elif isinstance(error, NotFound):
        errors = [{"field": "contract_no", "rule": "loan.known", "message": str(error)}]
    else:  # a conflict with what is recorded: the loan is settled, claimed or past due
        errors = [{"field": "contract_no", "rule": "loan.state", "message": str(error)}]
    return {"line": line, "reference": reference, "errors": errors}


@eod_app.command("run")
def eod_run(
    on: Annotated[str, typer.Option("--date", "--from",
                                    help="Business date of the batch, YYYY-MM-DD.")],
    through: Annotated[str | None, typer.Option(
        "--through", "--to",
        help="Run every day from --date through this date, in order (a backfill).")] = None,
    close_month: Annotated[bool | None, typer.Option(
        "--close-month/--no-close-month",
        help="Earn premium as at a month's close (default: on a month's last day).")] = None,
    snapshot: Annotated[bool, typer.Option(
        "--snapshot/--no-snapshot",
        help="Keep the day's snapshot: each insured loan's days past due, bucket and class, "
             "and aggregates (Parquet under XINBAO_SNAPSHOT_DIR).")] = True,
    engine: Annotated[str, typer.Option(
        help="Where the snapshot's kernels run: local (this process) or dask.")] = "local",
    scheduler: Annotated[str | None, typer.Option(
        help="With --engine dask: the scheduler's address (tcp://HOST:8786); without it a "
             "local cluster of two worker processes is started for the run.")] = None,
    partitions: Annotated[int, typer.Option(
        min=1, max=4096, help="Partitions the book is cut into for the kernels.")] = 1,
    as_json: JsonOption = False,
    user: UserOption = None,
    database_url: DatabaseUrl = None,
) -> None:
    """The end-of-day batch: installment premium fallen due, premium earned at month close,
    expiries and early settlements, and automatic claims for loans whose days past due reach
    the product's trigger; then the day's snapshot (days past due, bucket M0…M6+, five-tier
    class). Running a day again posts nothing more and writes the same snapshot."""
    with use_case():
        first = parse_field("date", date.fromisoformat, on)
        last = parse_field("through", date.fromisoformat, through) if through else first
        if last < first:
            raise InvalidInput.single("through", "batch.range", "--through is before --date")
        if engine not in ("local", "dask"):
            raise InvalidInput.single("engine", "batch.engine", "--engine is local or dask")
    container = container_for(database_url, user=user)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    reports, snapshots = [], []
    kernels_on: Engine = (DaskEngine(scheduler, partitions=partitions)
                          if engine == "dask" and snapshot else LocalEngine(partitions))
    with use_case(), Progress(console=err, transient=True, disable=as_json) as progress, \
            contextlib.closing(kernels_on):
        steps = progress.add_task("End of day", total=len(days) * (1 + snapshot))
        for day in days:
            progress.update(steps, description=f"End of day {day}: postings and claims")
            reports.append(servicing.run_end_of_day(RunEndOfDay(day, close_month),
                                                    container.uow()))
            progress.advance(steps)
            if snapshot:
                progress.update(steps, description=f"End of day {day}: snapshot")
                snapshots.append(batch.snapshot_day(
                    container.uow(), container.snapshots, day, container.classification,
                    container.early_warning, engine=kernels_on))
                progress.advance(steps)
    documents: list[dict[str, Any]] = [
        EndOfDayOut.of(r).model_dump(mode="json", exclude={"snapshot"}) for r in reports]
    for document, taken in zip(documents, snapshots, strict=False):
        document["snapshot"] = _snapshot_json(taken)
    if as_json:
        emit_json(documents[0] if len(documents) == 1 else documents)
        return
    table = Table("date", "overdue", "written", "earned", "refunded", "expired", "cancelled",
                  "claims opened", "declined", title="End of day (yuan)")
    for r in reports:
        table.add_row(str(r.on), f"{r.policies_overdue:,}", format_yuan(r.premium_written_fen),
                      format_yuan(r.premium_earned_fen), format_yuan(r.premium_refunded_fen),
                      f"{r.policies_expired:,}", f"{r.policies_cancelled:,}",
                      ", ".join(map(str, r.claims_opened)) or "-",
                      ", ".join(map(str, r.claims_declined)) or "-")
    out.print(table)
    if snapshots:
        out.print(_snapshot_table(snapshots, container.snapshots.root))


#: The five tiers' names, in order.
TIERS = tuple(TIER_LABELS.values())


def _snapshot_json(s: batch.DaySnapshot) -> dict[str, object]:
    return {"loans": s.loans, "overdue": s.overdue, "exposure_fen": s.exposure_fen,
            "by_tier": s.by_tier, "by_bucket": s.by_bucket, "signals": s.signals,
            "rules_version": s.rules_version}


def _snapshot_table(snapshots: list[batch.DaySnapshot], root: Path) -> Table:
    table = Table("date", "loans", "overdue", "exposure", "class", "bucket", "signals",
                  title=f"Snapshots (loans; exposure in yuan) in {root}")
    for s in snapshots:
        table.add_row(str(s.on), f"{s.loans:,}", f"{s.overdue:,}", format_yuan(s.exposure_fen),
                      " ".join(f"{t} {s.by_tier.get(t, 0):,}" for t in TIERS),
                      " ".join(f"{b} {s.by_bucket.get(b, 0):,}" for b in BUCKET_LABELS),
                      " ".join(f"{code} {n:,}" for code, n in s.signals.items()) or "-")
    return table


@eod_app.command("override")
def eod_override(
    loan_id: Annotated[int, typer.Argument(help="The loan's id.")],
    reason: Annotated[str, typer.Option(help="Why, at least 10 characters (kept and audited).")],
    tier: Annotated[int | None, typer.Option(
        help="Classify the loan in this tier whatever the rules say: 1 正常, 2 关注, 3 次级, "
             "4 可疑, 5 损失.")] = None,
    lift: Annotated[bool, typer.Option(
        "--lift", help="Lift the loan's override: the rules classify it again.")] = False,
    effective_from: Annotated[str | None, typer.Option(
        "--from", help="In force from this business date, YYYY-MM-DD (default today).")] = None,
    as_json: JsonOption = False,
    user: UserOption = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Set a loan's five-tier class by hand (``--tier N``), or lift that (``--lift``), with a
    reason; the day's snapshot classifies it so from the date (tier basis ``override``). A
    risk manager's decision: act as that console user (``--user``)."""
    with use_case():
        if (tier is None) == (not lift):
            raise InvalidInput.single("tier", "override.tier", "give --tier N or --lift")
        since = (parse_field("from", date.fromisoformat, effective_from) if effective_from
                 else date.today())
    container = container_for(database_url, user=user)
    with use_case():
        if tier is not None:
            done = overrides.set_override(SetOverride(loan_id, tier, reason, since),
                                          container.uow(), now=utc_now())
        else:
            done = overrides.lift_override(LiftOverride(loan_id, reason, since),
                                           container.uow(), now=utc_now())
    if as_json:
        emit_json({**_override_json(done.override), "added": done.added})
        return
    o = done.override
    what = (f"{TIER_LABELS[Tier(o.tier)]} (tier {o.tier})" if o.tier is not None
            else "by the rules (override lifted)")
    out.print(f"Loan {o.loan_id} classified {what} from {o.effective_from}: {o.reason}"
              + ("" if done.added else " [dim](already so: nothing added)[/]"))


@eod_app.command("overrides")
def eod_overrides(
    loan: Annotated[int | None, typer.Option("--loan", help="Only this loan's.")] = None,
    as_json: JsonOption = False,
    user: UserOption = None,
    database_url: DatabaseUrl = None,
) -> None:
    """The classification overrides set and lifted, oldest first (the newest of a loan
    effective by a day is in force on it)."""
    container = container_for(database_url, user=user)
    with use_case():
        rows = overrides.list_overrides(container.uow(), loan)
    if as_json:
        emit_json([_override_json(o) for o in rows])
        return
    table = Table("id", "loan", "tier", "from", "reason", "set by", "set at",
                  title="Classification overrides")
    for o in rows:
        table.add_row(str(o.id), str(o.loan_id),
                      f"{o.tier} {TIER_LABELS[Tier(o.tier)]}" if o.tier is not None else "lifted",
                      str(o.effective_from), o.reason, o.set_by,
                      o.set_at.isoformat(timespec="seconds"))
    out.print(table)


def _override_json(o: Override) -> dict[str, object]:
    return {"id": o.id, "loan_id": o.loan_id, "tier": o.tier,
            "tier_label": TIER_LABELS[Tier(o.tier)] if o.tier is not None else None,
            "reason": o.reason, "effective_from": o.effective_from.isoformat(),
            "set_by": o.set_by, "set_at": o.set_at.isoformat()}
