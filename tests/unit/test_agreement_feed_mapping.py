"""A funder's column names kept on its agreement (issue 21): a new mapping is a new version,
checked against the file types and their columns passed in, on the in-memory fake."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tests import builders as b
from tests.fakes.memory import InMemoryUnitOfWork, Store
from xinbao.batch.feeds import SCHEMAS
from xinbao.catalogue import services as catalogue
from xinbao.catalogue.commands import AmendAgreement
from xinbao.kernel.errors import InvalidInput

ON = date(2025, 3, 1)
COLUMNS = {kind.value: {c.name for c in columns} for kind, columns in SCHEMAS.items()}
THEIRS = {"合同号": "contract_no", "期数": "installment_number", "流水号": "reference"}


@pytest.fixture
def uow():
    store = Store()

    def factory() -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(store)

    b.seed(factory)
    return factory


def _amend(uow, mapping, columns=COLUMNS, **terms):
    return catalogue.amend_agreement(AmendAgreement("BANK-A", on=ON, feed_mapping=mapping,
                                                    **terms), uow(), feed_columns=columns)


def test_a_new_mapping_is_a_new_version_and_keeps_the_other_types(uow):
    first = _amend(uow, {"repayments": THEIRS})
    second = _amend(uow, {"loan_status": {"状态": "status"}})
    again = _amend(uow, {"loan_status": {"状态": "status"}})

    assert (first.stored, first.agreement.version) == (True, 2)
    assert first.agreement.mapping_for("repayments") == THEIRS
    assert second.agreement.version == 3
    assert second.agreement.feed_mapping == {"repayments": THEIRS,
                                             "loan_status": {"状态": "status"}}
    assert not again.stored and again.agreement.version == 3
    with uow() as u:
        funder = u.funders.get_by_code("BANK-A")
        versions = u.funders.agreements(funder.id)
    assert [a.feed_mapping for a in versions] == [
        {}, {"repayments": THEIRS}, second.agreement.feed_mapping]
    assert versions[-1].as_data()["feed_mapping"]["repayments"] == THEIRS


def test_an_empty_mapping_removes_that_types(uow):
    _amend(uow, {"repayments": THEIRS})

    removed = _amend(uow, {"repayments": {}})

    assert removed.stored and removed.agreement.feed_mapping == {}


@pytest.mark.parametrize(("mapping", "rule"), [
    ({"mortgages": {"a": "contract_no"}}, "agreement.feed_type"),
    ({"repayments": {"合同号": "contract_number"}}, "agreement.feed_column"),
    ({"repayments": {"合同号": "contract_no", "合同编号": "contract_no"}},
     "agreement.feed_mapping"),
    ({"repayments": {"": "contract_no"}}, "agreement.feed_mapping"),
    ({"repayments": {"a\nb": "contract_no"}}, "agreement.feed_mapping"),
])
def test_a_bad_mapping_is_refused_with_its_rule_and_stores_nothing(uow, mapping, rule):
    with pytest.raises(InvalidInput) as refused:
        _amend(uow, mapping)

    assert rule in [e.rule for e in refused.value.errors]
    with uow() as u:
        assert len(u.funders.agreements(u.funders.get_by_code("BANK-A").id)) == 1


def test_a_new_mapping_without_the_columns_to_check_it_against_is_refused(uow):
    with pytest.raises(InvalidInput) as refused:
        _amend(uow, {"repayments": THEIRS}, columns=None)

    assert refused.value.errors[0].rule == "agreement.feed_type"


def test_other_terms_change_without_the_columns_when_the_mapping_stays(uow):
    _amend(uow, {"repayments": THEIRS})

    changed = _amend(uow, None, columns=None, commission_rate=Decimal("0.07"))

    assert changed.stored and changed.agreement.commission_rate == Decimal("0.07")
    assert changed.agreement.feed_mapping == {"repayments": THEIRS}
