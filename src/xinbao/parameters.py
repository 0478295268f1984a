"""Versioned business parameters, loaded from TOML files shipped in ``xinbao/params``."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from xinbao.batch.model import ClassificationRules, EarlyWarningRules, Thresholds
from xinbao.catalogue.commands import RegisterProduct
from xinbao.catalogue.model.parties import InsuranceMode
from xinbao.catalogue.model.products import (
    PremiumBasis,
    ProductFamily,
    RefundMethod,
    RepaymentMethod,
)
from xinbao.kernel.identity import MaskingRules
from xinbao.loans.model import Annualization
from xinbao.risk.model.antifraud import RuleSet, parse_rule_set
from xinbao.risk.model.collateral import BrandTier, CollateralRules
from xinbao.risk.model.decision import RiskTerms
from xinbao.risk.model.exposure import LimitRules
from xinbao.risk.model.pricing import PricingTerms
from xinbao.risk.services import BureauSettings, FallbackScore, RiskParameters


@dataclass(frozen=True, slots=True)
class Parameters:
    version: str
    masking: MaskingRules
    all_in_cost_cap: Decimal
    annualization: Annualization
    #: VAT on premium (``[vat] premium_rate``): charged on top of the premium, kept by a
    #: policy from its quote.
    vat_rate: Decimal
    raw: dict[str, Any]


def _read(name: str, path: Path | None) -> dict[str, Any]:
    if path is not None:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    return tomllib.loads(resources.files("xinbao.params").joinpath(name).read_text("utf-8"))


def load_parameters(path: Path | None = None) -> Parameters:
    data = _read("regulatory.toml", path)
    m = data["masking"]
    masking = MaskingRules(**{k: int(v) for k, v in m.items() if k != "source"})
    cost = data["all_in_cost"]
    vat = Decimal(data["vat"]["premium_rate"])
    if not 0 <= vat < 1:
        raise ValueError(f"[vat] premium_rate is a fraction from 0 to below 1, not {vat}")
    return Parameters(version=str(data["version"]), masking=masking,
                      all_in_cost_cap=Decimal(cost["cap"]),
                      annualization=Annualization(cost["annualization"]),
                      vat_rate=vat, raw=data)


def load_product_catalogue(path: Path | None = None) -> list[RegisterProduct]:
    """The product definitions of a catalogue file, as commands to register them."""
    data = _read("products.toml", path)
    commands = []
    for p in data.get("product", []):
        commands.append(RegisterProduct(
            code=p["code"], name=p["name"], mode=InsuranceMode(p["mode"]),
            family=ProductFamily(p["family"]), min_amount_fen=int(p["min_amount_fen"]),
            max_amount_fen=int(p["max_amount_fen"]), min_term_months=int(p["min_term_months"]),
            max_term_months=int(p["max_term_months"]),
            repayment_methods=tuple(RepaymentMethod(m) for m in p["repayment_methods"]),
            claim_trigger_dpd=int(p["claim_trigger_dpd"]),
            waiting_period_days=int(p["waiting_period_days"]),
            coverage_share=Decimal(p["coverage_share"]),
            premium_basis=PremiumBasis(p["premium_basis"]),
            monthly_premium_rate=Decimal(p["monthly_premium_rate"]),
            refund_method=RefundMethod(p["refund_method"]),
            effective_from=date.fromisoformat(str(p["effective_from"])),
        ))
    return commands


def load_collateral_rules(path: Path | None = None) -> CollateralRules:
    """Car residual curves and house haircuts (``params/collateral.toml``)."""
    data = _read("collateral.toml", path)
    car, house = data["car"], data["house"]
    return CollateralRules(
        car_max_ltv=Decimal(car["max_ltv"]),
        car_residual={BrandTier(tier): tuple(Decimal(v) for v in curve)
                      for tier, curve in car["residual_by_tier"].items()},
        house_max_ltv=Decimal(house["max_ltv"]),
        house_haircut={int(tier): Decimal(v)
                       for tier, v in house["haircut_by_city_tier"].items()})


def load_antifraud_rules(path: Path | None = None) -> RuleSet:
    """The anti-fraud rule set (``params/antifraud.toml``), every rule checked."""
    return parse_rule_set(_read("antifraud.toml", path))


def load_risk_parameters(path: Path | None = None,
                         regulatory: Path | None = None) -> RiskParameters:
    """Underwriting terms per product family, concentration caps, the fallback score and the
    bureau's settings (``params/risk.toml``), with the regulatory limits."""
    data = _read("risk.toml", path)
    reg = _read("regulatory.toml", regulatory)["limits"]
    terms = {}
    for family in ProductFamily:
        t = data["family"][family.value]
        terms[family] = RiskTerms(
            pricing=PricingTerms(**{k: Decimal(t[k]) for k in (
                "lgd", "expense_loading", "cost_of_capital", "margin", "floor", "cap")}),
            max_dsr=Decimal(t["max_dsr"]), pd_refer=Decimal(t["pd_refer"]),
            pd_decline=Decimal(t["pd_decline"]))
    conc = data["concentration"]
    limits = LimitRules(
        retained_multiple=Decimal(reg["retained_liability_multiple_of_net_assets"]),
        single_obligor_share=Decimal(reg["single_obligor_share_of_net_assets"]),
        per_individual_cap_fen=int(reg["per_individual_retained_cap_fen"]),
        per_enterprise_cap_fen=int(reg["per_enterprise_retained_cap_fen"]),
        concentration={d: Decimal(conc[d]) for d in ("funder", "region", "industry",
                                                     "product")})
    fb, bureau = data["fallback_score"], data["bureau"]
    return RiskParameters(
        version=str(data["version"]), terms=terms, limits=limits,
        fallback=FallbackScore(int(fb["base_score"]), Decimal(fb["base_odds"]),
                               Decimal(fb["pdo"]), Decimal(fb["thin_file_pd"])),
        bureau=BureauSettings(int(bureau["cost_fen"]), int(bureau["timeout_ms"]) / 1000,
                              int(bureau["cache_days"])))


