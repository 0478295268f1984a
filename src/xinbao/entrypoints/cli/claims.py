"""``xinbao claims|recoveries``: claims from the end-of-day trigger, a funder's notice or
claims staff; the claims queue; each claim's liability checks with their evidence; review,
approval by authority (a second approver above it), decline with reasons, recalculation;
payment (authority limits and four-eyes: whoever entered or approved a claim cannot pay it);
and the money recovered afterwards. ``--json`` prints the API's own documents."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from xinbao.claims import queries as claim_queries
from xinbao.claims import services as claims
from xinbao.claims.commands import (
    ApproveClaim,
    DeclineClaim,
    FileClaim,
    PayClaim,
    RecalculateClaim,
    RecordRecovery,
    ReviewClaim,
    SettleClaims,
)
from xinbao.claims.model import Claim, ClaimStatus, Document, Exclusion, RightStatus
from xinbao.claims.queries import ClaimFile
from xinbao.claims.repository import SettlementBatch
from xinbao.entrypoints.api.schemas.claims import (
    AssessmentOut,
    ClaimOut,
    RecoveryOut,
    RecoveryRightOut,
    ServiceLevelOut,
)
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
    print_service_levels,
    say_more,
    use_case,
)
from xinbao.kernel.errors import InvalidInput
from xinbao.kernel.money import Money, format_yuan
from xinbao.reporting.statements import statement_csv, statement_of, statement_pdf
from xinbao.servicing.claim_screen import ring_lookup

claims_app = typer.Typer(help="Claims: list, queue, show, file, review, approve, decline, "
                                "recalculate, pay, settle, statement.", no_args_is_help=True)
recoveries_app = typer.Typer(help="Recoveries after a claim is paid (subrogation 代位追偿).",
                             no_args_is_help=True)

ClaimId = Annotated[int, typer.Argument(help="Claim id.", min=1)]
WhyOption = Annotated[str, typer.Option("--why", help="Why: kept in the claim's events.")]
ExclusionOption = Annotated[list[str] | None, typer.Option(
    "--exclusion", help="An exclusion found, as NAME=what shows it (repeat), e.g. "
                        "insured_fraud='audit report 2025-07'. Names: "
                        + ", ".join(e.value for e in Exclusion) + ".")]


def _exclusions(given: list[str] | None) -> dict[Exclusion, str]:
    found: dict[Exclusion, str] = {}
    for item in given or ():
        name, _, shown_by = item.partition("=")
        found[parse_field("exclusion", Exclusion, name.strip())] = shown_by.strip()
    return found


def _documents(given: list[str] | None) -> tuple[Document, ...]:
    found = []
    for item in given or ():
        reference, _, digest = item.rpartition(":")
        found.append(Document(reference.strip(), digest.strip()))
    return tuple(found)


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


@claims_app.command("queue")
def claims_queue(limit: LimitOption = 100, as_json: JsonOption = False,
                 user: UserOption = None, database_url: DatabaseUrl = None) -> None:
    """Claims waiting for a person, the longest since their trigger first (the service
    levels run from it)."""
    container = container_for(database_url, user=user)
    with use_case():
        found = claim_queries.claims_queue(container.uow(), limit=limit)
    if as_json:
        emit_json({"items": [ClaimOut.of(c).model_dump(mode="json") for c in found]})
        return
    table = Table("id", "policy", "source", "trigger", "DPD", "payable", "approvals",
                  title="Claims queue (yuan)")
    for c in found:
        table.add_row(str(c.id), str(c.policy_id), c.source.value, str(c.trigger_on or ""),
                      str(c.days_past_due), format_yuan(c.amount_fen), ", ".join(c.approvals))
    out.print(table)


@claims_app.command("sla")
def claims_sla(as_json: JsonOption = False, user: UserOption = None,
               database_url: DatabaseUrl = None) -> None:
    """Service levels per funder and product: days from each claim's trigger to its
    decision and to its payment (mean, slowest, within the level), automatic claims."""
    container = container_for(database_url, user=user)
    with use_case():
        levels = claim_queries.claim_service_levels(container.uow())
    if as_json:
        emit_json({"items": [ServiceLevelOut.of(x).model_dump(mode="json") for x in levels]})
        return
    print_service_levels(levels)


@claims_app.command("show")
def claims_show(claim_id: ClaimId, as_json: JsonOption = False, user: UserOption = None,
                database_url: DatabaseUrl = None) -> None:
    """One claim: each liability check with its evidence, the amount's breakdown, approvals,
    payment and the recoveries since."""
    container = container_for(database_url, user=user)
    with use_case():
        file = claim_queries.claim_file(container.uow(), claim_id)
    if as_json:
        emit_json({**ClaimOut.of(file.claim).model_dump(mode="json"),
                   "assessments": [AssessmentOut.of(a).model_dump(mode="json")
                                   for a in file.assessments],
                   "documents": [{"reference": d.reference, "sha256": d.sha256}
                                 for d in file.documents],
                   "opened_by": list(file.opened_by), "paid_by": list(file.paid_by),
                   "recoveries": [RecoveryOut.of(r).model_dump(mode="json")
                                  for r in file.recoveries],
                   "recovery_right": None if file.right is None else {
                       "id": file.right.id, "opened_on": file.right.opened_on.isoformat(),
                       "amount_fen": file.right.amount_fen,
                       "status": file.right.status.value,
                       "closed_on": None if file.right.closed_on is None
                       else file.right.closed_on.isoformat()}})
        return
    _print_file(file)


@claims_app.command("file")
def claims_file(
    policy_id: Annotated[int, typer.Argument(help="Policy id the claim is about.", min=1)],
    on: OnOption = None,
    reference: Annotated[str | None, typer.Option(
        help="The funder's notice reference (a funder's user must give one; the same one "
             "again is the same notice).")] = None,
    claimed: Annotated[str | None, typer.Option(
        help="A partial claim: the amount asked, yuan.")] = None,
    document: Annotated[list[str] | None, typer.Option(
        "--document", help="A document by REFERENCE:SHA256 (repeat).")] = None,
    exclusion: ExclusionOption = None,
    as_json: JsonOption = False,
    user: UserOption = None,
    database_url: DatabaseUrl = None,
) -> None:
    """A claim notice or a claim entered by claims staff: assessed at once; declined with
    its reasons, kept until its trigger, approved automatically, or queued for a person."""
    container = container_for(database_url, user=user)
    with use_case():
        uow = container.uow()
        claim = claims.file_claim(FileClaim(
            policy_id, business_date(on), _exclusions(exclusion), reference=reference,
            claimed_fen=None if claimed is None else parse_field(
                "claimed", lambda v: Money.yuan(v).fen, claimed),
            documents=_documents(document)), uow, rings=ring_lookup(uow))
    _done(claim, as_json)


@claims_app.command("review")
def claims_review(claim_id: ClaimId, why: WhyOption, on: OnOption = None,
                  as_json: JsonOption = False, user: UserOption = None,
                  database_url: DatabaseUrl = None) -> None:
    """Take a notified claim into review, or reopen a declined one on appeal (assessed
    again)."""
    container = container_for(database_url, user=user)
    with use_case():
        uow = container.uow()
        claim = claims.review_claim(ReviewClaim(claim_id, business_date(on), why), uow,
                                    rings=ring_lookup(uow))
    _done(claim, as_json)


@claims_app.command("approve")
def claims_approve(claim_id: ClaimId, on: OnOption = None,
                   why: Annotated[str, typer.Option("--why", help="Kept with the approval.")]
                   = "", as_json: JsonOption = False, user: UserOption = None,
                   database_url: DatabaseUrl = None) -> None:
    """Accept liability (every check must pass). Above your authority (claim.approve) your
    approval is kept and a second approver completes it."""
    container = container_for(database_url, user=user)
    with use_case():
        claim = claims.approve_claim(ApproveClaim(claim_id, business_date(on), why),
                                     container.uow())
    _done(claim, as_json)


@claims_app.command("decline")
def claims_decline(claim_id: ClaimId, why: WhyOption, on: OnOption = None,
                   exclusion: ExclusionOption = None, as_json: JsonOption = False,
                   user: UserOption = None, database_url: DatabaseUrl = None) -> None:
    """Decline a claim not yet approved, with the exclusions found (or checks that fail
    already); its reserve is released."""
    container = container_for(database_url, user=user)
    with use_case():
        claim = claims.decline_claim(DeclineClaim(claim_id, business_date(on), why,
                                                  _exclusions(exclusion)), container.uow())
    _done(claim, as_json)


@claims_app.command("recalculate")
def claims_recalculate(claim_id: ClaimId, on: OnOption = None, as_json: JsonOption = False,
                       user: UserOption = None, database_url: DatabaseUrl = None) -> None:
    """Assess a claim not yet paid again (the funder corrected its data); the difference
    is kept and shown."""
    container = container_for(database_url, user=user)
    with use_case():
        uow = container.uow()
        claim = claims.recalculate_claim(RecalculateClaim(claim_id, business_date(on)), uow,
                                         rings=ring_lookup(uow))
    _done(claim, as_json)


def _done(claim: Claim, as_json: bool) -> None:
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
    and cannot be whoever entered or approved the claim; paying it again changes nothing."""
    container = container_for(database_url, user=user)
    with use_case():
        claim = claims.pay_claim(PayClaim(claim_id, business_date(on)), container.uow())
    if as_json:
        emit_json(ClaimOut.of(claim).model_dump(mode="json"))
        return
    out.print(f"Claim {claim.id} paid on {claim.paid_on}: {format_yuan(claim.amount_fen)} "
              "yuan to the insured.")


