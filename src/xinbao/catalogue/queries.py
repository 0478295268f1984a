"""Read-side use cases: the product catalogue."""

from __future__ import annotations

from xinbao.catalogue.model.products import Product
from xinbao.catalogue.repository import UnitOfWork
from xinbao.iam.access import authorize
from xinbao.iam.model.security import Action


def list_products(uow: UnitOfWork) -> list[Product]:
    authorize(uow, Action.CATALOGUE_READ)
    with uow:
        return uow.products.list_latest()
