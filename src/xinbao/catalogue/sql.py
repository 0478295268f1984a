"""Catalogue's SQL repositories: products, funders and their agreements."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update

from xinbao.catalogue import tables
from xinbao.catalogue.model.agreements import Agreement
from xinbao.catalogue.model.parties import (
    Funder,
    FunderKind,
    InsuranceMode,
)
from xinbao.catalogue.model.products import (
    PremiumBasis,
    Product,
    ProductFamily,
    RefundMethod,
    RepaymentMethod,
)
from xinbao.platform.prepared import Prepared
from xinbao.platform.sql import SqlRepository, codes


@functools.cache
def _hot() -> dict[str, Prepared]:
    """A product version and a funder by id: read for every decision, on the driver's cursor
    (``platform.prepared``)."""
    p, f = tables.products, tables.funders
    return {
        "product": Prepared(select(p).where(p.c.code == bindparam("code"),
                                            p.c.version == bindparam("version"))),
        "funder": Prepared(select(f).where(f.c.id == bindparam("id"))),
    }


@functools.cache
def _statements() -> dict[str, Any]:
    f, a = tables.funders, tables.funder_agreements
    return {"funder_by_code": select(f).where(f.c.code == bindparam("code")),
            "save_funder": update(f).where(f.c.id == bindparam("b_id")).values(
                products=bindparam("b_products"),
                commission_rate=bindparam("b_commission_rate"),
                premium_collector=bindparam("b_premium_collector")),
            "agreements": select(a, f.c.code).join(f, f.c.id == a.c.funder_id)
            .order_by(a.c.funder_id, a.c.version)}


class SqlProductRepository(SqlRepository):
    def add(self, product: Product) -> None:
        values = {f.name: getattr(product, f.name) for f in fields(product)}
        values["repayment_methods"] = ",".join(m.value for m in product.repayment_methods)
        self._c.execute(insert(tables.products), values)

    @staticmethod
    def _from_row(r: Any) -> Product:
        return Product(
            code=r.code, version=r.version, name=r.name, mode=InsuranceMode(r.mode),
            family=ProductFamily(r.family), min_amount_fen=r.min_amount_fen,
            max_amount_fen=r.max_amount_fen, min_term_months=r.min_term_months,
            max_term_months=r.max_term_months,
            repayment_methods=tuple(RepaymentMethod(m) for m in codes(r.repayment_methods)),
            claim_trigger_dpd=r.claim_trigger_dpd, waiting_period_days=r.waiting_period_days,
            coverage_share=r.coverage_share, premium_basis=PremiumBasis(r.premium_basis),
            monthly_premium_rate=r.monthly_premium_rate,
            refund_method=RefundMethod(r.refund_method), effective_from=r.effective_from,
        )

    def versions(self, code: str) -> list[Product]:
        t = tables.products
        rows = self._c.execute(select(t).where(t.c.code == code).order_by(t.c.version))
        return [self._from_row(r) for r in rows]

    def get(self, code: str, version: int) -> Product | None:
        r = _hot()["product"].first(self._c, {"code": code, "version": version})
        return self._from_row(r) if r else None

    def list_latest(self) -> list[Product]:
        t = tables.products
        latest = (select(t.c.code, func.max(t.c.version).label("version"))
                  .group_by(t.c.code).subquery())
        rows = self._c.execute(select(t).join(
            latest, (t.c.code == latest.c.code) & (t.c.version == latest.c.version)
        ).order_by(t.c.code))
        return [self._from_row(r) for r in rows]


class SqlFunderRepository(SqlRepository):
    @staticmethod
    def _from_row(r: Any) -> Funder:
        return Funder(code=r.code, name=r.name, credit_code=r.credit_code,
                      kind=FunderKind(r.kind), licensed=r.licensed,
                      commission_rate=r.commission_rate, products=codes(r.products),
                      premium_collector=r.premium_collector, id=r.id)

    def add(self, funder: Funder) -> Funder:
        funder.id = self._insert(tables.funders, {
            "code": funder.code, "name": funder.name, "credit_code": funder.credit_code,
            "kind": funder.kind.value, "licensed": funder.licensed,
            "commission_rate": funder.commission_rate, "products": ",".join(funder.products),
            "premium_collector": funder.premium_collector})
        self._drain(funder)
        return funder

    def get(self, funder_id: int) -> Funder | None:
        r = _hot()["funder"].first(self._c, {"id": funder_id})
        return self._from_row(r) if r else None

    def get_by_code(self, code: str) -> Funder | None:
        r = self._c.execute(_statements()["funder_by_code"], {"code": code}).first()
        return self._from_row(r) if r else None

    def list(self) -> list[Funder]:
        return [self._from_row(r)
                for r in self._c.execute(select(tables.funders).order_by(tables.funders.c.id))]

    def save(self, funder: Funder) -> None:
        self._c.execute(_statements()["save_funder"], {
            "b_id": funder.id, "b_products": ",".join(funder.products),
            "b_commission_rate": funder.commission_rate,
            "b_premium_collector": funder.premium_collector})
        self._drain(funder)

    def add_agreement(self, funder_id: int, agreement: Agreement) -> None:
        self._c.execute(insert(tables.funder_agreements), {
            "funder_id": funder_id, "version": agreement.version,
            "effective_from": agreement.effective_from,
            "products": ",".join(agreement.products),
            "commission_rate": agreement.commission_rate,
            "volume_share": agreement.volume_share, "risk_share": agreement.risk_share,
            "settlement_days": agreement.settlement_days,
            "file_format": str(agreement.file_format),
            "feed_mapping": {kind: dict(names) for kind, names
                             in agreement.feed_mapping.items()},
            "claim_notice_days": agreement.claim_notice_days,
            "premium_grace_days": agreement.premium_grace_days,
            "premium_collector": str(agreement.premium_collector)})

    def agreements(self, funder_id: int | None = None) -> Sequence[Agreement]:
        statement = _statements()["agreements"]
        if funder_id is not None:
            statement = statement.where(tables.funder_agreements.c.funder_id == funder_id)
        return [Agreement(funder_code=r.code, version=r.version,
                          effective_from=r.effective_from, products=codes(r.products),
                          commission_rate=r.commission_rate, volume_share=r.volume_share,
                          risk_share=r.risk_share, settlement_days=r.settlement_days,
                          file_format=r.file_format,
                          feed_mapping=_mapping(r.feed_mapping),
                          claim_notice_days=r.claim_notice_days,
                          premium_grace_days=r.premium_grace_days,
                          premium_collector=r.premium_collector)
                for r in self._c.execute(statement)]


def _mapping(stored: Any) -> dict[str, dict[str, str]]:
    """A stored column mapping (JSON; a driver may hand back its text)."""
    data = json.loads(stored) if isinstance(stored, str) else stored or {}
    return {str(kind): {str(k): str(v) for k, v in names.items()}
            for kind, names in data.items()}
