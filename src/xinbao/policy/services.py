"""Issuing policies: the funder disburses, each loan's schedule is fixed, premium is posted.

A disbursement file is issued in one transaction with bulk writes; each refused item is
rejected alone. ``issue_policy`` is the same path for one loan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from xinbao.catalogue.model.parties import Funder
from xinbao.iam.access import authorize
from xinbao.iam.model.security import Action
from xinbao.kernel.errors import (
    Conflict,
    DomainError,
    IllegalTransition,
    InvalidInput,
    NotFound,
    require,
)
from xinbao.kernel.events import Event
from xinbao.kernel.results import FileOutcome, Rejection
from xinbao.kernel.retries import retried
from xinbao.loans.model import Loan
from xinbao.policy.commands import IssuePolicies, IssuePolicy
from xinbao.policy.model import Policy, PolicyStatus
from xinbao.policy.premiums import post_single_premiums
from xinbao.policy.repository import UnitOfWork
from xinbao.policy.rules import PolicyRules, shipped
from xinbao.underwriting.model import Application


@dataclass(frozen=True, slots=True)
class Issued:
    policy: Policy
    loan: Loan


@retried
def issue_policy(cmd: IssuePolicy, uow: UnitOfWork,
                 rules: PolicyRules | None = None) -> Policy:
    """Bind the quoted policy to the disbursed loan and post its premium, all or nothing.

    Repeating the command for the same loan contract returns the issued policy unchanged.
    """
    authorize(uow, Action.POLICY_ISSUE)
    with uow:
        outcome = issue_items(uow, [cmd], rules)
        if outcome.rejected:
            raise outcome.rejected[0].error
        uow.commit()
    return outcome.accepted[0].policy


@retried
def issue_policies(cmd: IssuePolicies, uow: UnitOfWork) -> FileOutcome[Issued]:
    """A disbursement file in one transaction; each refused item is rejected alone."""
    authorize(uow, Action.POLICY_ISSUE)
    with uow:
        outcome = issue_items(uow, cmd.items)
        uow.commit()
    return outcome


def issue_items(uow: UnitOfWork, items: Sequence[IssuePolicy],
                rules: PolicyRules | None = None) -> FileOutcome[Issued]:
    """Issue each item inside the caller's open unit of work, which authorizes and commits
    (``issue_policy``, ``issue_policies``, a funder's disbursement file in
    ``servicing.feed_types``): each refused item rejected alone, a contract issued before
    for the same policy returned as it is. Each policy earns its single premium as its
    product's ``rules`` say (``params/policy.toml``: by time, or by exposure)."""
    rules = rules or shipped()
    found = {p.id: p for p in uow.policies.get_many(i.policy_id for i in items)}
    applications = uow.applications.get_many({p.application_id for p in found.values()})
    funders: dict[int, Funder] = {}
    taken: dict[int, set[str]] = {}  # funder → contract numbers already insured
    for p in found.values():
        if p.funder_id not in funders:
            funders[p.funder_id] = require(uow.funders.get(p.funder_id), "funder", p.funder_id)
    for funder_id in funders:
        contracts = [i.contract_no for i in items
                     if i.policy_id in found and found[i.policy_id].funder_id == funder_id]
        taken[funder_id] = set(uow.loans.headers(funder_id, contracts))
    # The policies once more, after their contracts: reads see what is committed when each
    # runs, so a concurrent issue of the same contract committed before the contracts were
    # read is seen here too, as the repeat it is (not as a contract insured already).
    found = {p.id: p for p in uow.policies.get_many(i.policy_id for i in items)}
    rejected: list[Rejection] = []
    repeats: list[tuple[int, Issued]] = []
    fresh: list[tuple[int, IssuePolicy, Policy, Loan]] = []
    for index, cmd in enumerate(items):
        try:
            policy = found.get(cmd.policy_id)
            if policy is None or not uow.actor.sees_funder(policy.funder_id):
                raise NotFound("policy", cmd.policy_id)
            repeat = _repeat(uow, policy, cmd)
            if repeat is not None:
                repeats.append((index, repeat))
                continue
            fresh.append((index, cmd, policy, _disburse(cmd, policy, applications,
                                                        taken[policy.funder_id])))
        except DomainError as exc:
            rejected.append(Rejection(index, cmd.contract_no, exc))
    uow.loans.add_many([loan for *_, loan in fresh])
    issued: list[tuple[int, Issued]] = []
    for index, cmd, policy, loan in fresh:
        assert loan.id is not None
        policy.issue(on=cmd.on, start=cmd.disbursed_on, loan_id=loan.id,
                     interest_fen=sum(i.interest_fen for i in loan.installments))
        policy.earning = rules.earning_for(policy.product_code)
        policy.come_into_force(cmd.on)
        issued.append((index, Issued(policy, loan)))
    by_day: dict[tuple[date, bool], list[Policy]] = {}
    for _, cmd, policy, _ in fresh:
        if policy.single_premium_fen:
            by_day.setdefault((cmd.on, cmd.premium_paid), []).append(policy)
    for (on, paid), group in by_day.items():
        post_single_premiums(uow, group, funders, on=on, collected=paid)
    uow.policies.save_many(policy for _, _, policy, _ in fresh)
    accepted = sorted(issued + repeats, key=lambda pair: pair[0])
    return FileOutcome(tuple(i for _, i in accepted),
                       tuple(sorted(rejected, key=lambda r: r.index)))


def _repeat(uow: UnitOfWork, policy: Policy, cmd: IssuePolicy) -> Issued | None:
    """The issued policy again when the same contract is sent twice."""
    if policy.status is PolicyStatus.QUOTED or policy.loan_id is None:
        return None
    loan = uow.loans.get(policy.loan_id)
    if loan is not None and loan.contract_no == cmd.contract_no:
        return Issued(policy, loan)
    return None


def _disburse(cmd: IssuePolicy, policy: Policy, applications: Mapping[int, Application],
              taken: set[str]) -> Loan:
    if not cmd.contract_no.strip():
        raise InvalidInput.single("contract_no", "loan.contract_no",
                                  "the funder's loan contract number is required")
    if policy.status is not PolicyStatus.QUOTED:
        raise IllegalTransition("policy", policy.id, policy.status.value, "issue")
    if cmd.disbursed_on < policy.quoted_on:
        raise InvalidInput.single("disbursed_on", "loan.disbursement_date",
                                  "a loan cannot be disbursed before its policy was quoted")
    if cmd.on < cmd.disbursed_on:
        raise InvalidInput.single("on", "policy.issue_date",
                                  "a policy is issued on or after disbursement")
    application = applications.get(policy.application_id)
    if application is None:  # pragma: no cover - referential integrity
        raise Conflict(f"policy {policy.id} refers to a missing application")
    contract = cmd.contract_no.strip()
    if contract in taken:
        raise Conflict(f"loan contract {contract!r} is insured already")
    taken.add(contract)
    loan = Loan.disburse(
        funder_id=policy.funder_id, contract_no=contract,
        principal_fen=policy.principal_insured_fen,  # the approved amount (the limit may cut it)
        annual_rate=application.annual_rate,
        term_months=application.term_months, method=application.repayment_method,
        start=cmd.disbursed_on)
    loan.events.append(Event("LoanDisbursed", "loan", None, cmd.disbursed_on, {
        "policy_id": policy.id, "principal_fen": loan.principal_fen}))
    return loan
