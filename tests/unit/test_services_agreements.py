"""Registering funders and amending their cooperation agreements, on the in-memory fake."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tests import builders as b
from tests.fakes.memory import InMemoryUnitOfWork, Store
from xinbao.catalogue import services as catalogue
from xinbao.catalogue.commands import AmendAgreement
from xinbao.catalogue.model.parties import Funder, FunderKind
from xinbao.iam.model.security import Forbidden, Principal, Role
from xinbao.kernel.errors import Conflict, InvalidInput, NotFound


@pytest.fixture
def uow():
    """A unit of work per call, over one store (``uow(principal)`` acts for someone)."""
    store = Store()

    def factory(actor: Principal | None = None) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(store, actor=actor)

    b.seed(factory)
    return factory


def test_registration_stores_version_1_and_records_it(uow):
    with uow() as u:
        funder = u.funders.get_by_code("BANK-A")
        [v1] = u.funders.agreements(funder.id)
        names = [e.name for e in u.events.list(aggregate="funder")]
    assert (v1.version, v1.effective_from, v1.products) == (1, date(2024, 12, 31), funder.products)
    assert (v1.risk_share, v1.settlement_days, v1.file_format, v1.volume_share) == (
        Decimal(0), 30, "csv", None)
    assert names == ["FunderRegistered"]


def test_a_code_registered_before_is_a_conflict_and_a_refusal_writes_nothing(uow):
    with pytest.raises(Conflict):
        catalogue.register_funder(b.bank(), uow())
    with pytest.raises(InvalidInput) as refused:
        catalogue.register_funder(b.bank("CFC-1", products=("TRAVEL-X",)), uow())
    assert refused.value.errors[0].rule == "product.known"
    with uow() as u:
        assert [f.code for f in u.funders.list()] == ["BANK-A"]


def test_an_amendment_changes_only_the_terms_it_names(uow):
    done = catalogue.amend_agreement(AmendAgreement(
        "BANK-A", on=date(2025, 3, 1), commission_rate=Decimal("0.06"), file_format=" JSONL "),
        uow())
    assert done.stored and done.agreement.version == 2
    assert (done.agreement.commission_rate, done.agreement.file_format,
            done.agreement.effective_from) == (Decimal("0.06"), "jsonl", date(2025, 3, 1))
    assert done.agreement.products == b.bank().products
    with uow() as u:
        assert u.funders.get_by_code("BANK-A").commission_rate == Decimal("0.06")
    again = catalogue.amend_agreement(AmendAgreement(
        "BANK-A", on=date(2025, 4, 1), commission_rate=Decimal("0.06")), uow())
    assert not again.stored and again.agreement.version == 2


def test_a_refused_amendment_leaves_the_funders_terms_alone(uow):
    with pytest.raises(InvalidInput):
        catalogue.amend_agreement(AmendAgreement(
            "BANK-A", on=date(2025, 3, 1), products=("CONSUMER-G",), risk_share=Decimal(1)),
            uow())
    with uow() as u:
        funder = u.funders.get_by_code("BANK-A")
        assert funder.products == b.bank().products
        assert len(u.funders.agreements(funder.id)) == 1


def test_a_funder_stored_without_versions_gets_version_1_from_its_first_amendment(uow):
    with uow() as u:
        u.funders.add(Funder(code="OLD", name="Old bank", credit_code=b.CREDIT_CODE_BANK,
                             kind=FunderKind.BANK, licensed=True,
                             commission_rate=Decimal("0.1"), products=("CONSUMER-G",)))
        u.commit()
    done = catalogue.amend_agreement(AmendAgreement(
        "OLD", on=date(2025, 3, 1), settlement_days=7), uow())
    assert (done.agreement.version, done.agreement.products) == (1, ("CONSUMER-G",))


def test_amending_needs_the_catalogue_authority_and_a_known_funder(uow):
    underwriter = Principal("user", "wang.wu", frozenset({Role.UNDERWRITER}))
    with pytest.raises(Forbidden):
        catalogue.amend_agreement(AmendAgreement("BANK-A", on=date(2025, 3, 1),
                                                 commission_rate=Decimal("0.05")),
                                  uow(underwriter))
    with pytest.raises(NotFound):
        catalogue.amend_agreement(AmendAgreement("NOBODY", on=date(2025, 3, 1)), uow())
