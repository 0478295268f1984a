"""An application's row: its profile columns (personal data encrypted, blind indexes for
the anti-fraud look-ups), collateral and evidence as JSON."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from xinbao.kernel.identity import region_of
from xinbao.platform.crypto import PiiCipher
from xinbao.underwriting.model import (
    Application,
    CollateralKind,
    CollateralOffer,
    Evidence,
    EvidenceKind,
)

#: Anti-fraud field -> (encrypted column or None, blind-index column, blind-index key name).
FIELD_INDEX = {
    "id_number": ("borrower_id_index", "borrower_id_number"),
    "phone": ("phone_index", "borrower_phone"),
    "bank_card": ("card_index", "borrower_bank_card"),
    "device_id": ("device_index", "device_id"),
    "address": ("address_index", "address"),
    "employer": ("employer_index", "employer"),
}


def profile_columns(a: Application, cipher: PiiCipher) -> dict[str, Any]:
    """The 0005 columns of an application row."""
    p = a.profile
    enterprise = a.borrower.kind.value == "enterprise"
    out: dict[str, Any] = {
        "monthly_income_fen": p.monthly_income_fen, "employment": p.employment,
        "industry": p.industry,
        "device_id": cipher.encrypt(p.device_id, field="device_id"),
        "address": cipher.encrypt(p.address, field="address"),
        "employer": cipher.encrypt(p.employer, field="employer"),
        "region": region_of(a.borrower.id_number, enterprise=enterprise),
        "collateral": collateral_to_json(a.collateral),
        "evidence": [{"kind": e.kind.value, "reference": e.reference, "sha256": e.sha256}
                     for e in a.evidence],
    }
    for name, (column, key) in FIELD_INDEX.items():
        if name != "id_number":
            out[column] = cipher.blind_index(a.value_of(name), field=key)
    return out


def collateral_to_json(c: CollateralOffer | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {"kind": c.kind.value, "new_price_fen": c.new_price_fen, "brand_tier": c.brand_tier,
            "first_registered": c.first_registered.isoformat() if c.first_registered else None,
            "appraised_fen": c.appraised_fen, "city_tier": c.city_tier,
            "prior_liens_fen": c.prior_liens_fen}


def collateral_from_json(d: Mapping[str, Any] | None) -> CollateralOffer | None:
    if not d:
        return None
    return CollateralOffer(
        kind=CollateralKind(d["kind"]), new_price_fen=d.get("new_price_fen"),
        brand_tier=d.get("brand_tier"),
        first_registered=(date.fromisoformat(d["first_registered"])
                          if d.get("first_registered") else None),
        appraised_fen=d.get("appraised_fen"), city_tier=d.get("city_tier"),
        prior_liens_fen=int(d.get("prior_liens_fen") or 0))


def evidence_from_json(items: Sequence[Mapping[str, Any]] | None) -> tuple[Evidence, ...]:
    return tuple(Evidence(EvidenceKind(e["kind"]), e["reference"], e["sha256"])
                 for e in items or ())
