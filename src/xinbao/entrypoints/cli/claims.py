"""``xinbao claims|recoveries``: claims opened by the end-of-day batch or filed on notice,
their payment (authority limits and four-eyes: whoever opened a claim cannot pay it), and the
money recovered afterwards. ``--json`` prints the API's own documents."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from xinbao.claims import queries as claim_queries
from xinbao.claims import services as claims
from xinbao.claims.commands import FileClaim, PayClaim, RecordRecovery
from xinbao.claims.model import Claim, ClaimStatus, Exclusion
from xinbao.entrypoints.api.schemas.claims import ClaimOut, RecoveryOut
from xinbao.entrypoints.cli.common import (
    AfterOption,
    DatabaseUrl,
    JsonOption,
    LimitOption,
    OnOption,
    UserOption,
    business_date,
    container_for,
    emit_json,
    out,
    page_end,
    parse_field,
    say_more,
    use_case,
)
from xinbao.kernel.money import Money, format_yuan

claims_app = typer.Typer(help="Claims: list, show, file on notice, pay.", no_args_is_help=True)
recoveries_app = typer.Typer(help="Recoveries after a claim is paid (subrogation 代位追偿).",
                             no_args_is_help=True)

ClaimId = Annotated[int, typer.Argument(help="Claim id.", min=1)]


@claims_app.command("list")
def claims_list(
    status: Annotated[ClaimStatus | None, typer.Option(help="Only claims in this status.")]
    = None,
    after: AfterOption = 0,
    limit: LimitOption = 100,
    as_json: JsonOption = False,
    user: UserOption = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Claims in id order, a page at a time (``--after`` the last id shown)."""
    container = container_for(database_url, user=user)
    with use_case():
        found = claim_queries.list_claims(container.uow(), status=status, after_id=after,
                                          limit=limit)
    if as_json:
        emit_json({"items": [ClaimOut.of(c).model_dump(mode="json") for c in found],
                   "next_after_id": page_end([x.id for x in found], limit)})
        return
    table = Table("id", "policy", "loan", "status", "opened", "DPD", "amount", "paid on",
                  "recovered", "reasons", title="Claims (yuan)")
    for c in found:
        table.add_row(str(c.id), str(c.policy_id), str(c.loan_id), c.status.value,
                      str(c.opened_on), str(c.days_past_due), format_yuan(c.amount_fen),
                      str(c.paid_on or ""), format_yuan(c.recovered_fen),
                      ", ".join(c.reason_codes))
    out.print(table)
    say_more(page_end([x.id for x in found], limit))


@claims_app.command("show")
def claims_show(claim_id: ClaimId, as_json: JsonOption = False, user: UserOption = None,
                database_url: DatabaseUrl = None) -> None:
    """One claim: liability determination, amounts, payment and the recoveries since."""
    container = container_for(database_url, user=user)
    with use_case():
        claim = claim_queries.get_claim(container.uow(), claim_id)
        recoveries = claim_queries.recoveries_of(container.uow(), claim_id)
    if as_json:
        emit_json({**ClaimOut.of(claim).model_dump(mode="json"),
                   "recoveries": [RecoveryOut.of(r).model_dump(mode="json") for r in recoveries]})
        return
    _print_claim(claim)
    for r in recoveries:
        out.print(f"  recovered {format_yuan(r.amount_fen)} yuan on {r.received_on} "
                  f"({r.source})", markup=False)


@claims_app.command("file")
def claims_file(
    policy_id: Annotated[int, typer.Argument(help="Policy id the notice is about.", min=1)],
    on: OnOption = None,
    exclusion: Annotated[list[Exclusion] | None, typer.Option(
        help="An exclusion the adjuster found (repeat): the claim is then declined.")] = None,
    as_json: JsonOption = False,
    user: UserOption = None,
    database_url: DatabaseUrl = None,
) -> None:
    """A claim notice from the insured: liability determined at once, the claim opened
    (reserve set) or declined with its reasons."""
    container = container_for(database_url, user=user)
    with use_case():
        claim = claims.file_claim(FileClaim(policy_id, business_date(on),
                                            frozenset(exclusion or ())), container.uow())
    if as_json:
        emit_json(ClaimOut.of(claim).model_dump(mode="json"))
        return
    _print_claim(claim)


@claims_app.command("pay")
def claims_pay(
    claim_id: ClaimId,
    on: OnOption = None,
    as_json: JsonOption = False,
    user: UserOption = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Pay the insured and release the reserve. The payer needs claim.pay up to the amount
    and cannot be whoever opened the claim; paying a paid claim again changes nothing."""
    container = container_for(database_url, user=user)
    with use_case():
        claim = claims.pay_claim(PayClaim(claim_id, business_date(on)), container.uow())
    if as_json:
        emit_json(ClaimOut.of(claim).model_dump(mode="json"))
        return
    out.print(f"Claim {claim.id} paid on {claim.paid_on}: {format_yuan(claim.amount_fen)} "
              "yuan to the insured.")


@recoveries_app.command("add")
def recoveries_add(
    claim_id: ClaimId,
    amount: Annotated[str, typer.Option(help="Amount recovered, yuan, e.g. 1200.00.")],
    source: Annotated[str, typer.Option(help="Where it came from: borrower, collateral, "
                                             "agency, guarantor, debt_sale …")],
    reference: Annotated[str, typer.Option(help="Transaction number: a repeat with it is "
                                                "ignored.")],
    on: OnOption = None,
    final: Annotated[bool, typer.Option(
        "--final", help="Recovery is finished: the claim is closed.")] = False,
    as_json: JsonOption = False,
    user: UserOption = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Money recovered from the obligor after the claim was paid (subrogation)."""
    container = container_for(database_url, user=user)
    with use_case():
        r = claims.record_recovery(RecordRecovery(
            claim_id=claim_id, amount_fen=parse_field("amount", lambda v: Money.yuan(v).fen,
                                                      amount),
            received_on=business_date(on), source=source, reference=reference, final=final),
            container.uow())
    if as_json:
        emit_json(RecoveryOut.of(r).model_dump(mode="json"))
        return
    out.print(f"Recovery {r.id}: {format_yuan(r.amount_fen)} yuan on claim {r.claim_id} "
              f"({r.source}, {r.received_on})" + (", recovery finished." if final else "."))


def _print_claim(c: Claim) -> None:
    table = Table("", "", title=f"Claim {c.id}", show_header=False)
    for name, value in (
            ("status", c.status.value), ("policy / loan", f"{c.policy_id} / {c.loan_id}"),
            ("opened on", f"{c.opened_on} at {c.days_past_due} days past due"),
            ("principal (yuan)", format_yuan(c.principal_fen)),
            ("interest (yuan)", format_yuan(c.interest_fen)),
            ("indemnity (yuan)", format_yuan(c.amount_fen)),
            ("reasons", ", ".join(c.reason_codes) or "-"),
            ("paid on", str(c.paid_on or "-")),
            ("recovered (yuan)", format_yuan(c.recovered_fen))):
        table.add_row(name, value)
    out.print(table)
