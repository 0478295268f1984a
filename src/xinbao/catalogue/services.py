"""Products and partner funders."""

from __future__ import annotations

from dataclasses import asdict

from xinbao.catalogue.commands import RegisterFunder, RegisterProduct
from xinbao.catalogue.model.parties import Funder
from xinbao.catalogue.model.products import Product
from xinbao.catalogue.repository import UnitOfWork
from xinbao.iam.access import authorize
from xinbao.iam.model.security import Action
from xinbao.kernel.errors import Conflict, InvalidInput


def register_funder(cmd: RegisterFunder, uow: UnitOfWork) -> Funder:
    funder = Funder(code=cmd.code, name=cmd.name, credit_code=cmd.credit_code, kind=cmd.kind,
                    licensed=cmd.licensed, commission_rate=cmd.commission_rate,
                    products=tuple(p.strip() for p in cmd.products))
    authorize(uow, Action.CATALOGUE_MANAGE)
    errors = funder.validate()
    if errors:
        raise InvalidInput(errors)
    with uow:
        unknown = [p for p in funder.products if not uow.products.versions(p)]
        if unknown:
            raise InvalidInput.single("products", "product.known",
                                      f"no product {', '.join(unknown)} in the catalogue")
        if uow.funders.get_by_code(cmd.code) is not None:
            raise Conflict(f"funder {cmd.code!r} exists")
        funder = uow.funders.add(funder)
        uow.commit()
    return funder


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
