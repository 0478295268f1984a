"""The approval decision: verification, anti-fraud, bureau, score, limit and price in one flow.

``assess`` is pure: the service gathers the facts (anti-fraud screening, the bureau's answer,
the model's score, the collateral's valuation, the room left under each portfolio limit) and
this module decides, naming every reason:

1. verification: product ranges (UW-*), evidence of consent and of the sale, declared income,
   collateral for secured products (VER-*);
2. anti-fraud hits (AF-*, ``antifraud.py``) and bureau findings (BUR-*, ``bureau.py``);
3. the score: PD at or above the product family's decline cut-off declines, at or above the
   referral cut-off refers (SCR-PD-*); the top point losses are given as SCR-REASON-<feature>;
4. the limit: the least of the request and every capacity (LIM-*, ``limits.py``,
   ``exposure.py``);
5. the price on the approved amount (PRC-*, ``pricing.py``).

Outcome: decline if any finding declines; refer if any refers (with the proposed amount and
price for the reviewer); approve with changed terms when the limit cut the amount or the
price was lowered to the all-in cost cap; approve otherwise.

An application the engine cannot decide (a figure it cannot compute or store) is referred
with ``SYS-DECISION-ERROR`` (``failure_detail``) and the rest of its batch is decided.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from xinbao.catalogue.model.agreements import insurer_share
from xinbao.catalogue.model.parties import InsuranceMode, PartyKind
from xinbao.catalogue.model.products import PremiumBasis, Product, ProductFamily
from xinbao.kernel.events import Event
from xinbao.loans.model import Annualization, schedule_amounts
from xinbao.risk.model import bureau as bureau_rules
from xinbao.risk.model import limits, pricing
from xinbao.risk.model.antifraud import Action, Screening
from xinbao.risk.model.bureau import BureauResult
from xinbao.risk.model.collateral import Valuation
from xinbao.risk.model.limits import Constraint, LimitDecision
from xinbao.risk.model.pricing import LoanCashFlows, Price, PricingTerms
from xinbao.underwriting.model import Application, EvidenceKind, range_codes

EVIDENCE_MISSING = "VER-EVIDENCE-MISSING"
INCOME_MISSING = "VER-INCOME-MISSING"
COLLATERAL_MISSING = "VER-COLLATERAL-MISSING"
PD_DECLINE = "SCR-PD-DECLINE"
PD_REFER = "SCR-PD-REFER"
REASON_PREFIX = "SCR-REASON-"
DECISION_ERROR = "SYS-DECISION-ERROR"
#: Storage keeps integers in signed 64 bits (BIGINT, and the JSON of the detail).
_INT64 = range(-(2 ** 63), 2 ** 63)

SECURED = {ProductFamily.CAR, ProductFamily.MORTGAGE_BACKED}


class Outcome(StrEnum):
    APPROVE = "approve"
    APPROVE_CHANGED = "approve_changed"  # a lower amount or a lower price than asked/listed
    REFER = "refer"
    DECLINE = "decline"

    @property
    def approved(self) -> bool | None:
        """True/False for approve/decline, None for a referral."""
        return {"approve": True, "approve_changed": True, "decline": False}.get(self.value)


@dataclass(frozen=True, slots=True)
class RiskTerms:
    """A product family's underwriting parameters (``params/risk.toml``)."""

    pricing: PricingTerms
    max_dsr: Decimal  # debt service over income
    pd_refer: Decimal
    pd_decline: Decimal


@dataclass(frozen=True, slots=True)
class Finding:
    stage: str  # verification | antifraud | bureau | score | limit | price
    code: str
    action: Action
    detail: str


