"""``xinbao policies``: issuing the quoted policy on the funder's disbursement, reading
policies and their e-policy (``show NUMBER --pdf FILE``), and their endorsements (cancel,
transfer, prepay-part, restructure, endorsements). ``--json`` prints the API's own documents
(``GET /v1/policies/{id}``)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from xinbao.entrypoints.api.schemas.policy import EndorsementOut, PolicyOut
from xinbao.entrypoints.cli.common import (
    AfterOption,
    DatabaseUrl,
    JsonOption,
    LimitOption,
    UserOption,
    container_for,
    emit_json,
    err,
    out,
    page_end,
    parse_field,
    say_more,
    use_case,
)
from xinbao.kernel.errors import InvalidInput
from xinbao.kernel.money import Money, format_yuan
from xinbao.policy import endorsements
from xinbao.policy import queries as policy_queries
from xinbao.policy import services as policies
from xinbao.policy.commands import (
    CancelPolicy,
    IssuePolicy,
    PrepayInPart,
    RestructureLoan,
    TransferPolicy,
)
from xinbao.policy.model import Endorsement, Policy, policy_id_of, policy_number
from xinbao.reporting.documents import issue_epolicy

policies_app = typer.Typer(help="Policies: issue on disbursement, list, show.",
                           no_args_is_help=True)

@policies_app.command("issue")
def policies_issue(
    contract: Annotated[str, typer.Option("--contract", help="The funder's loan contract "
                                                             "number.")],
    disbursed_on: Annotated[str, typer.Option(help="Disbursement date, YYYY-MM-DD: the loan's "
                                                   "schedule starts here.")],
    policy_id: Annotated[int | None, typer.Argument(
        help="Policy id (the quote's id); or give --application.", min=1)] = None,
    application: Annotated[int | None, typer.Option(
        "--application", help="The approved application whose quote to issue.", min=1)]
    = None,
    on: Annotated[str | None, typer.Option(
        "--on", help="Issue date (default: the disbursement date).")] = None,
    premium_unpaid: Annotated[bool, typer.Option(
        "--premium-unpaid", help="The single premium was not collected at disbursement "
                                 "(posted as receivable).")] = False,
    as_json: JsonOption = False,
    user: UserOption = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Bind the quoted policy to the disbursed loan and post its premium, all or nothing;
    issuing the same contract again prints the issued policy unchanged."""
    if (policy_id is None) == (application is None):
        err.print("[bold red]Refused[/]: give the policy id or --application, one of them.")
        raise typer.Exit(2)
    container = container_for(database_url, user=user)
    with use_case():
        if policy_id is None:
            assert application is not None
            quoted = policy_queries.policy_of_application(container.uow(), application)
            policy_id = quoted.id
            assert policy_id is not None
        disbursed = parse_field("disbursed_on", date.fromisoformat, disbursed_on)
        issued = parse_field("on", date.fromisoformat, on) if on else disbursed
        p = policies.issue_policy(IssuePolicy(
            policy_id=policy_id, contract_no=contract, disbursed_on=disbursed, on=issued,
            premium_paid=not premium_unpaid), container.uow())
    if as_json:
        emit_json(PolicyOut.of(p).model_dump(mode="json"))
        return
    out.print(f"Policy [bold]{p.policy_no}[/] (id {p.id}) in force {p.start_date} to "
              f"{p.end_date} on loan {p.loan_id}; premium {format_yuan(p.total_premium_fen)} "
              "yuan.")


