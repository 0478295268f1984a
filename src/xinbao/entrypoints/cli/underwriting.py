"""``xinbao applications``: funders' applications, one at a time or a file of them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer

from xinbao.catalogue.model.parties import PartyKind
from xinbao.catalogue.model.products import RepaymentMethod
from xinbao.entrypoints.cli.common import (
    DatabaseUrl,
    UserOption,
    container_for,
    err,
    file_lines,
    out,
    parse_field,
    use_case,
)
from xinbao.kernel.errors import InvalidInput
from xinbao.kernel.money import Money
from xinbao.underwriting import services as applications
from xinbao.underwriting.commands import SubmitApplication
from xinbao.underwriting.model import Evidence, EvidenceKind, Profile

applications_app = typer.Typer(help="Applications from funders.", no_args_is_help=True)


@applications_app.command("submit")
def applications_submit(
    funder: Annotated[str, typer.Option(help="Funder code.")],
    ref: Annotated[str, typer.Option(help="The funder's application number.")],
    product: Annotated[str, typer.Option(help="Product code.")],
    name: Annotated[str, typer.Option(help="Borrower's name.")],
    id_number: Annotated[str, typer.Option(help="Resident ID, or credit code for enterprises.")],
    phone: Annotated[str, typer.Option(help="Borrower's mobile phone.")],
    amount: Annotated[str, typer.Option(help="Loan amount in yuan, e.g. 50000.00.")],
    term: Annotated[int, typer.Option(help="Term in months.")],
    rate: Annotated[str, typer.Option(help="Annual interest rate, e.g. 0.0825.")],
    method: Annotated[RepaymentMethod, typer.Option(help="Repayment method.")] =
    RepaymentMethod.EQUAL_INSTALLMENT,
    kind: Annotated[PartyKind, typer.Option(help="Borrower kind.")] = PartyKind.INDIVIDUAL,
    bank_card: Annotated[str | None, typer.Option(help="Borrower's bank card.")] = None,
    applied_on: Annotated[str | None, typer.Option(help="YYYY-MM-DD; today if omitted.")] = None,
    policyholder_id: Annotated[str | None, typer.Option(help="Policyholder's ID/credit code.")]
    = None,
    insured_id: Annotated[str | None, typer.Option(help="Insured's ID/credit code.")] = None,
    income: Annotated[str | None, typer.Option(
        help="Declared monthly income in yuan (enterprises: revenue / 12).")] = None,
    employment: Annotated[str | None, typer.Option(help="salaried, self_employed, …")] = None,
    evidence: Annotated[list[str] | None, typer.Option(
        help="KIND=REFERENCE@SHA256, repeated: consent, sales_recording, "
             "online_sales_record.")] = None,
    user: UserOption = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Submit one application; print its number, or every rule it breaks."""
    container = container_for(database_url, user=user)
    with use_case():
        cmd = SubmitApplication(
            funder_code=funder, external_ref=ref, product_code=product, borrower_kind=kind,
            borrower_name=name, borrower_id_number=id_number, borrower_phone=phone,
            borrower_bank_card=bank_card,
            amount_fen=parse_field("amount", lambda v: Money.yuan(v).fen, amount),
            term_months=term, annual_rate=parse_field("rate", Decimal, rate),
            repayment_method=method,
            applied_on=parse_field("applied_on", date.fromisoformat, applied_on)
            if applied_on else date.today(),
            policyholder_id=policyholder_id, insured_id=insured_id,
            profile=Profile(monthly_income_fen=parse_field("income", lambda v: Money.yuan(v).fen,
                                                           income) if income else None,
                            employment=employment),
            evidence=tuple(_evidence(e) for e in evidence or ()), received_on=date.today())
        a = applications.submit_application(cmd, container.uow())
    out.print(f"Application {a.id} submitted ({a.product_code} v{a.product_version}, "
              f"{a.mode.value} insurance)")


def _evidence(text: str) -> Evidence:
    kind, _, rest = text.partition("=")
    reference, _, digest = rest.rpartition("@")
    try:
        return Evidence(EvidenceKind(kind), reference, digest)
    except ValueError:
        raise InvalidInput.single("evidence", "evidence.kind",
                                  f"KIND=REFERENCE@SHA256 with KIND one of "
                                  f"{', '.join(k.value for k in EvidenceKind)}") from None


@applications_app.command("load")
def applications_load(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False,
                                         help="JSON lines: one application per line, the "
                                              "fields of POST /v1/applications.")],
    user: UserOption = None,
    database_url: DatabaseUrl = None,
) -> None:
    """A funder's file of applications in one transaction: good lines stored, each bad line
    refused alone with its reasons (exit 2 if any was refused)."""
    from pydantic import ValidationError

    from xinbao.entrypoints.api.schemas.underwriting import ApplicationIn
    from xinbao.underwriting.commands import SubmitApplicationFile

    commands, malformed, today = [], [], date.today()
    for number, line in file_lines(path):
        if isinstance(line, UnicodeDecodeError):
            malformed.append((number, f"line {number}: not UTF-8 text (byte {line.start + 1}) "
                                      "[file.encoding]"))
            continue
        try:
            commands.append((number, ApplicationIn.model_validate_json(line).command(
                received_on=today)))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"])
            malformed.append((number, f"line {number}: {where}: {first['msg']}"))
    container = container_for(database_url, user=user)
    with use_case():
        outcome = applications.submit_application_file(
            SubmitApplicationFile(tuple(c for _, c in commands)), container.uow())
    for r in outcome.rejected:
        number = commands[r.index][0]
        reasons = (", ".join(f"{e.field} [{e.rule}]" for e in r.error.errors)
                   if isinstance(r.error, InvalidInput) else str(r.error))
        malformed.append((number, f"line {number} ({r.reference}): {reasons}"))
    out.print(f"{len(outcome.accepted):,} applications stored, {len(malformed):,} lines "
              "refused.")
    if outcome.accepted:
        ids = sorted(a.id for a in outcome.accepted if a.id is not None)
        where = (f"Stored as applications {ids[0]} to {ids[-1]}; "
                 if ids and ids[-1] - ids[0] + 1 == len(ids) else "")
        out.print(f"{where}decide them with `xinbao decision run --submitted`.",
                  markup=False)
    for _, text in sorted(malformed):
        err.print(f"  {text}", markup=False)
    if malformed:
        raise typer.Exit(2)
