"""``xinbao funders``: partner funders (资金方) and the versions of their cooperation
agreements (合作协议): products, commission, volume share, risk share, settlement cycle,
file format and the funder's own column names for our file types (``--feed-map
repayments:合同号=contract_no``, which ``xinbao feed load`` and ``feed watch`` use).

Registering a funder stores version 1 of its agreement; ``funders agreement`` stores the next
version, whose products and commission then hold for intake and the premium postings. A
version never changes once stored; repeating the newest version's terms stores nothing. Each
registration and new version is in the audit trail (``FunderRegistered``,
``AgreementAmended``).

``funders statement`` shows (and writes as CSV or PDF) a funder's premium settlement statement
of its last whole cycle, and ``funders settle`` settles it as the bank moved the net
(docs/POLICY.md).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypeVar, cast

import typer
from rich.table import Table

from xinbao.batch.feeds import SCHEMAS
from xinbao.billing import services as billing
from xinbao.billing.commands import SettleFunder
from xinbao.billing.model import FunderStatement
from xinbao.catalogue import queries as catalogue_queries
from xinbao.catalogue import services as catalogue
from xinbao.catalogue.commands import AmendAgreement, RegisterFunder
from xinbao.catalogue.model.agreements import Agreement, FileFormat
from xinbao.catalogue.model.parties import Funder, FunderKind
from xinbao.entrypoints.api.schemas.ledger import FunderStatementOut
from xinbao.entrypoints.cli.common import (
    DatabaseUrl,
    JsonOption,
    OnOption,
    UserOption,
    business_date,
    container_for,
    emit_json,
    out,
    parse_field,
    use_case,
)
from xinbao.kernel.errors import FieldError, InvalidInput
from xinbao.kernel.money import Money, format_yuan, parse_rate
from xinbao.reporting.funder_statement import funder_statement_csv, funder_statement_pdf

T = TypeVar("T")

funders_app = typer.Typer(
    help="Partner funders and their cooperation agreements (versioned).", no_args_is_help=True)

_FORMATS = ", ".join(f.value for f in FileFormat)
ProductsOption = Annotated[list[str] | None, typer.Option(
    "--products", help="Product codes the agreement covers: comma-separated, or the option "
                       "repeated (e.g. CONSUMER-G,CAR-G).")]
CommissionOption = Annotated[str | None, typer.Option(
    "--commission", help="Commission: the share of premium paid to the funder, in [0, 1), "
                         "e.g. 0.08.")]
VolumeOption = Annotated[str | None, typer.Option(
    "--volume-share", help="Planned share of the insurer's new business the funder brings, "
                           "in (0, 1].")]
RiskShareOption = Annotated[str | None, typer.Option(
    "--risk-share", help="Share of each loss the funder keeps, in [0, 1).")]
SettlementOption = Annotated[int | None, typer.Option(
    "--settlement-days", help="Settlement cycle of premium and claims, in days (1 to 366).")]
NoticeDaysOption = Annotated[int | None, typer.Option(
    "--claim-notice-days", min=0, max=365,
    help="A claim notice within this many days of the trigger date (default 30).")]
GraceOption = Annotated[int | None, typer.Option(
    "--premium-grace-days", min=0, max=365,
    help="Premium due may be this many days late before a default (default 30).")]
CollectorOption = Annotated[str | None, typer.Option(
    "--premium-collector", help="Who collects the premium: insurer (default) or funder (it "
                                "holds it for us until its settlement statement).")]
FormatOption = Annotated[str | None, typer.Option(
    "--file-format", help=f"How the funder sends its files: {_FORMATS}.")]
FromOption = Annotated[str | None, typer.Option(
    "--from", help="The day the agreement takes effect, YYYY-MM-DD.")]
FeedMapOption = Annotated[list[str] | None, typer.Option(
    "--feed-map", help="A column of the funder's files named as ours: TYPE:THEIRS=OURS, e.g. "
                       "repayments:合同号=contract_no (repeatable; the types named get these "
                       "mappings, the others keep theirs; TYPE: alone removes that type's).")]


@funders_app.command("add")
def funders_add(
    code: Annotated[str, typer.Argument(help="Funder code: letters, digits, - or _.")],
    name: Annotated[str, typer.Option("--name", help="Registered name.")],
    credit_code: Annotated[str, typer.Option(
        "--credit-code", help="Unified social credit code (18 characters, GB 32100).")],
    kind: Annotated[str, typer.Option(
        "--kind", help=f"One of {', '.join(k.value for k in FunderKind)}.")],
    licensed: Annotated[bool, typer.Option(
        "--licensed/--unlicensed", help="Whether it holds a lending licence (only licensed "
                                        "funders' loans are covered).")],
    products: Annotated[list[str], typer.Option(
        "--products", help="Product codes the agreement covers: comma-separated, or the "
                           "option repeated (e.g. CONSUMER-G,CAR-G).")],
    commission: Annotated[str, typer.Option(
        "--commission", help="Commission: the share of premium paid to the funder, in "
                             "[0, 1), e.g. 0.08.")],
    volume_share: VolumeOption = None,
    risk_share: RiskShareOption = None,
    settlement_days: SettlementOption = None,
    file_format: FormatOption = None,
    claim_notice_days: NoticeDaysOption = None,
    premium_grace_days: GraceOption = None,
    premium_collector: CollectorOption = None,
    effective_from: FromOption = None,
    as_json: JsonOption = False,
    user: UserOption = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Register a funder under version 1 of its cooperation agreement.

    Unless given: no volume share agreed, no risk share, a 30-day settlement cycle, CSV
    files, in effect from today. A code already registered is a conflict (exit 4)."""
    container = container_for(database_url, user=user)
    with use_case():
        read = _Reader()
        funder_kind = read("kind", _kind, kind)
        commission_rate = read("commission_rate", parse_rate, commission)
        start = read("effective_from", date.fromisoformat, effective_from)
        volume, risk = (read("volume_share", parse_rate, volume_share),
                        read("risk_share", parse_rate, risk_share))
        read.done()
        assert funder_kind is not None and commission_rate is not None  # both required
        cmd = RegisterFunder(
            code=code, name=name, credit_code=credit_code, kind=funder_kind, licensed=licensed,
            products=_products(products), commission_rate=commission_rate,
            effective_from=start or date.today(), volume_share=volume,
            risk_share=Decimal(0) if risk is None else risk,
            settlement_days=30 if settlement_days is None else settlement_days,
            file_format=file_format or FileFormat.CSV,
            claim_notice_days=30 if claim_notice_days is None else claim_notice_days,
            premium_grace_days=30 if premium_grace_days is None else premium_grace_days,
            premium_collector=premium_collector or "insurer")
        funder = catalogue.register_funder(cmd, container.uow())
        view = catalogue_queries.get_funder(container.uow(), funder.code)
    if as_json:
        emit_json(_funder_json(view))
        return
    out.print(f"Funder [bold]{funder.code}[/] registered (id {funder.id}), "
              f"{'licensed' if funder.licensed else '[red]unlicensed[/]'}.")
    if view.current is not None:
        out.print(_terms_line(view.current))


