"""Small builders for tests: a seeded catalogue, funders and applications that pass every
rule unless a test changes one field."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

from xinbao.catalogue import services as catalogue
from xinbao.catalogue.commands import RegisterFunder, RegisterProduct
from xinbao.catalogue.model.parties import FunderKind, InsuranceMode, PartyKind, PolicyRole
from xinbao.catalogue.model.products import (
    PremiumBasis,
    ProductFamily,
    RefundMethod,
    RepaymentMethod,
)
from xinbao.ledger import services as ledger
from xinbao.ledger.commands import InjectCapital
from xinbao.parameters import (
    load_antifraud_rules,
    load_collateral_rules,
    load_parameters,
    load_product_catalogue,
    load_risk_parameters,
)
from xinbao.policy import services as policies
from xinbao.policy.commands import IssuePolicy
from xinbao.policy.model import Policy
from xinbao.risk import approval
from xinbao.risk.commands import ApproveApplication
from xinbao.risk.model.antifraud import RuleSet
from xinbao.risk.model.bureau import BureauResult, Report, Standing, Status
from xinbao.risk.model.decision import RiskTerms, ScoreResult
from xinbao.risk.model.pricing import PricingTerms
from xinbao.risk.services import BureauQuery, RiskEngine
from xinbao.underwriting import services as applications
from xinbao.underwriting.commands import SubmitApplication
from xinbao.underwriting.model import (
    CollateralKind,
    CollateralOffer,
    Evidence,
    EvidenceKind,
    Profile,
)

# Valid numbers, checked by python-stdnum (the check digits are right).
RESIDENT_ID = "11010519491231002X"
RESIDENT_ID_2 = "110105198001011238"
CREDIT_CODE_BANK = "911100001000033177"
CREDIT_CODE_CFC = "91310115MA1K3YJ12G"
CREDIT_CODE_SME = "91310101MA1FPX1R3U"
PHONE = "13812345678"
BANK_CARD = "6222021234567890128"

START = date(2025, 1, 15)
#: Paid-in capital of the test insurer: net assets of 100 million yuan, so the regulatory
#: limits (k × net assets, 1 % per obligor) leave room for the tests' loans.
CAPITAL_FEN = 10_000_000_000
INCOME_FEN = 2_000_000  # 20,000 yuan a month
SHA = "ab" * 32


# --- a risk engine for tests -------------------------------------------------------------------


class FixedScorer:
    """Every application gets the same PD (a fake of the model registry)."""

    def __init__(self, pd: str = "0.02", model: str = "test/v1") -> None:
        self.pd, self.model = Decimal(pd), model
        self.calls = 0

    def score(self, rows: Sequence[Mapping[str, Any]], keys: Sequence[int]) -> list[ScoreResult]:
        self.calls += 1
        return [ScoreResult(self.pd, 700, (), self.model) for _ in rows]


class FakeBureau:
    """A clean report for everyone, unless a borrower's result is set."""

    def __init__(self, results: dict[str, BureauResult] | None = None) -> None:
        self.results = results or {}
        self.asked: list[str] = []

    def fetch_many(self, queries: Sequence[BureauQuery]) -> list[BureauResult]:
        self.asked += [q.id_number for q in queries]
        return [self.results.get(q.id_number) or BureauResult(Status.OK, Report(
            f"R-{q.id_number[-4:]}", q.on, 720, 1, 200_000, 2, Standing.CLEAN), 300)
            for q in queries]


@functools.cache
def _list_price_terms() -> dict[ProductFamily, RiskTerms]:
    """Terms that price every family at its catalogue list rate (floor = cap = list rate),
    so tests of the later lifecycle get the premiums the catalogue shows."""
    real = load_risk_parameters().terms
    listed = {cmd.family: cmd.monthly_premium_rate * 12 for cmd in load_product_catalogue()}
    return {f: RiskTerms(PricingTerms(t.pricing.lgd, t.pricing.expense_loading,
                                      t.pricing.cost_of_capital, t.pricing.margin,
                                      listed[f], listed[f]),
                         t.max_dsr, t.pd_refer, t.pd_decline) for f, t in real.items()}


