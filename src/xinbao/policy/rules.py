"""The policy administration parameters shipped with the system (``params/policy.toml``),
read once; a use case takes parameters given to it (a test) or these."""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

#: What the wording does when installment premium stays unpaid past the agreement's grace.
NET, LAPSE = "net", "lapse"


@dataclass(frozen=True, slots=True)
class PolicyRules:
    """The cooling-off days, by default and per product; per insurance mode, what unpaid
    premium leads to (``NET``: it is netted against a claim; ``LAPSE``: the policy lapses)."""

    version: str
    cooling_off_days: int
    products: dict[str, int] = field(default_factory=dict)
    unpaid_premium: dict[str, str] = field(default_factory=dict)
    #: How each product's single premium is earned: ``time`` (by its refund method, the
    #: default) or ``exposure`` (following the outstanding principal).
    earning: dict[str, str] = field(default_factory=dict)

    def cooling_off_for(self, product_code: str) -> int:
        return self.products.get(product_code, self.cooling_off_days)

    def earning_for(self, product_code: str) -> str:
        return self.earning.get(product_code, "time")

    def unpaid_premium_for(self, mode: str) -> str:
        return self.unpaid_premium.get(mode, NET)


def parse_policy_rules(data: dict[str, Any]) -> PolicyRules:
    """The rules of a ``policy.toml`` (ValueError for a negative period)."""
    default = int(data["defaults"]["cooling_off_days"])
    products = {code: int(part.get("cooling_off_days", default))
                for code, part in data.get("products", {}).items()}
    if default < 0 or any(days < 0 for days in products.values()):
        raise ValueError("a cooling-off period is 0 days or more")
    unpaid = {str(mode): str(rule) for mode, rule in data.get("unpaid_premium", {}).items()}
    if any(rule not in (NET, LAPSE) for rule in unpaid.values()):
        raise ValueError(f"unpaid premium is {NET} or {LAPSE}")
    earning = {code: str(part["earning"]) for code, part in data.get("products", {}).items()
               if "earning" in part}
    if any(way not in ("time", "exposure") for way in earning.values()):
        raise ValueError("a product earns its premium by time or by exposure")
    return PolicyRules(str(data["version"]), default, products, unpaid, earning)


@functools.cache
def shipped() -> PolicyRules:
    text = resources.files("xinbao.params").joinpath("policy.toml").read_text("utf-8")
    return parse_policy_rules(tomllib.loads(text))
