"""The approval decision: every stage can decide, the most severe finding wins, and a changed
amount or price is an approval with changed terms, each with its reason code."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from xinbao.catalogue.model.parties import Borrower, InsuranceMode, PolicyRole, Roles
from xinbao.catalogue.model.products import (
    PremiumBasis,
    Product,
    ProductFamily,
    RefundMethod,
    RepaymentMethod,
)
from xinbao.parameters import load_collateral_rules, load_risk_parameters
from xinbao.risk.model import exposure
from xinbao.risk.model.antifraud import Action, Hit, Screening
from xinbao.risk.model.bureau import BureauResult, Report, Standing, Status
from xinbao.risk.model.collateral import BrandTier, value_car
from xinbao.risk.model.decision import Facts, Outcome, ScoreResult, assess, features
from xinbao.risk.model.exposure import Counter, LimitRules
from xinbao.risk.model.limits import Constraint
from xinbao.underwriting.model import (
    Application,
    CollateralKind,
    CollateralOffer,
    Evidence,
    EvidenceKind,
    Profile,
)

D = Decimal
ON = date(2025, 3, 1)
TERMS = load_risk_parameters().terms
SHA = "cd" * 32
CLEAN = BureauResult(Status.OK, Report("R-1", ON, 720, 1, 300_000, 2, Standing.CLEAN), 300)


def product(**changes: object) -> Product:
    p = Product(
        code="CONSUMER-G", version=1, name="个人消费贷款保证保险", mode=InsuranceMode.GUARANTEE,
        family=ProductFamily.CONSUMER, min_amount_fen=100_000, max_amount_fen=20_000_000,
        min_term_months=3, max_term_months=36,
        repayment_methods=(RepaymentMethod.EQUAL_INSTALLMENT,), claim_trigger_dpd=80,
        waiting_period_days=0, coverage_share=D("1"), premium_basis=PremiumBasis.PER_INSTALLMENT,
        monthly_premium_rate=D("0.006"), refund_method=RefundMethod.PRO_RATA,
        effective_from=date(2024, 1, 1))
    return replace(p, **changes)


CAR = product(code="CAR-G", family=ProductFamily.CAR, min_amount_fen=2_000_000,
              max_amount_fen=50_000_000, premium_basis=PremiumBasis.SINGLE)


def application(**changes: object) -> Application:
    a = Application(
        funder_id=1, product_code="CONSUMER-G", product_version=1, mode=InsuranceMode.GUARANTEE,
        borrower=Borrower.individual(name="张三", id_number="110105198001011238",
                                     phone="13812345678"),
        roles=Roles(PolicyRole.DEBTOR, PolicyRole.CREDITOR), amount_fen=5_000_000,
        term_months=12, annual_rate=D("0.08"),
        repayment_method=RepaymentMethod.EQUAL_INSTALLMENT, applied_on=ON,
        external_ref="A-1", profile=Profile(monthly_income_fen=2_000_000),
        evidence=(Evidence(EvidenceKind.CONSENT, "c", SHA),
                  Evidence(EvidenceKind.SALES_RECORDING, "s", SHA)), id=7)
    return replace(a, **changes)


def facts(**changes: object) -> Facts:
    f = Facts(screening=Screening("v1", Action.PASS, ()), bureau=CLEAN,
              scored=ScoreResult(D("0.02"), 700, ("dti",), "m/v1"), valuation=None,
              portfolio=(), cost_cap=D("0.24"))
    return replace(f, **changes)


def decide(a: Application | None = None, p: Product | None = None, **fact_changes: object):
    p = p or product()
    return assess(a or application(), p, TERMS[p.family], facts(**fact_changes), ON)


def test_a_sound_application_is_approved_as_asked_with_its_price_breakdown():
    d = decide()
    assert d.outcome is Outcome.APPROVE and d.approved_fen == 5_000_000
    price = d.price
    assert price.expected_loss == D("0.02") * D("0.85")
    assert price.technical_rate == price.expected_loss + D("0.035")
    assert price.annual_rate == price.technical_rate and price.all_in_cost <= D("0.24")
    assert "SCR-REASON-DTI" in d.reason_codes  # the score's top reason, informational


@pytest.mark.parametrize(("hit", "outcome"), [(Action.REFER, Outcome.REFER),
                                              (Action.DECLINE, Outcome.DECLINE)])
def test_an_anti_fraud_hit_refers_or_declines_with_its_code(hit, outcome):
    screening = Screening("v1", hit, (Hit("AF-X", hit, "evidence"),))
    d = decide(screening=screening)
    assert d.outcome is outcome and d.reason_codes[0] == "AF-X"
    assert d.limit is not None  # the reviewer still sees the proposal


def test_a_decline_outweighs_any_referral():
    screening = Screening("v1", Action.REFER, (Hit("AF-R", Action.REFER, "e"),))
    d = decide(screening=screening, scored=ScoreResult(D("0.5"), 400, (), "m"))
    assert d.outcome is Outcome.DECLINE
    assert {"AF-R", "SCR-PD-DECLINE"} <= set(d.reason_codes)


@pytest.mark.parametrize(("pd", "outcome", "code"), [
    ("0.1199", Outcome.APPROVE, None), ("0.12", Outcome.REFER, "SCR-PD-REFER"),
    ("0.25", Outcome.DECLINE, "SCR-PD-DECLINE")])
def test_the_pd_cut_offs_refer_and_decline(pd, outcome, code):
    d = decide(scored=ScoreResult(D(pd), 600, (), "m/v1"), cost_cap=D("0.5"))
    assert d.outcome is outcome
    assert code is None or code in d.reason_codes


@pytest.mark.parametrize(("bureau", "outcome", "code"), [
    (BureauResult(Status.TIMEOUT, detail="no answer"), Outcome.REFER, "BUR-UNAVAILABLE"),
    (BureauResult(Status.ERROR, detail="down"), Outcome.REFER, "BUR-UNAVAILABLE"),
    (BureauResult(Status.NO_RECORD), Outcome.APPROVE, "BUR-NO-RECORD"),
    (replace(CLEAN, report=replace(CLEAN.report, standing=Standing.OVERDUE)), Outcome.REFER,
     "BUR-CURRENT-OVERDUE"),
    (replace(CLEAN, report=replace(CLEAN.report, standing=Standing.WRITTEN_OFF)),
     Outcome.DECLINE, "BUR-WRITTEN-OFF")])
def test_the_bureau_answer_can_refer_or_decline(bureau, outcome, code):
    d = decide(bureau=bureau)
    assert d.outcome is outcome and code in d.reason_codes


def test_missing_evidence_income_or_collateral_is_referred_for_a_person_to_collect():
    bare = application(evidence=(), profile=Profile())
    d = decide(bare)
    assert d.outcome is Outcome.REFER
    assert {"VER-EVIDENCE-MISSING", "VER-INCOME-MISSING"} <= set(d.reason_codes)
    car = decide(application(product_code="CAR-G", amount_fen=10_000_000), CAR)
    assert "VER-COLLATERAL-MISSING" in car.reason_codes and car.outcome is Outcome.REFER


def test_credit_insurance_needs_consent_but_no_sales_recording():
    credit = product(mode=InsuranceMode.CREDIT)
    consent_only = application(evidence=(Evidence(EvidenceKind.CONSENT, "c", SHA),))
    assert "VER-EVIDENCE-MISSING" not in decide(consent_only, credit).reason_codes
    assert "VER-EVIDENCE-MISSING" in decide(consent_only).reason_codes


def test_an_amount_below_the_product_minimum_is_declined_and_above_the_maximum_cut():
    low = decide(application(amount_fen=50_000))
    assert low.outcome is Outcome.DECLINE and low.reason_codes[0] == "UW-AMOUNT-RANGE"
    high = decide(application(amount_fen=30_000_000,
                              profile=Profile(monthly_income_fen=100_000_000)))
    assert high.outcome is Outcome.APPROVE_CHANGED
    assert high.approved_fen == 20_000_000 and "LIM-PRODUCT-MAX" in high.reason_codes


def test_income_cuts_the_amount_to_what_the_debt_service_ratio_allows():
    d = decide(application(amount_fen=20_000_000))
    assert d.outcome is Outcome.APPROVE_CHANGED and d.limit.binding == ("LIM-INCOME-DSR",)
    # 20,000 a month × 55 % − 3,000 already due = 8,000 for installment and premium
    payment = d.approved_fen * (D("0.08") / 12) / (1 - (1 + D("0.08") / 12) ** -12)
    premium = d.approved_fen * d.price.monthly_rate
    assert payment + premium <= 800_000 < payment + premium + 200


def test_a_car_is_valued_and_its_loan_to_value_binds():
    rules = load_collateral_rules()
    offer = CollateralOffer(CollateralKind.CAR, new_price_fen=10_000_000, brand_tier="economy",
                            first_registered=date(2022, 1, 1))
    valuation = value_car(rules, new_price_fen=10_000_000, tier=BrandTier.ECONOMY,
                          first_registered=date(2022, 1, 1), on=ON)
    a = application(product_code="CAR-G", amount_fen=9_000_000, collateral=offer,
                    profile=Profile(monthly_income_fen=10_000_000))
    d = decide(a, CAR, valuation=valuation)
    assert d.limit.binding == ("LIM-COLLATERAL-LTV",)
    assert d.approved_fen == int(valuation.value_fen * rules.car_max_ltv)


def test_portfolio_limits_bind_with_the_dimension_named():
    rules = LimitRules(D("4"), D("0.01"), 20_000_000, 100_000_000,
                       {"funder": D("0.5"), "region": D("0.4"), "industry": D("0.6"),
                        "product": D("0.7")})
    counters = [Counter(exposure.RETAINED, "all", 1_000_000_000, 990_000_000),
                Counter(exposure.REGION, "11", 400_000_000, 397_000_000),
                Counter(exposure.OBLIGOR, "x", 20_000_000, 0)]
    portfolio = exposure.constraints(counters, D("1"), rules=rules, net_assets_fen=250_000_000,
                                     enterprise=False)
    d = decide(portfolio=tuple(portfolio))
    assert d.limit.binding == ("LIM-CONC-REGION",) and d.approved_fen == 3_000_000
    full = decide(portfolio=(Constraint("LIM-PORTFOLIO-APPETITE", 0, "full"),))
    assert full.outcome is Outcome.DECLINE
    assert full.reason_codes[-1] == "LIM-BELOW-PRODUCT-MIN"


def test_a_price_lowered_to_the_cost_cap_is_an_approval_with_changed_terms():
    d = decide(application(annual_rate=D("0.138")), scored=ScoreResult(D("0.03"), 600, (), "m"))
    assert d.outcome is Outcome.APPROVE_CHANGED
    assert "PRC-LOWERED-TO-COST-CAP" in d.reason_codes and d.price.all_in_cost <= D("0.24")


def test_a_loan_too_dear_for_the_cost_cap_even_at_break_even_is_declined():
    d = decide(application(annual_rate=D("0.22")), scored=ScoreResult(D("0.1"), 600, (), "m"))
    assert d.outcome is Outcome.DECLINE and "PRC-ALL-IN-COST-CAP" in d.reason_codes


def test_features_are_what_the_scorecards_are_trained_on():
    rules = load_collateral_rules()
    valuation = value_car(rules, new_price_fen=10_000_000, tier=BrandTier.MAINSTREAM,
                          first_registered=ON, on=ON)
    row = features(application(amount_fen=6_560_000), CAR, CLEAN, valuation, ON)
    assert row == {
        "family": "car", "amount_yuan": 65_600.0, "term_months": 12, "annual_rate": 0.08,
        "age": 45, "monthly_income_yuan": 20_000.0, "dti": 0.15, "bureau_score": 720,
        "inquiries_6m": 1, "open_accounts": 2, "ltv": 0.8, "employment": None,
        "industry": None}
