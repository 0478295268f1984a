"""Routes of policies: issuing a policy on disbursement, and reading policies."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from xinbao.entrypoints.api.deps import ERRORS, Me, PathId, today
from xinbao.entrypoints.api.schemas.common import BIGINT_MAX
from xinbao.entrypoints.api.schemas.policy import (
    CancelIn,
    EndorsementOut,
    IssueIn,
    PartialPrepaymentIn,
    PolicyOut,
    PolicyPageOut,
    RestructureIn,
    TransferIn,
)
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
from xinbao.reporting.documents import issue_epolicy

router = APIRouter(prefix="/v1", tags=["policies"], responses=ERRORS)


@router.post("/policies/{policy_id}/issue", response_model=PolicyOut)
def issue_policy(policy_id: PathId, body: IssueIn, me: Me) -> PolicyOut:
    p = policies.issue_policy(IssuePolicy(
        policy_id=policy_id, contract_no=body.contract_no, disbursed_on=body.disbursed_on,
        on=body.on or body.disbursed_on, premium_paid=body.premium_paid), me.uow())
    return PolicyOut.of(p)


@router.get("/policies", response_model=PolicyPageOut)
def list_policies(me: Me, after_id: Annotated[int, Query(ge=0, le=BIGINT_MAX)] = 0,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> PolicyPageOut:
    found = policy_queries.list_policies(me.uow(), after_id=after_id, limit=limit)
    return PolicyPageOut(items=[PolicyOut.of(p) for p in found],
                         next_after_id=found[-1].id if len(found) == limit else None)


@router.get("/policies/{policy_id}", response_model=PolicyOut)
def get_policy(policy_id: PathId, me: Me) -> PolicyOut:
    return PolicyOut.of(policy_queries.get_policy(me.uow(), policy_id))


@router.get("/policies/{policy_id}/epolicy.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}},
                             "description": "the e-policy; its SHA-256 in X-Document-SHA256"}})
def get_epolicy(policy_id: PathId, me: Me) -> Response:
    """The issued policy's e-policy (PDF, Chinese with English labels): the same bytes every
    time, its SHA-256 kept when first issued. 409 for a quote."""
    issued = issue_epolicy(me.uow(), policy_id, on=today())
    return Response(issued.pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{issued.epolicy.policy_no}.pdf"',
        "X-Document-SHA256": issued.sha256})


@router.post("/policies/{policy_id}/cancel", response_model=EndorsementOut)
def cancel_policy(policy_id: PathId, body: CancelIn, me: Me) -> EndorsementOut:
    """Cancel a policy in force at the policyholder's request: within the cooling-off period
    every premium back, after it the unearned premium; the commission on the refund clawed
    back. Again, it answers with the cancellation made."""
    return EndorsementOut.of(endorsements.cancel_policy(CancelPolicy(
        policy_id, body.on or today(), body.reason, body.insured_consent), me.uow()))


@router.post("/policies/{policy_id}/transfer", response_model=EndorsementOut)
def transfer_policy(policy_id: PathId, body: TransferIn, me: Me) -> EndorsementOut:
    """The loan sold to another funder: it becomes the insured; the borrower never changes.
    Again, it answers with the transfer made."""
    return EndorsementOut.of(endorsements.transfer_policy(TransferPolicy(
        policy_id, body.to_funder, body.contract_no, body.on or today(), body.reason),
        me.uow()))


@router.post("/policies/{policy_id}/restructure", response_model=EndorsementOut)
def restructure_loan(policy_id: PathId, body: RestructureIn, me: Me) -> EndorsementOut:
    """The funder restructured the insured loan: its new schedule from the first installment
    not paid. With the insurer's consent (its staff's) the cover follows it; without, the
    policy notes it and a claim finds the loan not as insured. Again (the same reference),
    it answers with the endorsement made."""
    return EndorsementOut.of(endorsements.restructure_loan(RestructureLoan(
        policy_id, body.on or today(), body.installments, body.reference, body.reason,
        body.consent, body.annual_rate), me.uow()))


@router.post("/loans/{loan_id}/partial-prepayments", response_model=EndorsementOut)
def prepay_in_part(loan_id: PathId, body: PartialPrepaymentIn, me: Me) -> EndorsementOut:
    """Part of the loan's principal repaid early: the installments left fall (the term
    stays), the cover with them; the unearned single premium's share of the principal
    repaid is refunded, the commission on it clawed back. Again (the same reference), it
    answers with the endorsement made."""
    return EndorsementOut.of(endorsements.prepay_in_part(PrepayInPart(
        loan_id, body.paid_on, body.principal_fen, body.interest_fen, body.reference),
        me.uow()))


@router.get("/policies/{policy_id}/endorsements", response_model=list[EndorsementOut])
def policy_endorsements(policy_id: PathId, me: Me) -> list[EndorsementOut]:
    """The policy's endorsements, the oldest first."""
    return [EndorsementOut.of(e) for e in policy_queries.endorsements_of(me.uow(), policy_id)]