@dataclass(frozen=True, slots=True)
class ScoreResult:
    pd: Decimal  # probability of default within 12 months
    score: int | None
    reasons: tuple[str, ...]  # features costing the most points, worst first
    model: str  # "<name>/v<N>" or the fallback's name


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything the decision looks at, gathered by the service."""

    screening: Screening
    bureau: BureauResult
    scored: ScoreResult | None
    valuation: Valuation | None
    portfolio: Sequence[Constraint]  # room under each portfolio and regulatory limit
    cost_cap: Decimal
    annualization: Annualization = Annualization.NOMINAL
    vat_rate: Decimal = Decimal(0)  # VAT on premium: the borrower pays it too
    #: The share of each loss the funder keeps under its agreement (风险共担): the insurer
    #: expects to lose, and retains, only the rest of the coverage share.
    risk_share: Decimal = Decimal(0)

    def insurer_share(self, product: Product) -> Decimal:
        """The share of a loss on this product the insurer bears for this funder."""
        return insurer_share(product.coverage_share, self.risk_share)


@dataclass(frozen=True, slots=True)
class Assessment:
    outcome: Outcome
    findings: tuple[Finding, ...]
    limit: LimitDecision | None
    price: Price | None

    @property
    def reason_codes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.code for f in self.findings))

    @property
    def approved_fen(self) -> int:
        """The proposed amount (0 when none can be approved)."""
        return self.limit.approved_fen if self.limit is not None else 0


def verify(application: Application, product: Product) -> list[Finding]:
    """The checks on the application itself that intake does not refuse outright."""
    out = [Finding("verification", code, Action.DECLINE, message)
           for code, message in range_codes(application, product)
           if code != "UW-AMOUNT-RANGE" or application.amount_fen < product.min_amount_fen]
    kinds = {e.kind for e in application.evidence}
    missing = [] if EvidenceKind.CONSENT in kinds else ["the borrower's consent"]
    if product.mode is InsuranceMode.GUARANTEE and not kinds & {
            EvidenceKind.SALES_RECORDING, EvidenceKind.ONLINE_SALES_RECORD}:
        missing.append("the sales recording (双录) or online sales record")
    if missing:
        out.append(Finding("verification", EVIDENCE_MISSING, Action.REFER,
                           "missing " + " and ".join(missing) + " (39号: sales traceable)"))
    if application.profile.monthly_income_fen is None:
        out.append(Finding("verification", INCOME_MISSING, Action.REFER,
                           "no declared income: the debt-service capacity is unknown"))
    if product.family in SECURED and application.collateral is None:
        out.append(Finding("verification", COLLATERAL_MISSING, Action.REFER,
                           f"a {product.family.value} loan needs its collateral described"))
    return out


def features(application: Application, product: Product, result: BureauResult,
             valuation: Valuation | None, on: date) -> dict[str, Any]:
    """The scoring features of an application (names as in training data; None = missing)."""
    report = result.report
    income = application.profile.monthly_income_fen
    debt = report.monthly_debt_fen if report is not None else None
    return {
        "family": product.family.value,
        "amount_yuan": application.amount_fen / 100,
        "term_months": application.term_months,
        "annual_rate": float(application.annual_rate),
        "age": application.borrower.age_on(on),
        "monthly_income_yuan": income / 100 if income is not None else None,
        "dti": (debt / income if income and debt is not None else None),
        "bureau_score": report.score if report is not None else None,
        "inquiries_6m": report.inquiries_6m if report is not None else None,
        "open_accounts": report.open_accounts if report is not None else None,
        "ltv": (application.amount_fen / valuation.value_fen
                if valuation is not None and valuation.value_fen > 0 else None),
        "employment": application.profile.employment,
        "industry": application.profile.industry,
    }


def _score_findings(scored: ScoreResult | None, terms: RiskTerms) -> list[Finding]:
    if scored is None:
        return []
    out = []
    if scored.pd >= terms.pd_decline:
        out.append(Finding("score", PD_DECLINE, Action.DECLINE,
                           f"PD {scored.pd:.2%} at or above the cut-off {terms.pd_decline:.2%}"))
    elif scored.pd >= terms.pd_refer:
        out.append(Finding("score", PD_REFER, Action.REFER,
                           f"PD {scored.pd:.2%} in the referral band from {terms.pd_refer:.2%}"))
    out.extend(Finding("score", REASON_PREFIX + r.upper(), Action.PASS,
                       f"{r} costs points against its best bin ({scored.model})")
               for r in scored.reasons)
    return out


def _cash_flows(application: Application, principal_fen: int) -> LoanCashFlows:
    return LoanCashFlows(principal_fen, [p + i for p, i in schedule_amounts(
        principal_fen=principal_fen, annual_rate=application.annual_rate,
        term_months=application.term_months, method=application.repayment_method)])


def _price(application: Application, product: Product, terms: RiskTerms, pd: Decimal,
           principal_fen: int, facts: Facts) -> Price:
    return pricing.price(
        pd=pd, coverage_share=facts.insurer_share(product), terms=terms.pricing,
        loan=_cash_flows(application, principal_fen), basis=product.premium_basis,
        principal_insured_fen=principal_fen, cost_cap=facts.cost_cap,
        annualization=facts.annualization, vat_rate=facts.vat_rate)


def _limit(application: Application, product: Product, terms: RiskTerms, facts: Facts,
           monthly_premium_rate: Decimal) -> LimitDecision:
    found: list[Constraint] = [Constraint(limits.PRODUCT_MAX, product.max_amount_fen,
                                          "the product's maximum")]
    income = application.profile.monthly_income_fen
    if income is not None:
        report = facts.bureau.report
        debt = report.monthly_debt_fen if report is not None else 0
        # The premium with each installment is paid with its VAT.
        per_installment = (monthly_premium_rate * (1 + facts.vat_rate) if product.premium_basis
                           is PremiumBasis.PER_INSTALLMENT else Decimal(0))
        found.append(Constraint(limits.INCOME, limits.income_capacity_fen(
            monthly_income_fen=income, existing_monthly_debt_fen=debt, max_dsr=terms.max_dsr,
            annual_rate=application.annual_rate, term_months=application.term_months,
            monthly_premium_rate=per_installment),
            f"debt service ≤ {terms.max_dsr:.0%} of {income / 100:,.2f} yuan a month, "
            f"{debt / 100:,.2f} yuan already due"))
    if facts.valuation is not None:
        v = facts.valuation
        liens = application.collateral.prior_liens_fen if application.collateral else 0
        found.append(Constraint(limits.COLLATERAL, limits.collateral_capacity_fen(
            value_fen=v.value_fen, max_ltv=v.max_ltv, prior_liens_fen=liens),
            f"{v.explanation}; value {v.value_fen / 100:,.2f} yuan × LTV {v.max_ltv}"
            + (f" less {liens / 100:,.2f} yuan of prior liens" if liens else "")))
    found.extend(facts.portfolio)
    return limits.decide_limit(application.amount_fen, found,
                               product_min_fen=product.min_amount_fen)


def assess(application: Application, product: Product, terms: RiskTerms, facts: Facts,
           on: date) -> Assessment:
    findings = verify(application, product)
    findings += [Finding("antifraud", h.code, h.action, h.evidence)
                 for h in facts.screening.hits]
    findings += [Finding("bureau", f.code, Action(f.action), f.detail)
                 for f in bureau_rules.assess(facts.bureau)]
    findings += _score_findings(facts.scored, terms)
    limit: LimitDecision | None = None
    price: Price | None = None
    if application.amount_fen >= product.min_amount_fen and facts.scored is not None:
        # The premium enters the debt service, and the price hardly depends on the amount:
        # price the request first, fix the amount, then price the amount fixed.
        first = _price(application, product, terms, facts.scored.pd,
                       min(application.amount_fen, product.max_amount_fen), facts)
        limit = _limit(application, product, terms, facts, first.monthly_rate)
        if limit.refused:
            findings += [Finding("limit", code, Action.DECLINE if code == limits.BELOW_MINIMUM
                                 else Action.PASS, _basis(limit, code)) for code in limit.binding]
        else:
            findings += [Finding("limit", code, Action.PASS, _basis(limit, code))
                         for code in limit.binding]
            price = (first if limit.approved_fen == min(application.amount_fen,
                                                         product.max_amount_fen)
                     else _price(application, product, terms, facts.scored.pd,
                                 limit.approved_fen, facts))
            findings += [Finding("price", code, Action.DECLINE if code == pricing.DECLINE_COST_CAP
                                 else Action.PASS, _price_detail(price, code, facts.cost_cap))
                         for code in price.reason_codes]
    worst = max((f.action for f in findings), key=lambda a: a.severity, default=Action.PASS)
    if worst is Action.DECLINE:
        outcome = Outcome.DECLINE
    elif worst is Action.REFER or limit is None or price is None:
        outcome = Outcome.REFER
    elif limit.reduced or pricing.PRICE_LOWERED_TO_COST_CAP in price.reason_codes:
        outcome = Outcome.APPROVE_CHANGED
    else:
        outcome = Outcome.APPROVE
    return Assessment(outcome, tuple(findings), limit, price)


def _basis(limit: LimitDecision, code: str) -> str:
    if code == limits.BELOW_MINIMUM:
        return "the least capacity is below the product's minimum amount"
    c = next(c for c in limit.constraints if c.code == code)
    return f"{c.cap_fen / 100:,.2f} yuan: {c.basis}"


def _price_detail(p: Price, code: str, cap: Decimal) -> str:
    return {
        pricing.PRICE_FLOORED: f"technical rate {p.technical_rate:.4%} raised to the floor",
        pricing.PRICE_CAPPED: f"technical rate {p.technical_rate:.4%} cut to the product cap",
        pricing.PRICE_LOWERED_TO_COST_CAP: (f"premium lowered to {p.annual_rate:.4%} a year so "
                                            f"the all-in cost stays within {cap:.0%}"),
        pricing.DECLINE_COST_CAP: (f"all-in cost {p.all_in_cost:.2%} above {cap:.0%} even at "
                                   "the least profitable rate"),
    }[code]


# The stored record.


@dataclass(frozen=True, slots=True)
class Review:
    """A person's verdict on a referral (or the first of two on a large approval)."""

    actor: str
    verdict: str  # approve | decline | recommend (approval beyond the reviewer's authority)
    on: date
    note: str


