"""Portfolio and regulatory limits at approval: how much retained liability may still be taken.

Retained liability (自留责任余额) is the insured financed balance net of reinsurance ceded; the
book cedes nothing yet, so a loan adds principal × the insurer's coverage share. The limits
(``params/regulatory.toml``, ``params/risk.toml``; 银保监办发〔2020〕39号, DOMAIN §3):

- LIM-PORTFOLIO-APPETITE: total retained liability ≤ k × net assets (k = 4 by default);
- LIM-SINGLE-OBLIGOR: one obligor ≤ 1 % of net assets;
- LIM-BORROWER-CAP: one individual ≤ RMB 200,000, one enterprise ≤ RMB 1,000,000;
- LIM-CONC-FUNDER / -REGION / -INDUSTRY / -PRODUCT: each funder, province, industry and
  product ≤ its share of the total limit (concentration caps, the insurer's own appetite).

Each limit is a counter (dimension, key) with a cap and the liability already used. The
service reserves a new loan's liability on every counter it touches in one atomic step, so
concurrent approvals never take a limit past its cap (``risk/services.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, localcontext

from xinbao.kernel.money import PRECISION
from xinbao.risk.model.limits import BORROWER_CAP, PORTFOLIO, Constraint

RETAINED = "retained"
OBLIGOR = "obligor"
FUNDER = "funder"
REGION = "region"
INDUSTRY = "industry"
PRODUCT = "product"
CONCENTRATION = (FUNDER, REGION, INDUSTRY, PRODUCT)

SINGLE_OBLIGOR = "LIM-SINGLE-OBLIGOR"
CODES = {RETAINED: PORTFOLIO, FUNDER: "LIM-CONC-FUNDER", REGION: "LIM-CONC-REGION",
         INDUSTRY: "LIM-CONC-INDUSTRY", PRODUCT: "LIM-CONC-PRODUCT"}

#: Industry key of loans to households (individuals), for the industry concentration.
HOUSEHOLD = "household"


@dataclass(frozen=True, slots=True)
class LimitRules:
    retained_multiple: Decimal  # k in retained ≤ k × net assets
    single_obligor_share: Decimal  # of net assets
    per_individual_cap_fen: int
    per_enterprise_cap_fen: int
    concentration: Mapping[str, Decimal]  # dimension -> share of the total retained limit


@dataclass(frozen=True, slots=True)
class Counter:
    dimension: str
    key: str
    cap_fen: int
    used_fen: int

    @property
    def room_fen(self) -> int:
        return max(self.cap_fen - self.used_fen, 0)


def limit_keys(*, funder: str, region: str, industry: str | None, enterprise: bool,
               product: str, obligor: str) -> tuple[tuple[str, str], ...]:
    """The counters a loan's retained liability counts against, as (dimension, key): the
    total, its funder, the borrower's province, its industry (households for individuals,
    and for enterprises that gave none), its product, and its obligor. Approval and the
    recount both ask here, so the two never disagree on what a loan counts against."""
    return ((RETAINED, "all"), (FUNDER, funder), (REGION, region),
            (INDUSTRY, (industry or HOUSEHOLD) if enterprise else HOUSEHOLD),
            (PRODUCT, product), (OBLIGOR, obligor))


def _floor(amount: Decimal) -> int:
    return int(amount.to_integral_value(rounding=ROUND_FLOOR))


def retained_fen(principal_fen: int, coverage_share: Decimal) -> int:
    """The liability a loan of this principal adds to the insurer's own account."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return int((principal_fen * coverage_share).to_integral_value(rounding=ROUND_HALF_UP))


def caps(rules: LimitRules, net_assets_fen: int) -> dict[str, int]:
    """The cap of each dimension but the obligor's, from net assets (none without them)."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        total = _floor(max(net_assets_fen, 0) * rules.retained_multiple)
        out = {RETAINED: total}
        out.update({d: _floor(total * share) for d, share in rules.concentration.items()})
    return out


def obligor_cap(rules: LimitRules, net_assets_fen: int, *, enterprise: bool) -> int:
    """The lesser of the per-borrower cap and the single-obligor share of net assets."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        share = _floor(max(net_assets_fen, 0) * rules.single_obligor_share)
    per_borrower = rules.per_enterprise_cap_fen if enterprise else rules.per_individual_cap_fen
    return min(per_borrower, share)


def constraints(counters: Iterable[Counter], coverage_share: Decimal, *, rules: LimitRules,
                net_assets_fen: int, enterprise: bool) -> list[Constraint]:
    """Each counter's room as a cap on the loan's principal, named for the decision."""
    out = []
    per_borrower = rules.per_enterprise_cap_fen if enterprise else rules.per_individual_cap_fen
    with localcontext() as ctx:
        ctx.prec = PRECISION
        for c in counters:
            principal = (_floor(Decimal(c.room_fen) / coverage_share) if coverage_share > 0
                         else c.room_fen)
            used = _used(c.used_fen, c.cap_fen)
            if c.dimension == OBLIGOR:
                code = BORROWER_CAP if c.cap_fen == per_borrower else SINGLE_OBLIGOR
                out.append(Constraint(code, principal, f"this borrower's retained liability: "
                                                        f"{used}"))
            else:
                basis = (f"retained liability ≤ {rules.retained_multiple} × net assets "
                         f"({_yuan(net_assets_fen)} yuan): {used}"
                         if c.dimension == RETAINED else f"{c.dimension} {c.key}: {used}")
                out.append(Constraint(CODES[c.dimension], principal, basis))
    return out


def _yuan(fen: int) -> str:
    """Fen as yuan with thousands separators and two places, from the integer: exact."""
    whole, cents = divmod(abs(fen), 100)
    return f"{'-' if fen < 0 else ''}{whole:,}.{cents:02d}"


@functools.lru_cache(maxsize=4096)
def _used(used_fen: int, cap_fen: int) -> str:
    """A counter's use in words; a batch's decisions share most counters, so each text is
    formatted once."""
    return f"{_yuan(used_fen)} of {_yuan(cap_fen)} yuan used"