@funders_app.command("agreement")
def funders_agreement(
    code: Annotated[str, typer.Argument(help="Funder code.")],
    products: ProductsOption = None,
    commission: CommissionOption = None,
    volume_share: VolumeOption = None,
    risk_share: RiskShareOption = None,
    settlement_days: SettlementOption = None,
    file_format: FormatOption = None,
    claim_notice_days: NoticeDaysOption = None,
    premium_grace_days: GraceOption = None,
    premium_collector: CollectorOption = None,
    feed_map: FeedMapOption = None,
    effective_from: Annotated[str | None, typer.Option(
        "--from", help="The day the version takes effect (default --on): not before the "
                       "newest version's, not after --on.")] = None,
    on: OnOption = None,
    as_json: JsonOption = False,
    user: UserOption = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Store the next version of a funder's agreement; it holds from then on.

    The terms given change, the rest stay as in the newest version; its products and
    commission become the funder's. Repeating the newest version's terms stores nothing."""
    day = business_date(on)
    container = container_for(database_url, user=user)
    with use_case():
        read = _Reader()
        cmd = AmendAgreement(
            funder_code=code, on=day,
            effective_from=read("effective_from", date.fromisoformat, effective_from),
            products=_products(products) if products else None,
            commission_rate=read("commission_rate", parse_rate, commission),
            volume_share=read("volume_share", parse_rate, volume_share),
            risk_share=read("risk_share", parse_rate, risk_share),
            settlement_days=settlement_days, file_format=file_format,
            feed_mapping=_feed_mapping(feed_map) if feed_map else None,
            claim_notice_days=claim_notice_days, premium_grace_days=premium_grace_days,
            premium_collector=premium_collector)
        read.done()
        result = catalogue.amend_agreement(cmd, container.uow(), feed_columns={
            kind.value: {c.name for c in columns} for kind, columns in SCHEMAS.items()})
    if as_json:
        emit_json({**result.agreement.as_data(), "stored": result.stored})
        return
    if result.stored:
        out.print(f"Stored {result.funder.code}'s agreement [bold]v{result.agreement.version}"
                  f"[/]; it now holds for intake and commission.")
    else:
        out.print(f"Same terms as {result.funder.code}'s v{result.agreement.version}: nothing "
                  "stored.")
    out.print(_terms_line(result.agreement))


@funders_app.command("list")
def funders_list(as_json: JsonOption = False, user: UserOption = None,
                 database_url: DatabaseUrl = None) -> None:
    """Every funder with the agreement version in force."""
    container = container_for(database_url, user=user)
    with use_case():
        views = catalogue_queries.list_funders(container.uow())
    if as_json:
        emit_json([_funder_json(v, history=False) for v in views])
        return
    table = Table("code", "name", "kind", "licensed", "agreement", "products", "commission",
                  "risk share", "cycle", "files", title=f"{len(views)} funder(s)")
    for v in views:
        f, a = v.funder, v.current
        table.add_row(f.code, f.name, f.kind.value, "yes" if f.licensed else "[red]no[/]",
                      f"v{a.version} from {a.effective_from}" if a else "",
                      ", ".join(f.products), _pct(f.commission_rate),
                      _pct(a.risk_share) if a else "", f"{a.settlement_days} d" if a else "",
                      str(a.file_format) if a else "")
    out.print(table)


@funders_app.command("show")
def funders_show(code: Annotated[str, typer.Argument(help="Funder code.")],
                 as_json: JsonOption = False, user: UserOption = None,
                 database_url: DatabaseUrl = None) -> None:
    """A funder and every version of its agreement, newest last."""
    container = container_for(database_url, user=user)
    with use_case():
        view = catalogue_queries.get_funder(container.uow(), code)
    if as_json:
        emit_json(_funder_json(view))
        return
    f = view.funder
    head = Table.grid(padding=(0, 2))
    head.add_row("Funder", f"{f.code} (id {f.id}): {f.name}")
    head.add_row("Credit code", f.credit_code)
    head.add_row("Kind", f.kind.value)
    head.add_row("Licensed", "yes" if f.licensed else "[red]no: its loans are not covered[/]")
    head.add_row("In force", f"products {', '.join(f.products)}; commission "
                             f"{_pct(f.commission_rate)}")
    out.print(head)
    table = Table("v", "from", "products", "commission", "volume share", "risk share",
                  "cycle", "files", title="Cooperation agreement (合作协议)")
    for a in view.agreements:
        table.add_row(str(a.version), str(a.effective_from), ", ".join(a.products),
                      _pct(a.commission_rate),
                      _pct(a.volume_share) if a.volume_share is not None else "—",
                      _pct(a.risk_share), f"{a.settlement_days} d", str(a.file_format))
    out.print(table)
    if view.current is not None and view.current.feed_mapping:
        names = Table("file type", "their column", "our column",
                      title=f"Their column names (v{view.current.version})")
        for kind, mapping in sorted(view.current.feed_mapping.items()):
            for theirs, ours in mapping.items():
                names.add_row(kind, theirs, ours)
        out.print(names)


@funders_app.command("statement")
def funders_statement(
    code: Annotated[str, typer.Argument(help="Funder code.")],
    on: OnOption = None,
    csv_file: Annotated[Path | None, typer.Option(
        "--csv", help="Also write the statement as CSV to this file.")] = None,
    pdf_file: Annotated[Path | None, typer.Option(
        "--pdf", help="Also write the statement as PDF to this file.")] = None,
    as_json: JsonOption = False, user: UserOption = None, database_url: DatabaseUrl = None,
) -> None:
    """The funder's premium settlement statement of its last whole cycle ending by --on:
    premium it collected for us, refunds, commission and clawback, the net due either way,
    and the claims paid to it meanwhile. Settled, or the draft of what settling would post."""
    day = business_date(on)
    container = container_for(database_url, user=user)
    with use_case():
        statement = billing.funder_statement(container.uow(), code, on=day)
    if csv_file is not None:
        csv_file.write_bytes(funder_statement_csv(statement))
    if pdf_file is not None:
        pdf_file.write_bytes(funder_statement_pdf(statement))
    if as_json:
        emit_json(FunderStatementOut.of(statement).model_dump(mode="json"))
        return
    _print_statement(statement)


@funders_app.command("settle")
def funders_settle(
    code: Annotated[str, typer.Argument(help="Funder code.")],
    bank_reference: Annotated[str, typer.Option(
        "--bank-reference", help="The bank transaction's reference.")],
    amount: Annotated[str, typer.Option(
        "--amount", help="What the bank moved, yuan: received from the funder, or negative "
                         "when paid to it. Must be the statement's net.")],
    on: OnOption = None,
    as_json: JsonOption = False, user: UserOption = None, database_url: DatabaseUrl = None,
) -> None:
    """Settle the funder's statement of its last whole cycle ending by --on as the bank
    moved it; once per cycle (again with the same reference: the statement settled)."""
    day = business_date(on)
    container = container_for(database_url, user=user)
    with use_case():
        fen = parse_field("amount", lambda v: Money.yuan(v).fen, amount)
        done = billing.settle_funder(SettleFunder(code, day, bank_reference, fen),
                                     container.uow())
    if as_json:
        emit_json({"statement": FunderStatementOut.of(done.statement).model_dump(mode="json"),
                   "entry_id": done.entry.id if done.entry else None, "repeat": done.repeat})
        return
    _print_statement(done.statement)
    out.print("Settled before: nothing posted." if done.repeat
              else f"Settled: entry {done.entry.id if done.entry else '—'} posted.")


def _print_statement(s: FunderStatement) -> None:
    f = s.figures
    table = Table("item", "yuan", title=f"{s.number} · {s.funder_name} ({s.funder_code}) · "
                                        f"{s.cycle_from} – {s.cycle_to}")
    table.add_row("Premium collected for us, VAT included (the funder holds it)", format_yuan(
        f.premium_held_fen))
    table.add_row("Refunds paid out of it, VAT included", format_yuan(-f.refunds_fen))
    table.add_row("Commission", format_yuan(-f.commission_fen))
    table.add_row("Commission clawed back", format_yuan(f.clawback_fen))
    table.add_row("Net due (positive: the funder pays us)", format_yuan(f.net_fen))
    out.print(table)
    for b in s.claim_batches:
        out.print(f"Claims paid by batch {b.number} on {b.paid_on}: {b.claims} claims, "
                  f"{format_yuan(b.total_fen)} yuan (paid apart, not netted).")
    out.print(f"Settled on {s.settled_on} by bank transaction {s.bank_reference}."
              if s.settled_on else "Not settled yet (a draft).")


def _feed_mapping(values: list[str]) -> dict[str, dict[str, str]]:
    """``TYPE:THEIRS=OURS`` options as file type -> {theirs: ours} (``TYPE:`` alone: none)."""
    mapping: dict[str, dict[str, str]] = {}
    for value in values:
        kind, colon, pair = value.partition(":")
        theirs, equals, ours = pair.partition("=")
        if not colon or not kind.strip() or (pair and (not equals or not theirs or not ours)):
            raise InvalidInput.single("feed_mapping", "agreement.feed_mapping",
                                      f"{value!r}: a column mapping is TYPE:THEIRS=OURS")
        names = mapping.setdefault(kind.strip(), {})
        if pair:
            names[theirs] = ours.strip()
    return mapping


def _funder_json(view: catalogue_queries.FunderView, *, history: bool = True) -> dict[str, Any]:
    f: Funder = view.funder
    doc: dict[str, Any] = {
        "id": f.id, "code": f.code, "name": f.name, "credit_code": f.credit_code,
        "kind": f.kind.value, "licensed": f.licensed, "products": list(f.products),
        "commission_rate": str(f.commission_rate),
        "agreement": view.current.as_data() if view.current else None}
    if history:
        doc["agreements"] = [a.as_data() for a in view.agreements]
    return doc


def _terms_line(a: Agreement) -> str:
    volume = f"volume share {_pct(a.volume_share)}; " if a.volume_share is not None else ""
    return (f"Agreement v{a.version} from {a.effective_from}: products {', '.join(a.products)}; "
            f"commission {_pct(a.commission_rate)}; {volume}risk share {_pct(a.risk_share)}; "
            f"settlement every {a.settlement_days} days; claim notices within "
            f"{a.claim_notice_days} days, premium grace {a.premium_grace_days} days, "
            f"collected by the {a.premium_collector}; files "
            f"{a.file_format}"
            f"{_mapping_line(a)}.")


def _mapping_line(a: Agreement) -> str:
    if not a.feed_mapping:
        return ""
    return "; their columns " + "; ".join(
        f"{kind}: " + ", ".join(f"{theirs}={ours}" for theirs, ours in names.items())
        for kind, names in sorted(a.feed_mapping.items()))


def _pct(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f} %"


def _products(values: list[str]) -> tuple[str, ...]:
    return tuple(p.strip() for v in values for p in v.split(",") if p.strip())


class _Reader:
    """Reads options, keeping every one that cannot be read, to refuse them all at once."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def __call__(self, field: str, parse: Callable[[str], T], text: str | None) -> T | None:
        if text is None:
            return None
        try:
            return cast(T, parse_field(field, parse, text))
        except InvalidInput as exc:
            self.errors.extend(exc.errors)
            return None

    def done(self) -> None:
        if self.errors:
            raise InvalidInput(self.errors)


def _kind(text: str) -> FunderKind:
    try:
        return FunderKind(text.strip().lower())
    except ValueError:
        raise ValueError("one of " + ", ".join(k.value for k in FunderKind)) from None