OutOption = Annotated[Path, typer.Option(
    "--out", help="Folder for the statement (NUMBER.csv and NUMBER.pdf).", file_okay=False)]


@claims_app.command("settle")
def claims_settle(
    funder: Annotated[str, typer.Argument(help="Funder code.")],
    on: OnOption = None,
    out_dir: OutOption = Path("out/statements"),
    as_json: JsonOption = False,
    user: UserOption = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Pay the funder's approved claims of its last whole settlement cycle (its agreement's
    days) together, and write the statement (CSV and PDF, in Chinese and English). Asked
    again for the same cycle: the batch made before, nothing paid twice."""
    container = container_for(database_url, user=user)
    with use_case():
        batch = claims.settle_claims(SettleClaims(funder, business_date(on)), container.uow())
    _statement(batch, out_dir, as_json)


@claims_app.command("statement")
def claims_statement(
    settlement_id: Annotated[int, typer.Argument(help="Payment batch id.", min=1)],
    out_dir: OutOption = Path("out/statements"),
    as_json: JsonOption = False,
    user: UserOption = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Write a payment batch's statement again (CSV and PDF)."""
    container = container_for(database_url, user=user)
    with use_case():
        batch = claim_queries.settlement_batch(container.uow(), settlement_id)
    _statement(batch, out_dir, as_json)