def load_classification_rules(path: Path | None = None) -> ClassificationRules:
    """The five-tier classification's thresholds and contagion rule
    (``params/classification.toml``)."""
    data = _read("classification.toml", path)

    def thresholds(part: dict[str, Any]) -> Thresholds:
        return Thresholds(*(int(part[k]) for k in ("special_mention", "substandard",
                                                   "doubtful", "loss")))

    return ClassificationRules(version=str(data["version"]), retail=thresholds(data["retail"]),
                               non_retail=thresholds(data["non_retail"]),
                               contagion_share=Decimal(data["non_retail"]["contagion_share"]))


def load_early_warning_rules(path: Path | None = None, *, risk: Path | None = None,
                             regulatory: Path | None = None) -> EarlyWarningRules:
    """The early-warning signals' settings (``params/classification.toml``), with the
    concentration limits the risk engine approves against: each funder's, region's and
    product's share (``params/risk.toml`` ``[concentration]``) and the single obligor's, its
    share of net assets over the retained multiple of net assets (``params/regulatory.toml``
    ``[limits]``: 1 % ÷ 4 = 0.25 % of the total limit). The approval engine holds them
    against the total retained-liability limit; the batch reads them against the day's
    exposure (the retained liability in force), which is stricter while the book is below
    its limit."""
    ew = _read("classification.toml", path)["early_warning"]
    conc = _read("risk.toml", risk)["concentration"]
    reg = _read("regulatory.toml", regulatory)["limits"]
    limits = {d: Decimal(conc[d]) for d in ("funder", "region", "product")}
    limits["obligor"] = (Decimal(reg["single_obligor_share_of_net_assets"])
                         / Decimal(reg["retained_liability_multiple_of_net_assets"]))
    return EarlyWarningRules(fpd_high_days=int(ew["fpd_high_days"]),
                             partial_installments=int(ew["partial_installments"]),
                             vintage_default_rate=Decimal(ew["vintage_default_rate"]),
                             vintage_min_loans=int(ew["vintage_min_loans"]),
                             concentration=limits,
                             concentration_near=Decimal(ew["concentration_near"]),
                             concentration_high=Decimal(ew["concentration_high"]),
                             concentration_min_loans=int(ew["concentration_min_loans"]))