@dataclass(eq=False, slots=True)
class DecisionRecord:
    """A decision as stored: the outcome, every reason, the price breakdown and the limit's
    constraints, with the inputs, the versions of the rules and the model behind it, and the
    credit bureau that answered."""

    application_id: int
    outcome: Outcome
    decided_on: date
    decided_by: str
    reason_codes: tuple[str, ...]
    requested_fen: int
    approved_fen: int
    annual_premium_rate: Decimal | None
    monthly_premium_rate: Decimal | None
    pd: Decimal | None
    score: int | None
    model: str
    rule_set_version: str
    params_version: str
    detail: Mapping[str, Any]  # JSON-ready: findings, limit, price, valuation, bureau, inputs
    reviews: tuple[Review, ...] = ()
    final: bool = True  # False while a referral waits for review
    #: The bureau adapter whose answer the decision read, its "name/version"
    #: (``BureauResult.source``; ``simulated/1`` is the simulated bureau).
    bureau_source: str = ""
    events: list[Event] = field(default_factory=list, repr=False)

    @property
    def pending_second_approval(self) -> Review | None:
        """The reviewer's recommendation awaiting a second approver, if any."""
        if self.final or not self.reviews or self.reviews[-1].verdict != "recommend":
            return None
        return self.reviews[-1]


