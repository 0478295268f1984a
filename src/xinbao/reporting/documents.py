"""The e-policy issued (issue 23): an issued policy's schedule gathered from the book (the
policy, its product, the funder, the borrower's application and the loan's schedule) and the
wording of ``params/wording.toml``, rendered by ``reporting.epolicy``, and its SHA-256 kept the
first time it is issued (``policy_documents``). The same policy renders the same bytes every
time, so asking again issues the same document; an endorsed policy (its next version, with
its endorsements listed) or a different rendering (a new layout, a new wording version) is
kept beside the first, and the newest is the one issued.
"""

from __future__ import annotations

import functools
import hashlib
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import Any

from xinbao.catalogue.model.parties import InsuranceMode, PartyKind, PolicyRole
from xinbao.iam.access import authorize, own
from xinbao.iam.model.security import Action
from xinbao.kernel.errors import Conflict, require
from xinbao.kernel.identity import mask_id_number, mask_name
from xinbao.kernel.retries import retried
from xinbao.policy.model import Endorsement, EndorsementKind, Policy, PolicyDocument
from xinbao.reporting.epolicy import (
    RENDERER,
    EndorsementLine,
    EPolicy,
    Party,
    ScheduleLine,
    Wording,
    epolicy_pdf,
)
from xinbao.reporting.repository import UnitOfWork


@dataclass(frozen=True, slots=True)
class Wordings:
    """The insurer's names and each insurance mode's wording (``params/wording.toml``)."""

    version: str
    insurer: str
    insurer_en: str
    by_mode: dict[str, Wording]


def parse_wordings(data: dict[str, Any]) -> Wordings:
    """The wordings of a ``wording.toml`` (KeyError, ValueError on a file that lacks one)."""
    by_mode = {}
    for mode in InsuranceMode:
        w = data["wordings"][mode.value]
        exclusions = tuple(str(x) for x in w["exclusions"])
        if not exclusions or int(w["version"]) < 1:
            raise ValueError(f"the {mode.value} wording needs a version and its exclusions")
        by_mode[mode.value] = Wording(str(w["code"]), int(w["version"]), str(w["title"]),
                                      str(w["title_en"]), str(w["coverage"]), exclusions)
    return Wordings(str(data["version"]), str(data["insurer"]["name"]),
                    str(data["insurer"]["name_en"]), by_mode)


@functools.cache
def shipped_wordings() -> Wordings:
    text = resources.files("xinbao.params").joinpath("wording.toml").read_text("utf-8")
    return parse_wordings(tomllib.loads(text))


@dataclass(frozen=True, slots=True)
class IssuedEPolicy:
    """An e-policy as issued: what it says, its bytes and the record of its hash."""

    epolicy: EPolicy
    pdf: bytes
    document: PolicyDocument

    @property
    def sha256(self) -> str:
        return self.document.sha256


_ROLE_NAMES = {"policyholder": ("投保人", "Policyholder"), "insured": ("被保险人", "Insured"),
               "borrower": ("借款人", "Borrower")}


@retried
def issue_epolicy(uow: UnitOfWork, policy_id: int, *, on: date,
                  wordings: Wordings | None = None) -> IssuedEPolicy:
    """An issued policy's e-policy (see the module's docstring); ``on``: the day it is
    issued, kept the first time. NotFound for another funder's policy; Conflict for a quote
    (no loan, no period of cover yet)."""
    authorize(uow, Action.POLICY_READ)
    found = wordings or shipped_wordings()
    with uow:
        policy = require(uow.policies.get(policy_id), "policy", policy_id)
        own(uow, policy.funder_id, "policy", policy_id)
        assert policy.id is not None
        if policy.loan_id is None or policy.start_date is None or policy.end_date is None \
                or policy.issued_on is None:
            raise Conflict(f"policy {policy.policy_no} is a quote: an e-policy is issued "
                           "with the policy")
        product = require(uow.products.get(policy.product_code, policy.product_version),
                          "product", policy.product_code)
        funder = require(uow.funders.get(policy.funder_id), "funder", policy.funder_id)
        application = require(uow.applications.get(policy.application_id), "application",
                              policy.application_id)
        loan = require(uow.loans.get(policy.loan_id), "loan", policy.loan_id)
        borrower = application.borrower
        person = borrower.kind is PartyKind.INDIVIDUAL
        debtor = (mask_name(borrower.name) if person else borrower.name,
                  mask_id_number(borrower.id_number) if person else borrower.id_number)
        creditor = (funder.name, funder.credit_code)
        who = {PolicyRole.DEBTOR: debtor, PolicyRole.CREDITOR: creditor}
        parties = tuple(Party(*_ROLE_NAMES[role], *who[party]) for role, party in (
            ("policyholder", policy.policyholder), ("insured", policy.insured),
            ("borrower", PolicyRole.DEBTOR)))
        wording = found.by_mode[policy.mode.value]
        endorsements = uow.policies.endorsements(policy.id)
        premium = premium_by_installment(policy, endorsements)
        epolicy = EPolicy(
            policy.policy_no, found.insurer, found.insurer_en, policy.mode.value,
            product.code, product.version, product.name, wording, parties, loan.contract_no,
            policy.principal_insured_fen, policy.interest_insured_fen,
            policy.coverage_share, policy.start_date, policy.end_date, policy.issued_on,
            policy.term_months, product.claim_trigger_dpd, product.waiting_period_days,
            policy.premium_basis.value, policy.monthly_premium_rate, policy.single_premium_fen,
            tuple(ScheduleLine(i.number, i.due_date, i.principal_fen, i.interest_fen,
                               premium(i.number)) for i in loan.installments),
            policy.version,
            tuple(EndorsementLine(e.version, e.kind.value, e.effective_on, e.reason,
                                  e.refund_fen) for e in endorsements),
            policy.vat_rate,
            policy.vat_on(policy.single_premium_fen)
            + sum(policy.vat_on(premium(i.number)) for i in loan.installments))
        pdf = epolicy_pdf(epolicy)
        digest = hashlib.sha256(pdf).hexdigest()
        kept = next((d for d in uow.policies.documents(policy.id) if d.sha256 == digest), None)
        if kept is None:
            kept = uow.policies.add_document(PolicyDocument(
                policy.id, digest, RENDERER, wording.label, on))
            uow.commit()
    return IssuedEPolicy(epolicy, pdf, kept)


def premium_by_installment(policy: Policy,
                           endorsements: Sequence[Endorsement]) -> Callable[[int], int]:
    """Each installment's premium as the policy charges it: the premium per installment of
    issue, and from each partial prepayment on, for the installments written after it, the
    lower one it set (its endorsement keeps how many were written before)."""
    levels: list[tuple[int, int]] = []  # (last installment at this premium, the premium)
    for e in endorsements:
        if e.kind is EndorsementKind.PARTIAL_PREPAYMENT:
            written, before = e.details["installments_written"], e.details["premium_before_fen"]
            assert isinstance(written, int) and isinstance(before, int)
            levels.append((written, before))

    def premium(number: int) -> int:
        return next((fen for through, fen in levels if number <= through),
                    policy.installment_premium_fen)
    return premium


def epolicies_issued(uow: UnitOfWork, policy_id: int) -> list[PolicyDocument]:
    """The e-policies issued for a policy, the first first (NotFound: another funder's)."""
    authorize(uow, Action.POLICY_READ)
    with uow:
        policy = require(uow.policies.get(policy_id), "policy", policy_id)
        own(uow, policy.funder_id, "policy", policy_id)
        return uow.policies.documents(policy_id)