@policies_app.command("list")
def policies_list(
    after: AfterOption = 0,
    limit: LimitOption = 100,
    as_json: JsonOption = False,
    user: UserOption = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Issued policies in id order, a page at a time (``--after`` the last id shown)."""
    container = container_for(database_url, user=user)
    with use_case():
        found = policy_queries.list_policies(container.uow(), after_id=after, limit=limit)
    if as_json:
        emit_json({"items": [PolicyOut.of(p).model_dump(mode="json") for p in found],
                   "next_after_id": page_end([x.id for x in found], limit)})
        return
    table = Table("id", "policy no", "product", "mode", "status", "sum insured", "premium",
                  "from", "to", "loan", title="Policies (yuan)")
    for p in found:
        table.add_row(str(p.id), p.policy_no, f"{p.product_code} v{p.product_version}",
                      p.mode.value, p.status.value, format_yuan(p.sum_insured_fen),
                      format_yuan(p.total_premium_fen), str(p.start_date or ""),
                      str(p.end_date or ""), str(p.loan_id or ""))
    out.print(table)
    say_more(page_end([x.id for x in found], limit))


@policies_app.command("show")
def policies_show(
    policy: Annotated[str, typer.Argument(help="The policy's number (XB…) or id.")],
    pdf: Annotated[Path | None, typer.Option(
        "--pdf", help="Write its e-policy (PDF) here; its SHA-256 is kept when first "
                      "issued.", dir_okay=False)] = None,
    as_json: JsonOption = False, user: UserOption = None, database_url: DatabaseUrl = None,
) -> None:
    """One policy: parties, cover, premium written, earned and refunded; with --pdf, its
    e-policy."""
    container = container_for(database_url, user=user)
    with use_case():
        policy_id = _policy_id(policy)
        p = policy_queries.get_policy(container.uow(), policy_id)
        issued = issue_epolicy(container.uow(), policy_id, on=date.today()) \
            if pdf is not None else None
    if issued is not None and pdf is not None:
        pdf.write_bytes(issued.pdf)
    if as_json:
        emit_json({**PolicyOut.of(p).model_dump(mode="json"), **({} if issued is None else {
            "epolicy": {"file": str(pdf), "sha256": issued.sha256,
                        "first_issued_on": issued.document.first_issued_on.isoformat(),
                        "wording": issued.document.wording}})})
        return
    out.print(_policy_table(p))
    if issued is not None:
        out.print(f"E-policy written to {pdf} (SHA-256 {issued.sha256}, first issued "
                  f"{issued.document.first_issued_on}, wording {issued.document.wording}).",
                  markup=False)


PolicyArg = Annotated[str, typer.Argument(help="The policy's number (XB…) or id.")]
ReasonOption = Annotated[str, typer.Option(help="Why (kept with the endorsement).")]


OnOption = Annotated[str | None, typer.Option(help="The day it takes effect, YYYY-MM-DD "
                                                  "(default: today).")]


def _on(on: str | None) -> date:
    return parse_field("on", date.fromisoformat, on) if on else date.today()


def _yuan(name: str, text: str) -> int:
    return parse_field(name, lambda v: Money.yuan(v).fen, text)


@policies_app.command("cancel")
def policies_cancel(
    policy: PolicyArg, reason: ReasonOption,
    on: OnOption = None,
    insured_consent: Annotated[bool, typer.Option(
        "--insured-consent", help="The insured funder consents (guarantee insurance).")]
    = False,
    as_json: JsonOption = False, user: UserOption = None, database_url: DatabaseUrl = None,
) -> None:
    """Cancel a policy in force at the policyholder's request: within the cooling-off period
    every premium back, after it the unearned premium; the commission on it clawed back."""
    container = container_for(database_url, user=user)
    with use_case():
        e = endorsements.cancel_policy(CancelPolicy(
            _policy_id(policy), _on(on), reason, insured_consent), container.uow())
    _print_endorsement(e, as_json)


@policies_app.command("transfer")
def policies_transfer(
    policy: PolicyArg, reason: ReasonOption,
    to: Annotated[str, typer.Option("--to", help="The funder the loan was sold to (code).")],
    contract: Annotated[str, typer.Option("--contract", help="Its contract number for the "
                                                             "loan.")],
    on: Annotated[str | None, typer.Option(help="The day of the sale, YYYY-MM-DD (default: "
                                                "today).")] = None,
    as_json: JsonOption = False, user: UserOption = None, database_url: DatabaseUrl = None,
) -> None:
    """The loan sold to another funder: it becomes the insured; the borrower stays."""
    container = container_for(database_url, user=user)
    with use_case():
        e = endorsements.transfer_policy(TransferPolicy(
            _policy_id(policy), to, contract, _on(on), reason), container.uow())
    _print_endorsement(e, as_json)


@policies_app.command("prepay-part")
def policies_prepay_part(
    policy: PolicyArg,
    principal: Annotated[str, typer.Option(help="Principal repaid early, yuan.")],
    reference: Annotated[str, typer.Option(help="The funder's transaction number.")],
    interest: Annotated[str, typer.Option(help="Interest paid with it, yuan.")] = "0",
    on: OnOption = None,
    as_json: JsonOption = False, user: UserOption = None, database_url: DatabaseUrl = None,
) -> None:
    """Part of the loan's principal repaid early: the installments left fall (the term
    stays) and the cover with them; the unearned single premium's share of the principal
    repaid is refunded, the commission on it clawed back. Again, it answers the same."""
    container = container_for(database_url, user=user)
    with use_case():
        found = policy_queries.get_policy(container.uow(), _policy_id(policy))
        if found.loan_id is None:
            raise InvalidInput.single("policy", "policy.loan",
                                      f"{found.policy_no} has no loan: it was never issued")
        e = endorsements.prepay_in_part(PrepayInPart(
            found.loan_id, _on(on), _yuan("principal", principal), _yuan("interest", interest),
            reference), container.uow())
    _print_endorsement(e, as_json)


@policies_app.command("restructure")
def policies_restructure(
    policy: PolicyArg, reason: ReasonOption,
    installments: Annotated[int, typer.Option(help="New monthly installments for the "
                                                   "principal not yet paid.")],
    reference: Annotated[str, typer.Option(help="The funder's restructuring agreement "
                                                "number.")],
    rate: Annotated[str | None, typer.Option(help="The new annual rate, e.g. 0.05 "
                                                  "(default: the loan's).")] = None,
    consent: Annotated[bool, typer.Option(
        "--consent", help="The insurer consents (its staff): the cover follows the new "
                          "schedule. Without it a claim finds the loan not as insured.")]
    = False,
    on: OnOption = None,
    as_json: JsonOption = False, user: UserOption = None, database_url: DatabaseUrl = None,
) -> None:
    """The funder restructured the insured loan: its new schedule from the first
    installment not paid, with or without the insurer's consent. Again, it answers the
    same."""
    container = container_for(database_url, user=user)
    with use_case():
        e = endorsements.restructure_loan(RestructureLoan(
            _policy_id(policy), _on(on), installments, reference, reason, consent,
            parse_field("rate", Decimal, rate) if rate else None), container.uow())
    _print_endorsement(e, as_json)


@policies_app.command("endorsements")
def policies_endorsements(policy: PolicyArg, as_json: JsonOption = False,
                          user: UserOption = None, database_url: DatabaseUrl = None) -> None:
    """A policy's endorsements, the oldest first."""
    container = container_for(database_url, user=user)
    with use_case():
        found = policy_queries.endorsements_of(container.uow(), _policy_id(policy))
    if as_json:
        emit_json({"items": [EndorsementOut.of(e).model_dump(mode="json") for e in found]})
        return
    table = Table("version", "kind", "effective", "refund (yuan)", "commission back (yuan)",
                  "reason", "details", title="Endorsements")
    for e in found:
        table.add_row(str(e.version), e.kind.value, str(e.effective_on),
                      format_yuan(e.refund_fen), format_yuan(e.commission_clawback_fen),
                      e.reason, ", ".join(f"{k}={v}" for k, v in e.details.items()))
    out.print(table)


