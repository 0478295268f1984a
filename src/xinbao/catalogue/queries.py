"""Read-side use cases: the product catalogue, the funders and their agreements."""

from __future__ import annotations

from dataclasses import dataclass

from xinbao.catalogue.model.agreements import Agreement
from xinbao.catalogue.model.parties import Funder
from xinbao.catalogue.model.products import Product
from xinbao.catalogue.repository import UnitOfWork
from xinbao.iam.access import authorize, own
from xinbao.iam.model.security import Action
from xinbao.kernel.errors import require


def list_products(uow: UnitOfWork) -> list[Product]:
    authorize(uow, Action.CATALOGUE_READ)
    with uow:
        return uow.products.list_latest()


@dataclass(frozen=True, slots=True)
class FunderView:
    """A funder with every version of its agreement, oldest first."""

    funder: Funder
    agreements: tuple[Agreement, ...]

    @property
    def current(self) -> Agreement | None:
        """The newest version: the one in force."""
        return self.agreements[-1] if self.agreements else None


def list_funders(uow: UnitOfWork) -> list[FunderView]:
    """The funders the principal may see (a funder's own user: itself), by id."""
    authorize(uow, Action.CATALOGUE_READ)
    with uow:
        funders = [f for f in uow.funders.list() if uow.actor.sees_funder(f.id)]
        by_code: dict[str, list[Agreement]] = {}
        for a in uow.funders.agreements():
            by_code.setdefault(a.funder_code, []).append(a)
    return [FunderView(f, tuple(by_code.get(f.code, ()))) for f in funders]


def get_funder(uow: UnitOfWork, code: str) -> FunderView:
    """One funder and its agreement's versions; NotFound for another funder's user."""
    authorize(uow, Action.CATALOGUE_READ)
    with uow:
        funder = require(uow.funders.get_by_code(code.strip()), "funder", code)
        own(uow, funder.id, "funder", code)
        assert funder.id is not None
        return FunderView(funder, tuple(uow.funders.agreements(funder.id)))
