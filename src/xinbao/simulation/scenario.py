"""Scenarios: the knobs of a simulated market, saved as versioned TOML files.

A scenario fixes the seed, the calendar (start, months), the volume and mix of applications,
the funders and their cooperation agreements, the macro path (base, downturn, or the
2019-style stress that took the industry's loss ratio above 100 %) and the share of
applications made by fraud rings. Same scenario file, same market, to the fen.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from importlib import resources
from pathlib import Path

from xinbao.catalogue.model.parties import FunderKind
from xinbao.catalogue.model.products import ProductFamily

#: The scenario file format; bump when fields change meaning.
FORMAT_VERSION = 1

MACRO_PATHS = ("base", "downturn", "stress2019")


@dataclass(frozen=True, slots=True)
class FunderSpec:
    """A partner funder and its cooperation agreement with the insurer."""

    code: str
    name: str
    kind: FunderKind
    products: tuple[str, ...]  # product codes the funder sells with cover
    volume_share: float  # share of applications it brings, among funders of a product
    commission_rate: Decimal  # channel fee, share of premium
    risk_share: Decimal  # share of each loss the funder keeps (information for reports)
    settlement_days: int = 30  # settlement cycle of premium and claims, days
    file_format: str = "csv"  # how it sends application and repayment files
    premium_collector: str = "insurer"  # who collects the premium: insurer or funder


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    version: int
    seed: int
    start: date
    months: int
    applications: int
    mix: dict[ProductFamily, float]  # share of applications per family
    products: dict[ProductFamily, str]  # product code used for each family
    macro: str  # one of MACRO_PATHS
    fraud_prevalence: float  # share of applications that belong to fraud rings
    funders: tuple[FunderSpec, ...]
    default_multiplier: float = 1.0  # scales every borrower's default hazard
    claim_payment_days: tuple[int, int] = (5, 20)  # claims staff decide within these days
    # Share of defaults whose funder sends a claim notice before the batch's trigger (the
    # rest are claimed by the end-of-day trigger alone).
    notice_share: float = 0.3
    # Share of policies the borrower cancels in the cooling-off period (every premium back).
    cancel_share: float = 0.02
    # Share of loans whose borrower repays part of the principal early once, and share the
    # funder restructures once (of those, the share the insurer consents to).
    partial_prepay_share: float = 0.03
    restructure_share: float = 0.01
    restructure_consent_share: float = 0.8
    description: str = ""

    def validate(self) -> list[str]:
        problems = []
        if self.months < 1 or self.applications < 1:
            problems.append("months and applications must be positive")
        if self.macro not in MACRO_PATHS:
            problems.append(f"macro must be one of {', '.join(MACRO_PATHS)}")
        if not 0 <= self.fraud_prevalence < 0.5:
            problems.append("fraud_prevalence must be in [0, 0.5)")
        if not 0 <= self.notice_share <= 1:
            problems.append("notice_share must be in [0, 1]")
        for name in ("cancel_share", "partial_prepay_share", "restructure_share",
                     "restructure_consent_share"):
            if not 0 <= getattr(self, name) <= 1:
                problems.append(f"{name} must be in [0, 1]")
        if abs(sum(self.mix.values()) - 1) > 1e-9 or any(v < 0 for v in self.mix.values()):
            problems.append("mix shares must be non-negative and sum to 1")
        if set(self.mix) - set(self.products):
            problems.append("every family in the mix needs a product")
        offered = {code for f in self.funders for code in f.products}
        for family, share in self.mix.items():
            if share > 0 and self.products[family] not in offered:
                problems.append(f"no funder offers {self.products[family]}")
        if len({f.code for f in self.funders}) != len(self.funders):
            problems.append("funder codes must be unique")
        return problems

    def scaled(self, applications: int) -> Scenario:
        return replace(self, applications=applications)


def _funder(data: dict) -> FunderSpec:
    return FunderSpec(
        code=data["code"], name=data["name"], kind=FunderKind(data["kind"]),
        products=tuple(data["products"]), volume_share=float(data["volume_share"]),
        commission_rate=Decimal(str(data["commission_rate"])),
        risk_share=Decimal(str(data.get("risk_share", "0"))),
        settlement_days=int(data.get("settlement_days", 30)),
        # "json" was this format's name for JSON lines before agreements were versioned.
        file_format={"json": "jsonl"}.get(str(data.get("file_format", "csv")),
                                          str(data.get("file_format", "csv"))),
        premium_collector=str(data.get("premium_collector", "insurer")),
    )


BUILT_IN = ("base", "downturn", "stress2019")


def load_scenario(path: Path) -> Scenario:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return scenario_from_dict(data)


def resolve_scenario(name_or_path: str) -> Scenario:
    """A scenario file's path, or the name of a shipped one (base, downturn, stress2019)."""
    path = Path(name_or_path)
    if path.exists():
        return load_scenario(path)
    if name_or_path in BUILT_IN:
        text = resources.files("xinbao.params").joinpath(
            "scenarios", f"{name_or_path}.toml").read_text("utf-8")
        return scenario_from_dict(tomllib.loads(text))
    raise FileNotFoundError(f"no scenario file {name_or_path!r} (shipped: {', '.join(BUILT_IN)})")


