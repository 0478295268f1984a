"""Closing the reinsurance treaties' accounts (issue 23), on SQLite and PostgreSQL: the ceded
amounts are the treaty terms applied to the gross figures, to the fen; a close again posts
nothing, a later one the difference; concurrent closes post once; the statement's net
figures; the CLI and the API."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests import builders as b
from tests import support
from xinbao.bootstrap import Container
from xinbao.claims import services as claims
from xinbao.claims.commands import PayClaim
from xinbao.entrypoints.api.app import create_app
from xinbao.entrypoints.cli.main import app
from xinbao.iam.model.security import Principal, Role
from xinbao.kernel.money import apply_rate
from xinbao.ledger import model as gl
from xinbao.ledger import services as ledger
from xinbao.reinsurance.model import Treaties, Treaty, TreatyKind, layer_loss
from xinbao.reinsurance.services import close_reinsurance
from xinbao.reporting import services as reporting
from xinbao.simulation.identities import IdentityFactory

QS = Treaty("QS-T", TreatyKind.QUOTA_SHARE, "再保险公司", date(2024, 1, 1),
            cession=Decimal("0.30"), ceding_commission=Decimal("0.25"))
XL = Treaty("XL-T", TreatyKind.EXCESS_OF_LOSS, "再保险公司", date(2024, 1, 1),
            retention_fen=1_000_000, limit_fen=5_000_000, premium_rate=Decimal("0.02"))
BOOK = Treaties("test", (QS, XL))
_PEOPLE = IdentityFactory(31)


@pytest.fixture
def c(decided_container: Container) -> Container:
    return decided_container


def _ceded(c: Container, treaty: Treaty) -> dict[str, int]:
    totals: dict[str, int] = {}
    with c.uow() as u:
        for e in u.ledger.entries(reference=treaty.reference()):
            for line in e.lines:
                totals[line.account] = totals.get(line.account, 0) + line.amount_fen
    return {k: v for k, v in totals.items() if v}


def _paid_claim(c: Container) -> int:
    """A consumer loan that stopped after three installments, its claim paid: the amount."""
    _, claim, trigger = b.claimed_after_three_installments(c.uow, b.consumer_application(
        external_ref="RI-1", borrower_id_number=_PEOPLE.resident_id(
            born_between=(date(1975, 1, 1), date(1985, 12, 31)))))
    paid = claims.pay_claim(PayClaim(claim.id, trigger + timedelta(days=2)), c.uow(
        Principal("user", "li.na", frozenset({Role.CLAIMS_APPROVER}))))
    return paid.amount_fen


def test_the_ceded_amounts_are_the_treaty_terms_on_the_gross_figures_to_the_fen(c):
    b.issued_policy(c.uow, b.car_application())  # 720,000 fen single premium written
    indemnity = _paid_claim(c)
    through = date(2026, 1, 31)

    accounts = close_reinsurance(c.uow(), through=through, treaties=BOOK)

    tb = ledger.trial_balance(c.uow())
    gross = reporting.portfolio_kpis(c.uow()).statement
    written, upr = gross.written_premium_fen, gross.upr_change_fen
    premium = apply_rate(written, QS.cession)
    assert _ceded(c, QS) == {k: v for k, v in {
        gl.CEDED_PREMIUM: premium,
        gl.REINSURANCE_PAYABLE: -premium + apply_rate(premium, QS.ceding_commission),
        gl.CEDING_COMMISSION: -apply_rate(premium, QS.ceding_commission),
        gl.CEDED_UPR: apply_rate(upr, QS.cession),
        gl.CEDED_UPR_RECOVERED: -apply_rate(upr, QS.cession),
        gl.REINSURANCE_RECEIVABLE: apply_rate(indemnity, QS.cession),
        gl.CEDED_CLAIMS_RECOVERED: -apply_rate(indemnity, QS.cession)}.items() if v}
    retained = indemnity - apply_rate(indemnity, QS.cession)
    assert _ceded(c, XL).get(gl.CEDED_CLAIMS_RECOVERED, 0) == -layer_loss(XL, retained)
    assert _ceded(c, XL)[gl.CEDED_PREMIUM] == apply_rate(written - premium, XL.premium_rate)
    assert [a.posted is not None for a in accounts] == [True, True]
    assert tb.total == 0
    assert gross.net_written_premium_fen == written - premium - _ceded(c, XL)[
        gl.CEDED_PREMIUM]
    assert gross.net_claims_incurred_fen == gross.claims_incurred_fen \
        - apply_rate(indemnity, QS.cession) - layer_loss(XL, retained)


def test_a_close_again_posts_nothing_and_a_later_one_the_difference(c):
    b.issued_policy(c.uow, b.car_application())
    close_reinsurance(c.uow(), through=date(2025, 1, 31), treaties=BOOK)
    before = _ceded(c, QS)
    again = close_reinsurance(c.uow(), through=date(2025, 1, 31), treaties=BOOK)
    assert [a.posted for a in again] == [None, None] and _ceded(c, QS) == before

    b.issued_policy(c.uow, b.car_application(external_ref="APP-CAR-2",
                                             borrower_id_number=b.RESIDENT_ID))
    close_reinsurance(c.uow(), through=date(2025, 2, 28), treaties=BOOK)
    written = reporting.portfolio_kpis(c.uow()).statement.written_premium_fen
    assert _ceded(c, QS)[gl.CEDED_PREMIUM] == apply_rate(written, QS.cession)
    assert ledger.trial_balance(c.uow()).total == 0


def test_concurrent_closes_post_once(c):
    b.issued_policy(c.uow, b.car_application())
    support.race(6, lambda _: close_reinsurance(c.uow(), through=date(2025, 1, 31),
                                                treaties=BOOK))
    with c.uow() as u:
        ceded = [e for e in u.ledger.entries() if e.source_command == "CedeReinsurance"]
    assert len(ceded) == 2  # one a treaty
    assert ledger.trial_balance(c.uow()).total == 0


def test_the_cli_and_the_api_close_the_shipped_treaties(c):
    b.issued_policy(c.uow, b.car_application())
    result = CliRunner().invoke(app, ["reinsurance", "close", "--through", "2025-01-31",
                                      "--json", "--database-url", c.settings.database_url])
    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)["items"]
    assert {i["treaty"] for i in items} == {"QS-2024", "XL-2024"}
    assert all(i["posted_entry_id"] for i in items)
    token = support.api_token(c, "finance-api", ["finance"])
    with TestClient(create_app(c)) as client:
        answer = client.post("/v1/reinsurance/close", json={"through": "2025-01-31"},
                             headers=support.bearer(token))
        kpis = client.get("/v1/kpis", headers=support.bearer(token)).json()
    assert answer.status_code == 200
    assert [a["posted_entry_id"] for a in answer.json()] == [None, None]
    assert kpis["ceded_premium_fen"] > 0
    assert kpis["net_written_premium_fen"] == kpis["written_premium_fen"] \
        - kpis["ceded_premium_fen"]
    settled = CliRunner().invoke(app, ["reinsurance", "settle", "QS-2024", "--reference",
                                       "BK-9", "--on", "2025-02-05", "--json",
                                       "--database-url", c.settings.database_url])
    assert settled.exit_code == 0, settled.output
    doc = json.loads(settled.stdout)
    assert doc["net_to_reinsurer_fen"] == doc["payable_fen"] > 0 and not doc["repeat"]
    with TestClient(create_app(c)) as client:
        again = client.post("/v1/reinsurance/QS-2024/settle",
                            json={"on": "2025-02-06", "reference": "BK-9"},
                            headers=support.bearer(token))
        unknown = client.post("/v1/reinsurance/QS-1999/settle",
                              json={"reference": "BK-10"}, headers=support.bearer(token))
    assert again.status_code == 200 and again.json()["repeat"] is True
    assert again.json()["entry_id"] == doc["entry_id"]
    assert unknown.status_code == 404


def test_a_treaty_account_is_settled_in_cash_once_and_the_next_close_is_unmoved(c):
    from xinbao.kernel.errors import Conflict
    from xinbao.reinsurance.services import settle_reinsurance

    b.issued_policy(c.uow, b.car_application())
    indemnity = _paid_claim(c)
    close_reinsurance(c.uow(), through=date(2026, 1, 31), treaties=BOOK)
    before = ledger.trial_balance(c.uow())
    payable = -before.balance(gl.REINSURANCE_PAYABLE)
    receivable = before.balance(gl.REINSURANCE_RECEIVABLE)
    assert receivable == apply_rate(indemnity, QS.cession) + layer_loss(
        XL, indemnity - apply_rate(indemnity, QS.cession))

    done = settle_reinsurance(c.uow(), "QS-T", on=date(2026, 2, 5), reference="BK-1",
                              treaties=BOOK)
    again = settle_reinsurance(c.uow(), "QS-T", on=date(2026, 2, 6), reference="BK-1",
                               treaties=BOOK)
    settle_reinsurance(c.uow(), "XL-T", on=date(2026, 2, 5), reference="BK-2", treaties=BOOK)

    after = ledger.trial_balance(c.uow())
    assert (after.balance(gl.REINSURANCE_PAYABLE), after.balance(gl.REINSURANCE_RECEIVABLE)) \
        == (0, 0)
    assert after.balance(gl.BANK) - before.balance(gl.BANK) == receivable - payable
    assert again.repeat and again.entry.id == done.entry.id
    assert done.net_to_reinsurer_fen == _ceded_payable(QS, c) - done.receivable_fen
    with pytest.raises(Conflict, match="nothing left"):
        settle_reinsurance(c.uow(), "QS-T", on=date(2026, 2, 7), reference="BK-3",
                           treaties=BOOK)
    # The closes read only their own entries: the next one cedes nothing more.
    assert [a.posted for a in close_reinsurance(c.uow(), through=date(2026, 1, 31),
                                                treaties=BOOK)] == [None, None]
    assert after.total == 0


def _ceded_payable(treaty: Treaty, c: Container) -> int:
    return -_ceded(c, treaty).get(gl.REINSURANCE_PAYABLE, 0)


def test_racing_settlements_of_one_payment_post_once_and_a_bad_reference_is_refused(c):
    from xinbao.kernel.errors import InvalidInput
    from xinbao.reinsurance.services import settle_reinsurance

    b.issued_policy(c.uow, b.car_application())
    close_reinsurance(c.uow(), through=date(2025, 1, 31), treaties=BOOK)
    with pytest.raises(InvalidInput, match="reinsurance.reference"):
        settle_reinsurance(c.uow(), "QS-T", on=date(2025, 2, 5), reference=" ",
                           treaties=BOOK)

    done = support.race(6, lambda _: settle_reinsurance(
        c.uow(), "QS-T", on=date(2025, 2, 5), reference="BK-1", treaties=BOOK))

    assert len({d.entry.id for d in done}) == 1 and sum(not d.repeat for d in done) <= 1
    with c.uow() as u:
        assert len([e for e in u.ledger.entries()
                    if e.source_command == "SettleReinsurance"]) == 1
        qs_lines = [line for ref in (QS.reference(), f"treaty-settlement:{QS.code}")
                    for e in u.ledger.entries(reference=ref) for line in e.lines]
    assert sum(x.amount_fen for x in qs_lines if x.account == gl.REINSURANCE_PAYABLE) == 0
    assert done[0].payable_fen > 0