def _statement(batch: SettlementBatch, out_dir: Path, as_json: bool) -> None:
    statement = statement_of(batch)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {kind: out_dir / f"{statement.number}.{kind}" for kind in ("csv", "pdf")}
    for kind, render in (("csv", statement_csv), ("pdf", statement_pdf)):
        part = paths[kind].with_suffix(f".{kind}.part")
        part.write_bytes(render(statement))
        part.replace(paths[kind])  # whole or not at all
    s = batch.settlement
    if as_json:
        emit_json({"id": s.id, "number": s.number, "funder": batch.funder_code,
                   "cycle_from": s.cycle_from.isoformat(), "cycle_to": s.cycle_to.isoformat(),
                   "paid_on": s.paid_on.isoformat(), "claims": s.claims,
                   "total_fen": s.total_fen, "repeat": batch.repeat,
                   "claim_ids": [line.claim.id for line in batch.lines],
                   "files": {k: str(p) for k, p in paths.items()}})
        return
    out.print(f"{'Made before: ' if batch.repeat else ''}payment batch {s.number}: "
              f"{s.claims} claims of {batch.funder_code} ({s.cycle_from} to {s.cycle_to}), "
              f"{format_yuan(s.total_fen)} yuan paid on {s.paid_on}. Statement: "
              f"{paths['csv']}, {paths['pdf']}", markup=False)