def scenario_from_dict(data: dict) -> Scenario:
    if int(data.get("format", FORMAT_VERSION)) != FORMAT_VERSION:
        raise ValueError(f"scenario format {data.get('format')} is not {FORMAT_VERSION}")
    scenario = Scenario(
        name=data["name"], version=int(data["version"]), seed=int(data["seed"]),
        start=date.fromisoformat(str(data["start"])), months=int(data["months"]),
        applications=int(data["applications"]),
        mix={ProductFamily(k): float(v) for k, v in data["mix"].items()},
        products={ProductFamily(k): str(v) for k, v in data["products"].items()},
        macro=str(data["macro"]), fraud_prevalence=float(data["fraud_prevalence"]),
        funders=tuple(_funder(f) for f in data["funder"]),
        default_multiplier=float(data.get("default_multiplier", 1.0)),
        claim_payment_days=tuple(data.get("claim_payment_days", (5, 20))),
        notice_share=float(data.get("notice_share", 0.3)),
        cancel_share=float(data.get("cancel_share", 0.02)),
        partial_prepay_share=float(data.get("partial_prepay_share", 0.03)),
        restructure_share=float(data.get("restructure_share", 0.01)),
        restructure_consent_share=float(data.get("restructure_consent_share", 0.8)),
        description=str(data.get("description", "")),
    )
    problems = scenario.validate()
    if problems:
        raise ValueError("invalid scenario: " + "; ".join(problems))
    return scenario


def dump_scenario(s: Scenario) -> str:
    """The scenario as TOML (the same text ``load_scenario`` reads)."""
    lines = [
        f"# Xinbao market scenario. {s.description}".rstrip(),
        f"format = {FORMAT_VERSION}",
        f'name = "{s.name}"',
        f"version = {s.version}",
        f"seed = {s.seed}",
        f'start = "{s.start.isoformat()}"',
        f"months = {s.months}",
        f"applications = {s.applications}",
        f'macro = "{s.macro}"',
        f"fraud_prevalence = {s.fraud_prevalence}",
        f"default_multiplier = {s.default_multiplier}",
        f"claim_payment_days = [{s.claim_payment_days[0]}, {s.claim_payment_days[1]}]",
        f"notice_share = {s.notice_share}",
        f"cancel_share = {s.cancel_share}",
        f"partial_prepay_share = {s.partial_prepay_share}",
        f"restructure_share = {s.restructure_share}",
        f"restructure_consent_share = {s.restructure_consent_share}",
        f'description = "{s.description}"',
        "",
        "[mix]",
        *(f"{k.value} = {v}" for k, v in s.mix.items()),
        "",
        "[products]",
        *(f'{k.value} = "{v}"' for k, v in s.products.items()),
    ]
    for f in s.funders:
        lines += [
            "", "[[funder]]", f'code = "{f.code}"', f'name = "{f.name}"',
            f'kind = "{f.kind.value}"',
            "products = [" + ", ".join(f'"{p}"' for p in f.products) + "]",
            f"volume_share = {f.volume_share}", f'commission_rate = "{f.commission_rate}"',
            f'risk_share = "{f.risk_share}"', f"settlement_days = {f.settlement_days}",
            f'file_format = "{f.file_format}"',
            f'premium_collector = "{f.premium_collector}"',
        ]
    return "\n".join(lines) + "\n"