def _print_endorsement(e: Endorsement, as_json: bool) -> None:
    if as_json:
        emit_json(EndorsementOut.of(e).model_dump(mode="json"))
        return
    out.print(f"Policy {policy_number(e.policy_id)} version {e.version}: {e.kind.value} on "
              f"{e.effective_on}; refund {format_yuan(e.refund_fen)} yuan, commission clawed "
              f"back {format_yuan(e.commission_clawback_fen)} yuan.", markup=False)


def _policy_id(text: str) -> int:
    """A policy's id from its number (``XB``, ten digits and a check digit) or the id."""
    found = policy_id_of(text)
    if not found:
        raise InvalidInput.single("policy", "policy.number", "a policy's number (XB and "
                                  "eleven digits, the last a check digit) or its id")
    return found


def _policy_table(p: Policy) -> Table:
    table = Table("", "", title=f"Policy {p.policy_no}", show_header=False)
    premium = (f"single {format_yuan(p.single_premium_fen)}" if p.single_premium_fen
               else f"{format_yuan(p.installment_premium_fen)} × {p.term_months} installments")
    for name, value in (
            ("id", str(p.id)), ("status", p.status.value),
            ("product", f"{p.product_code} v{p.product_version} ({p.mode.value} insurance)"),
            ("policyholder / insured", f"{p.policyholder.value} / {p.insured.value}"),
            ("application", str(p.application_id)), ("loan", str(p.loan_id or "not issued")),
            ("sum insured (yuan)", f"{format_yuan(p.sum_insured_fen)}: principal "
                                   f"{format_yuan(p.principal_insured_fen)} + interest "
                                   f"{format_yuan(p.interest_insured_fen)}, at "
                                   f"{p.coverage_share * 100:.0f}%"),
            ("period", f"{p.start_date or '-'} to {p.end_date or '-'} ({p.term_months} months)"),
            ("premium (yuan)", f"{premium} ({p.premium_basis.value}, "
                               f"{p.monthly_premium_rate}/month)"),
            ("earned (yuan)", f"{format_yuan(p.earned_fen)} (by {p.earning})"),
            ("VAT on premium (yuan)", f"{format_yuan(p.total_vat_fen)} at "
                                      f"{p.vat_rate * 100:g}% on top of the premium"),
            ("refunded (yuan)", format_yuan(p.refunded_fen)),
            ("premium receivable, with VAT (yuan)", format_yuan(p.premium_due_fen)),
            ("version", f"{p.version} (xinbao policies endorsements)")):
        table.add_row(name, value)
    return table
