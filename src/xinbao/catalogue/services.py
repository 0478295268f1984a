"""Products, partner funders and their cooperation agreements."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import date
from typing import Any

from xinbao.catalogue.commands import AmendAgreement, RegisterFunder, RegisterProduct
from xinbao.catalogue.model.agreements import Agreement, FeedColumns, next_version
from xinbao.catalogue.model.parties import Funder
from xinbao.catalogue.model.products import Product
from xinbao.catalogue.repository import UnitOfWork
from xinbao.iam.access import authorize
from xinbao.iam.model.security import Action
from xinbao.kernel.errors import Conflict, InvalidInput, require
from xinbao.kernel.retries import retried


@retried
def register_funder(cmd: RegisterFunder, uow: UnitOfWork) -> Funder:
    """Register a funder under version 1 of its cooperation agreement; a code already
    registered is a conflict."""
    authorize(uow, Action.CATALOGUE_MANAGE)
    agreement = Agreement(
        funder_code=cmd.code.strip(), version=1, effective_from=cmd.effective_from,
        products=_codes(cmd.products), commission_rate=cmd.commission_rate,
        volume_share=cmd.volume_share, risk_share=cmd.risk_share,
        settlement_days=cmd.settlement_days, file_format=cmd.file_format.strip().lower(),
        claim_notice_days=cmd.claim_notice_days, premium_grace_days=cmd.premium_grace_days,
        premium_collector=cmd.premium_collector.strip().lower())
    funder = Funder.register(code=cmd.code, name=cmd.name, credit_code=cmd.credit_code,
                             kind=cmd.kind, licensed=cmd.licensed, agreement=agreement)
    with uow:
        _check_known(uow, agreement.products)
        if uow.funders.get_by_code(funder.code) is not None:
            raise Conflict(f"funder {funder.code!r} exists")
        funder = uow.funders.add(funder)
        assert funder.id is not None
        uow.funders.add_agreement(funder.id, agreement)
        uow.commit()
    return funder


@dataclass(frozen=True, slots=True)
class AgreementVersion:
    """The version a command left in force, and whether it stored it (False: the terms
    repeated the newest version's, nothing was written)."""

    funder: Funder
    agreement: Agreement
    stored: bool


@retried
def amend_agreement(cmd: AmendAgreement, uow: UnitOfWork, *,
                    feed_columns: FeedColumns | None = None) -> AgreementVersion:
    """Store the next version of a funder's agreement; it takes over the funder's products
    and commission. An identical repeat returns the newest version unchanged.

    A new column mapping is checked against ``feed_columns``, the file types and their
    columns (``batch.feeds.SCHEMAS``, a layer above the catalogue: the caller passes them;
    none given, a new mapping is refused)."""
    authorize(uow, Action.CATALOGUE_MANAGE)
    with uow:
        funder = require(uow.funders.get_by_code(cmd.funder_code.strip()), "funder",
                         cmd.funder_code)
        assert funder.id is not None
        history = uow.funders.agreements(funder.id)
        newest = history[-1] if history else Agreement(  # a funder from before versions
            funder.code, 0, date.min, funder.products, funder.commission_rate)
        changes: dict[str, Any] = {
            "products": _codes(cmd.products) if cmd.products is not None else None,
            "commission_rate": cmd.commission_rate, "volume_share": cmd.volume_share,
            "risk_share": cmd.risk_share, "settlement_days": cmd.settlement_days,
            "file_format": cmd.file_format.strip().lower() if cmd.file_format else None,
            "claim_notice_days": cmd.claim_notice_days,
            "premium_grace_days": cmd.premium_grace_days,
            "premium_collector": cmd.premium_collector.strip().lower()
            if cmd.premium_collector else None,
            "feed_mapping": None if cmd.feed_mapping is None
            else _merged(newest.feed_mapping, cmd.feed_mapping)}
        proposed = replace(newest, effective_from=cmd.effective_from or cmd.on,
                           **{k: v for k, v in changes.items() if v is not None})
        agreement = next_version(newest, proposed, on=cmd.on, feed_columns=feed_columns)
        if agreement is None:
            return AgreementVersion(funder, newest, stored=False)
        _check_known(uow, agreement.products)
        funder.adopt(agreement, on=cmd.on)
        uow.funders.add_agreement(funder.id, agreement)
        uow.funders.save(funder)
        uow.commit()
    return AgreementVersion(funder, agreement, stored=True)


def _merged(kept: Mapping[str, Mapping[str, str]],
            given: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    """``kept`` with the file types ``given`` names replaced (an empty one removed)."""
    merged = {kind: dict(names) for kind, names in kept.items()}
    for kind, names in given.items():
        if names:
            merged[kind.strip()] = {theirs: ours.strip() for theirs, ours in names.items()}
        else:
            merged.pop(kind.strip(), None)
    return merged


def _codes(products: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(p.strip() for p in products)


def _check_known(uow: UnitOfWork, products: tuple[str, ...]) -> None:
    unknown = [p for p in products if not uow.products.versions(p)]
    if unknown:
        raise InvalidInput.single("products", "product.known",
                                  f"no product {', '.join(unknown)} in the catalogue")


@retried
def register_product(cmd: RegisterProduct, uow: UnitOfWork) -> Product:
    """Store a product as version 1, or as the next version of an existing code.

    A version is never changed once stored; an identical repeat returns the stored version.
    """
    authorize(uow, Action.CATALOGUE_MANAGE)
    with uow:
        versions = uow.products.versions(cmd.code)
        latest = max(versions, key=lambda p: p.version) if versions else None
        product = Product(version=(latest.version + 1 if latest else 1), **asdict(cmd))
        product.ensure_valid()
        if latest is not None:
            same = {**asdict(latest), "version": product.version} == asdict(product)
            if same:
                return latest
            if product.effective_from < latest.effective_from:
                raise InvalidInput.single(
                    "effective_from", "product.version_order",
                    f"a new version cannot take effect before v{latest.version} "
                    f"({latest.effective_from})",
                )
        uow.products.add(product)
        uow.commit()
    return product