def detail(assessment: Assessment, facts: Facts, inputs: Mapping[str, Any],
           kind: PartyKind) -> dict[str, Any]:
    """The JSON-ready explanation stored with the decision."""
    limit, price = assessment.limit, assessment.price
    report = facts.bureau.report
    v = facts.valuation
    return {
        "findings": [{"stage": f.stage, "code": f.code, "action": f.action.value,
                      "detail": f.detail} for f in assessment.findings],
        "limit": None if limit is None else {
            "requested_fen": limit.requested_fen, "approved_fen": limit.approved_fen,
            "binding": list(limit.binding),
            "constraints": [{"code": c.code, "cap_fen": max(c.cap_fen, 0), "basis": c.basis}
                            for c in limit.constraints]},
        "price": None if price is None else {
            "risk_share": str(facts.risk_share),  # the funder's: expected loss is on the rest
            "expected_loss": str(price.expected_loss),
            "expense_loading": str(price.expense_loading),
            "cost_of_capital": str(price.cost_of_capital), "margin": str(price.margin),
            "technical_rate": str(price.technical_rate), "annual_rate": str(price.annual_rate),
            "monthly_rate": str(price.monthly_rate),
            "all_in_cost": str(price.all_in_cost.quantize(Decimal("0.000001"))),
            "cost_cap": str(facts.cost_cap), "reason_codes": list(price.reason_codes)},
        "score": None if facts.scored is None else {
            "pd": str(facts.scored.pd), "score": facts.scored.score,
            "reasons": list(facts.scored.reasons), "model": facts.scored.model},
        "bureau": {"status": facts.bureau.status.value, "cached": facts.bureau.cached,
                   "cost_fen": facts.bureau.cost_fen,
                   "report": None if report is None else {
                       "report_id": report.report_id, "as_of": report.as_of.isoformat(),
                       "score": report.score, "inquiries_6m": report.inquiries_6m,
                       "monthly_debt_fen": report.monthly_debt_fen,
                       "open_accounts": report.open_accounts,
                       "standing": report.standing.value}},
        "collateral": None if v is None else {
            "kind": v.kind, "basis_fen": v.basis_fen, "factor": str(v.factor),
            "value_fen": v.value_fen, "max_ltv": str(v.max_ltv),
            "explanation": v.explanation},
        "antifraud": {"rule_set": facts.screening.rule_set_version,
                      "action": facts.screening.action.value},
        "inputs": dict(inputs),
        "borrower_kind": kind.value,
    }


def check_storable(record: DecisionRecord) -> None:
    """Refuse (``ValueError``) a record that storage cannot take: an integer beyond 64 bits
    or a rate that is not a finite number, found before anything is reserved or written."""
    rates = (record.annual_premium_rate, record.monthly_premium_rate, record.pd)
    if any(r is not None and not r.is_finite() for r in rates):
        raise ValueError("a rate of the decision is not a finite number")
    if not (_fits(record.detail) and _fits((record.requested_fen, record.approved_fen))):
        raise ValueError("a figure of the decision does not fit in 64 bits")


def _fits(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return value in _INT64
    if isinstance(value, Mapping):
        return all(_fits(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(_fits(v) for v in value)
    return True


def failure_detail(error: str, where: str, message: str, kind: PartyKind) -> dict[str, Any]:
    """The stored explanation of an application the engine could not decide: the error's
    type, where it was raised and its message with personal data masked (``error``,
    ``where``, ``message`` as the service found them)."""
    return {
        "findings": [{"stage": "system", "code": DECISION_ERROR, "action": Action.REFER.value,
                      "detail": f"the engine could not decide ({error} in {where}): "
                                "a person decides"}],
        "limit": None, "price": None, "score": None, "bureau": None, "collateral": None,
        "error": {"type": error, "where": where, "message": message},
        "inputs": {}, "borrower_kind": kind.value,
    }