def engine(*, scorer: Any = None, bureau: Any = None, rule_set: RuleSet | None = None,
           list_price: bool = True, cost_cap: str = "0.36") -> RiskEngine:
    """The engine with fakes for the model and the bureau. By default: catalogue list prices,
    a 36 % cost cap and no anti-fraud rules, so lifecycle tests are about the lifecycle;
    engine tests pass the shipped rules and terms."""
    params = load_risk_parameters()
    if list_price:
        params = replace(params, terms=_list_price_terms())
    shipped = load_antifraud_rules()
    rules = rule_set or RuleSet(shipped.version, shipped.source, ())
    base = load_parameters()
    return RiskEngine(params=params, rule_set=rules, collateral=load_collateral_rules(),
                      cost_cap=Decimal(cost_cap), annualization=base.annualization,
                      vat_rate=base.vat_rate, scorer=scorer or FixedScorer(),
                      bureau=bureau or FakeBureau())


def evidence(*, sales: bool = True) -> tuple[Evidence, ...]:
    items = [Evidence(EvidenceKind.CONSENT, "archive://consent/1.pdf", SHA)]
    if sales:
        items.append(Evidence(EvidenceKind.SALES_RECORDING, "archive://sales/1.mp4", SHA))
    return tuple(items)


def products() -> dict[str, RegisterProduct]:
    return {cmd.code: cmd for cmd in load_product_catalogue()}


def bank(code: str = "BANK-A", *, licensed: bool = True,
         products: tuple[str, ...] = ("CONSUMER-G", "CAR-G", "MORTGAGE-C", "SME-C"),
         ) -> RegisterFunder:
    """A bank whose cooperation agreement covers the whole shipped catalogue."""
    return RegisterFunder(code=code, name="示例银行股份有限公司", credit_code=CREDIT_CODE_BANK,
                          kind=FunderKind.BANK, licensed=licensed,
                          commission_rate=Decimal("0.10"), products=products,
                          effective_from=date(2024, 12, 31))


def seed(uow_factory, *, funders: tuple[RegisterFunder, ...] | None = None,
         capital_fen: int = CAPITAL_FEN) -> None:
    """Register the shipped catalogue and a licensed bank; pay in the insurer's capital."""
    if capital_fen:
        ledger.inject_capital(InjectCapital(capital_fen, date(2024, 12, 31), "capital:test"),
                              uow_factory())
    for cmd in products().values():
        catalogue.register_product(cmd, uow_factory())
    for f in funders if funders is not None else (bank(),):
        catalogue.register_funder(f, uow_factory())


def consumer_application(**changes: object) -> SubmitApplication:
    """A guarantee-insured consumer loan: 36,000 yuan over 12 months at 12 %, to a salaried
    borrower of 45 earning 20,000 yuan a month, with consent and a sales recording."""
    cmd = SubmitApplication(
        funder_code="BANK-A", external_ref="APP-0001", product_code="CONSUMER-G",
        borrower_kind=PartyKind.INDIVIDUAL, borrower_name="张三",
        borrower_id_number=RESIDENT_ID_2, borrower_phone=PHONE, borrower_bank_card=BANK_CARD,
        amount_fen=3_600_000, term_months=12, annual_rate=Decimal("0.12"),
        repayment_method=RepaymentMethod.EQUAL_INSTALLMENT, applied_on=START,
        profile=Profile(monthly_income_fen=INCOME_FEN, employment="salaried"),
        evidence=evidence())
    return replace(cmd, **changes)


