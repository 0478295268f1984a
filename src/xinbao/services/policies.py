"""Issuing a policy: the funder disburses, the loan's schedule is fixed, premium is posted."""

from __future__ import annotations

from dataclasses import dataclass

from xinbao.domain.errors import Conflict, DomainError, InvalidInput, require
from xinbao.domain.events import Event
from xinbao.domain.loans import Loan
from xinbao.domain.parties import Funder
from xinbao.domain.policy import Policy, PolicyStatus
from xinbao.services.commands import IssuePolicies, IssuePolicy
from xinbao.services.premiums import post_single_premium
from xinbao.services.results import FileOutcome, Rejection
from xinbao.services.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class Issued:
    policy: Policy
    loan: Loan


def issue_policy(cmd: IssuePolicy, uow: UnitOfWork) -> Policy:
    """Bind the quoted policy to the disbursed loan and post its premium, all or nothing.

    Repeating the command for the same loan contract returns the issued policy unchanged.
    """
    with uow:
        issued = _issue(uow, cmd, {})
        uow.commit()
    return issued.policy


def issue_policies(cmd: IssuePolicies, uow: UnitOfWork) -> FileOutcome[Issued]:
    """A disbursement file in one transaction; each refused item is rejected alone."""
    accepted: list[Issued] = []
    rejected: list[Rejection] = []
    with uow:
        funders: dict[int, Funder] = {}
        for index, item in enumerate(cmd.items):
            try:
                accepted.append(_issue(uow, item, funders))
            except DomainError as exc:
                rejected.append(Rejection(index, item.contract_no, exc))
        uow.commit()
    return FileOutcome(tuple(accepted), tuple(rejected))


def _issue(uow: UnitOfWork, cmd: IssuePolicy, funders: dict[int, Funder]) -> Issued:
    if not cmd.contract_no.strip():
        raise InvalidInput.single("contract_no", "loan.contract_no",
                                  "the funder's loan contract number is required")
    policy = require(uow.policies.get(cmd.policy_id), "policy", cmd.policy_id)
    if policy.status is not PolicyStatus.QUOTED:
        loan = uow.loans.get(policy.loan_id) if policy.loan_id else None
        if loan is not None and loan.contract_no == cmd.contract_no:
            return Issued(policy, loan)
    if cmd.disbursed_on < policy.quoted_on:
        raise InvalidInput.single("disbursed_on", "loan.disbursement_date",
                                  "a loan cannot be disbursed before its policy was quoted")
    if cmd.on < cmd.disbursed_on and policy.status is PolicyStatus.QUOTED:
        raise InvalidInput.single("on", "policy.issue_date",
                                  "a policy is issued on or after disbursement")
    application = uow.applications.get(policy.application_id)
    if policy.funder_id not in funders:
        funders[policy.funder_id] = uow.funders.get(policy.funder_id)
    funder = funders[policy.funder_id]
    if application is None or funder is None:  # pragma: no cover - referential integrity
        raise Conflict(f"policy {policy.id} refers to missing records")
    if uow.loans.get_by_contract(funder.id, cmd.contract_no) is not None:
        raise Conflict(f"loan contract {cmd.contract_no!r} of {funder.code} is insured "
                       "already")
    loan = Loan.disburse(
        funder_id=funder.id, contract_no=cmd.contract_no.strip(),
        principal_fen=application.amount_fen, annual_rate=application.annual_rate,
        term_months=application.term_months, method=application.repayment_method,
        start=cmd.disbursed_on)
    loan.events.append(Event("LoanDisbursed", "loan", None, cmd.disbursed_on, {
        "policy_id": policy.id, "principal_fen": loan.principal_fen}))
    loan = uow.loans.add(loan)
    policy.issue(on=cmd.on, start=cmd.disbursed_on, loan_id=loan.id)
    policy.come_into_force(cmd.on)
    if policy.single_premium_fen:
        post_single_premium(uow, policy, funder, on=cmd.on, collected=cmd.premium_paid)
    uow.policies.save(policy)
    return Issued(policy, loan)