@recoveries_app.command("rights")
def recoveries_rights(
    status: Annotated[str, typer.Option(
        help="open (with collection), closed or all.")] = "open",
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    as_json: JsonOption = False,
    user: UserOption = None,
    database_url: DatabaseUrl = None,
) -> None:
    """The recovery rights paid claims handed to collection, the oldest first, with what
    has been recovered on each."""
    container = container_for(database_url, user=user)
    with use_case():
        if status not in ("open", "closed", "all"):
            raise InvalidInput.single("status", "recovery.status",
                                      "status is open, closed or all")
        rows = claim_queries.recovery_rights(
            container.uow(), status=None if status == "all" else RightStatus(status),
            limit=limit)
    if as_json:
        emit_json({"items": [RecoveryRightOut.of(r).model_dump(mode="json") for r in rows]})
        return
    table = Table("right", "claim", "policy", "contract", "handed over", "paid (yuan)",
                  "recovered (yuan)", "outstanding (yuan)", "status",
                  title=f"Recovery rights ({status})")
    for row in rows:
        r = row.right
        table.add_row(str(r.id), str(r.claim_id), row.policy_no, row.contract_no,
                      str(r.opened_on), format_yuan(r.amount_fen), format_yuan(row.recovered_fen),
                      format_yuan(max(r.amount_fen - row.recovered_fen, 0)),
                      r.status.value + (f" ({r.closed_on})" if r.closed_on else ""))
    out.print(table)


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
            ("source", c.source.value + (f" ({c.reference})" if c.reference else "")),
            ("opened on", str(c.opened_on)),
            ("trigger on", f"{c.trigger_on or '-'} ({c.days_past_due} days past due)"),
            ("principal (yuan)", format_yuan(c.principal_fen)),
            ("interest (yuan)", format_yuan(c.interest_fen)),
            ("penalty (yuan)", format_yuan(c.penalty_fen)),
            ("deductible (yuan)", format_yuan(c.deductible_fen)),
            ("asked (yuan)", "-" if c.claimed_fen is None else format_yuan(c.claimed_fen)),
            ("payable (yuan)", format_yuan(c.amount_fen)),
            ("case reserve (yuan)", format_yuan(c.reserve_fen)),
            ("approvals", ", ".join(c.approvals) or "-"),
            ("decided on", str(c.decided_on or "-")),
            ("reasons", ", ".join(c.reason_codes) or "-"),
            ("referred by", ", ".join(c.referrals) or "-"),
            ("paid on", str(c.paid_on or "-")),
            ("recovered (yuan)", format_yuan(c.recovered_fen))):
        table.add_row(name, value)
    out.print(table)


def _print_file(file: ClaimFile) -> None:
    _print_claim(file.claim)
    out.print(f"entered by {', '.join(file.opened_by) or '-'}; "
              f"paid by {', '.join(file.paid_by) or '-'}", markup=False)
    for record in file.assessments:
        a = record.assessment
        checks = Table("check", "result", "finding", "evidence",
                       title=f"Assessment of {a.assessed_on} ({record.reason}): "
                             f"{'covered' if a.covered else 'not covered'}, payable "
                             f"{format_yuan(a.amount.payable_fen)} yuan "
                             f"({record.difference_fen:+,} fen)")
        for c in a.checks:
            checks.add_row(c.code, "pass" if c.passed else "FAIL", c.message,
                           ", ".join(f"{k}={v}" for k, v in c.evidence.items()))
        out.print(checks)
        for referral in a.referrals:
            out.print(f"  referred {referral.code}: {referral.message} ("
                      + ", ".join(f"{k}={v}" for k, v in referral.evidence.items()) + ")",
                      markup=False)
        b = a.amount
        out.print(f"  amount: ({format_yuan(b.principal_fen)} principal + "
                  f"{format_yuan(b.interest_fen)} interest + {format_yuan(b.penalty_fen)} "
                  f"penalty) × {b.share} = {format_yuan(b.gross_fen)}, less "
                  f"{format_yuan(b.deductible_fen)} deductible"
                  + ("" if b.claimed_fen is None else
                     f", at most {format_yuan(b.claimed_fen)} asked")
                  + f" = {format_yuan(b.payable_fen)} yuan", markup=False)
    for d in file.documents:
        out.print(f"  document {d.reference} sha256 {d.sha256}", markup=False)
    for r in file.recoveries:
        out.print(f"  recovered {format_yuan(r.amount_fen)} yuan on {r.received_on} "
                  f"({r.source})", markup=False)
    if file.right is not None:
        right = file.right
        out.print(f"  recovery right {right.id}: {format_yuan(right.amount_fen)} yuan, handed "
                  f"to collection on {right.opened_on}, {right.status.value}"
                  + (f" since {right.closed_on}" if right.closed_on else ""), markup=False)