def car_application(**changes: object) -> SubmitApplication:
    """A guarantee-insured car loan with a single premium: 120,000 yuan over 24 months."""
    return consumer_application(**{
        "external_ref": "APP-CAR-1", "product_code": "CAR-G", "amount_fen": 12_000_000,
        "term_months": 24, "annual_rate": Decimal("0.06"),
        "collateral": CollateralOffer(CollateralKind.CAR, new_price_fen=20_000_000,
                                      brand_tier="mainstream", first_registered=START),
        **changes})


def sme_application(**changes: object) -> SubmitApplication:
    """A credit-insured small-business loan, interest first: 300,000 yuan over 12 months."""
    return consumer_application(**{
        "external_ref": "APP-SME-1", "product_code": "SME-C",
        "borrower_kind": PartyKind.ENTERPRISE, "borrower_name": "示例科技有限公司",
        "borrower_id_number": CREDIT_CODE_SME, "amount_fen": 30_000_000,
        "repayment_method": RepaymentMethod.INTEREST_FIRST, "annual_rate": Decimal("0.08"),
        "profile": Profile(monthly_income_fen=50_000_000, industry="manufacturing"),
        "evidence": evidence(sales=False), **changes})


def approve(uow_factory, application_id: int, on: date = START, *,
            risk: RiskEngine | None = None) -> approval.ApprovalResult:
    return approval.approve_application(ApproveApplication(application_id, on),
                                            uow_factory(), risk or engine())


def issued_policy(uow_factory, cmd: SubmitApplication | None = None, *, on: date = START,
                  rules: Any = None):
    """Submit, approve and issue (under the policy ``rules`` given, else the shipped ones);
    returns the issued policy."""
    cmd = cmd or consumer_application()
    app = applications.submit_application(cmd, uow_factory())
    decided = approve(uow_factory, app.id, on)
    assert decided.policy is not None, decided.decision
    return policies.issue_policy(IssuePolicy(decided.policy.id, f"LN-{cmd.external_ref}", on,
                                             on), uow_factory(), rules)


def single_premium_policy(**changes: object) -> Policy:
    """A car-loan guarantee policy, quoted on START: 78,000 fen single premium over twelve
    months, refunded by the Rule of 78 (id 7)."""
    p = Policy(
        application_id=1, product_code="CAR-G", product_version=1,
        mode=InsuranceMode.GUARANTEE, funder_id=1, borrower_id_number="11010519491231002X",
        policyholder=PolicyRole.DEBTOR, insured=PolicyRole.CREDITOR,
        principal_insured_fen=12_000_000,
        coverage_share=Decimal("0.9"), premium_basis=PremiumBasis.SINGLE,
        monthly_premium_rate=Decimal("0.003"), refund_method=RefundMethod.RULE_OF_78,
        term_months=12, single_premium_fen=78_000, installment_premium_fen=0, quoted_on=START,
        id=7,
    )
    return replace(p, **changes)


def claimed_after_three_installments(uow_factory, cmd: SubmitApplication) -> tuple[Any, Any, date]:
    """An issued policy whose borrower paid three installments (with their premium) and
    stopped, and the claim filed on the day its trigger was reached: (policy, claim, that
    day)."""
    from datetime import timedelta

    from xinbao.claims import services as claims
    from xinbao.claims.commands import FileClaim
    from xinbao.servicing import services as servicing
    from xinbao.servicing.commands import RecordRepayment

    policy = issued_policy(uow_factory, cmd)
    with uow_factory() as u:
        loan = u.loans.get(policy.loan_id)
        product = u.products.get(policy.product_code, policy.product_version)
    for i in loan.installments[:3]:
        servicing.record_repayment(RecordRepayment(
            loan.id, i.number, i.due_date, i.principal_fen, i.interest_fen,
            f"TX-{i.number}", premium_fen=policy.installment_with_vat_fen), uow_factory())
    trigger = loan.installments[3].due_date + timedelta(days=product.claim_trigger_dpd)
    return policy, claims.file_claim(FileClaim(policy.id, trigger), uow_factory()), trigger
