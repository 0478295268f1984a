"""Premium settlement with funders (issue 23), on SQLite and PostgreSQL: a funder that
collects the premium holds it for us (1221, its party) and pays refunds out of it; its
commission accrues on 2221 under its party; each settlement cycle's statement is exactly the
ledger's lines of that funder and cycle, its net settled through the bank as the bank moved
it (a wrong amount refused with the rule), once per cycle; a posting dated into a settled
cycle comes on the next statement; the claims paid meanwhile are listed; the CSV and the PDF
say the same; the CLI and the API; racing settlements over HTTP settle once."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests import builders as b
from tests import support
from tests.pdf_text import pages_text
from xinbao.billing import services as billing
from xinbao.billing.commands import SettleFunder
from xinbao.bootstrap import Container
from xinbao.catalogue import services as catalogue
from xinbao.catalogue.commands import AmendAgreement
from xinbao.entrypoints.api.app import create_app
from xinbao.kernel.errors import Conflict, InvalidInput
from xinbao.kernel.money import apply_rate
from xinbao.ledger import model as gl
from xinbao.ledger import services as ledger
from xinbao.policy.commands import CancelPolicy
from xinbao.policy.endorsements import cancel_policy
from xinbao.reporting.funder_statement import funder_statement_csv, funder_statement_pdf
from xinbao.servicing import services as servicing
from xinbao.servicing.commands import RecordRepayment

A = gl.funder_party("BANK-A")
CYCLE_1 = (date(2024, 12, 31), date(2025, 1, 29))  # 30-day cycles from the agreement's day
CYCLE_2 = (date(2025, 1, 30), date(2025, 2, 28))
RATE = b.bank().commission_rate


@pytest.fixture
def c(decided_container: Container) -> Container:
    """BANK-A collects its borrowers' premium (its agreement's v2, from its first day), and
    BANK-B, whose premium the insurer collects, is registered beside it."""
    catalogue.amend_agreement(AmendAgreement("BANK-A", on=date(2024, 12, 31),
                                             premium_collector="funder"),
                              decided_container.uow())
    catalogue.register_funder(b.bank("BANK-B"), decided_container.uow())
    return decided_container


def _party_lines(c: Container, party: str, first: date, last: date,
                 ) -> dict[tuple[str, str], int]:
    """The funder's lines posted from ``first`` to ``last`` summed by (source, account), read
    entry by entry (not through the statement's query)."""
    sums: dict[tuple[str, str], int] = {}
    with c.uow() as u:
        for e in u.ledger.entries():
            if first <= e.posted_on <= last:
                for line in e.lines:
                    if line.party == party:
                        key = (e.source_command, line.account)
                        sums[key] = sums.get(key, 0) + line.amount_fen
    return sums


def _cycle_1(c: Container) -> tuple[Any, Any]:
    """BANK-A's car policy issued on 15 January with its single premium collected by the
    bank, and a second one cancelled in the cooling-off period on 20 January."""
    kept = b.issued_policy(c.uow, b.car_application())
    cancelled = b.issued_policy(c.uow, b.car_application(external_ref="APP-CAR-2",
                                                         borrower_id_number=b.RESIDENT_ID))
    cancel_policy(CancelPolicy(cancelled.id, date(2025, 1, 20), "withdrawn", True), c.uow())
    return kept, cancelled


def test_the_statement_is_the_ledgers_lines_of_the_funder_and_cycle(c):
    kept, cancelled = _cycle_1(c)

    s = billing.funder_statement(c.uow(), "BANK-A", on=date(2025, 2, 3))

    assert (s.number, s.cycle_from, s.cycle_to, s.premium_collector) == (
        "PS-BANK-A-20250129", *CYCLE_1, "funder")
    f = s.figures
    single = kept.single_premium_fen
    paid = single + kept.single_vat_fen  # what each borrower paid: the premium and its VAT
    assert kept.single_vat_fen == apply_rate(single, Decimal("0.06")) > 0
    assert (f.premium_held_fen, f.refunds_fen) == (2 * paid, paid)  # all of it back
    assert (f.commission_fen, f.clawback_fen) == (2 * apply_rate(single, RATE),
                                                  apply_rate(single, RATE))
    assert f.net_fen == paid - apply_rate(single, RATE)
    lines = _party_lines(c, A, *CYCLE_1)
    assert f.premium_held_fen == sum(v for (src, acct), v in lines.items()
                                     if acct == gl.DUE_FROM_FUNDERS and src != "RefundPremium")
    assert f.refunds_fen == -lines[("RefundPremium", gl.DUE_FROM_FUNDERS)]
    assert f.commission_fen == -sum(v for (src, acct), v in lines.items()
                                    if acct == gl.COMMISSION_PAYABLE and src != "RefundPremium")
    assert f.clawback_fen == lines[("RefundPremium", gl.COMMISSION_PAYABLE)]
    assert f.net_fen == sum(lines.values())
    # The insurer collects BANK-B's premium: its statement is its commission, owed to it.
    other = billing.funder_statement(c.uow(), "BANK-B", on=date(2025, 2, 3))
    assert other.figures.net_fen == 0 and other.figures.empty


def test_settling_posts_the_net_through_the_bank_as_the_bank_moved_it_once(c):
    _cycle_1(c)
    draft = billing.funder_statement(c.uow(), "BANK-A", on=date(2025, 1, 30))
    net = draft.figures.net_fen
    bank_before = ledger.trial_balance(c.uow()).balance(gl.BANK)

    with pytest.raises(InvalidInput) as wrong:
        billing.settle_funder(SettleFunder("BANK-A", date(2025, 1, 30), "BK-1", net - 1),
                              c.uow())
    assert {e.rule for e in wrong.value.errors} == {"settlement.bank_amount"}
    done = billing.settle_funder(SettleFunder("BANK-A", date(2025, 1, 30), "BK-1", net),
                                 c.uow())

    assert not done.repeat and done.entry is not None
    assert done.statement.settled_on == date(2025, 1, 30)
    assert done.statement.figures == draft.figures
    tb = ledger.trial_balance(c.uow())
    assert tb.total == 0 and tb.balance(gl.BANK) - bank_before == net
    lines = _party_lines(c, A, CYCLE_1[0], date(2025, 1, 30))
    assert sum(v for (_, acct), v in lines.items() if acct == gl.DUE_FROM_FUNDERS) == 0
    assert sum(v for (_, acct), v in lines.items() if acct == gl.COMMISSION_PAYABLE) == 0
    again = billing.settle_funder(SettleFunder("BANK-A", date(2025, 2, 2), "BK-1", net),
                                  c.uow())
    assert again.repeat and again.entry is None and again.statement.number == draft.number
    with pytest.raises(Conflict, match="BK-1"):
        billing.settle_funder(SettleFunder("BANK-A", date(2025, 2, 2), "BK-2", net), c.uow())
    with c.uow() as u:
        assert len([e for e in u.ledger.entries() if e.source_command == "SettleFunder"]) == 1
    shown = billing.funder_statement(c.uow(), "BANK-A", on=date(2025, 2, 10))
    assert shown.bank_reference == "BK-1" and shown.settled


def test_a_posting_dated_into_a_settled_cycle_comes_on_the_next_statement(c):
    _cycle_1(c)
    consumer = b.issued_policy(c.uow, b.consumer_application(
        external_ref="APP-C-1", borrower_id_number=b.RESIDENT_ID_2))
    first = billing.funder_statement(c.uow(), "BANK-A", on=date(2025, 1, 30))
    billing.settle_funder(SettleFunder("BANK-A", date(2025, 1, 30), "BK-1",
                                       first.figures.net_fen), c.uow())
    with c.uow() as u:
        loan = u.loans.get(consumer.loan_id)
    i = loan.installments[0]
    # Paid and reported early, on 25 January: a posting dated into the settled cycle.
    premium = consumer.installment_premium_fen
    servicing.record_repayment(RecordRepayment(loan.id, 1, date(2025, 1, 25), i.principal_fen,
                                               i.interest_fen, "TX-LATE", premium), c.uow())

    second = billing.funder_statement(c.uow(), "BANK-A", on=date(2025, 3, 1))

    assert (second.cycle_from, second.cycle_to) == CYCLE_2
    assert second.figures.premium_held_fen == premium
    assert second.figures.commission_fen == apply_rate(premium, RATE)
    everything = _party_lines(c, A, CYCLE_1[0], CYCLE_2[1])
    settled = sum(v for (src, _), v in everything.items() if src == "SettleFunder")
    assert second.figures.net_fen == sum(everything.values()) - settled - first.figures.net_fen


def test_a_funder_with_nothing_to_settle_and_a_bad_reference_are_refused(c):
    with pytest.raises(Conflict, match="nothing to settle"):
        billing.settle_funder(SettleFunder("BANK-B", date(2025, 1, 30), "BK-9", 0), c.uow())
    with pytest.raises(InvalidInput) as bad:
        billing.settle_funder(SettleFunder("BANK-A", date(2025, 1, 30), " ", 0), c.uow())
    assert {e.rule for e in bad.value.errors} == {"settlement.bank_reference"}
    with pytest.raises(InvalidInput, match="first settlement cycle"):
        billing.funder_statement(c.uow(), "BANK-A", on=date(2025, 1, 10))


def test_the_csv_and_the_pdf_say_what_the_statement_says(c):
    _cycle_1(c)
    s = billing.funder_statement(c.uow(), "BANK-A", on=date(2025, 2, 3))
    s = replace(s, settled_on=date(2025, 2, 3), bank_reference="BK-7")

    rows = list(csv.reader(io.StringIO(funder_statement_csv(s).decode("utf-8-sig"))))
    assert rows[0][0] == "结算单号 / Statement no."
    amounts = {row[4].split(" / ")[0]: row[5] for row in rows[1:]}
    assert amounts["代收保费（含增值税）"] == f"{s.figures.premium_held_fen // 100}.00"
    assert amounts["代付退费（含增值税）"] == f"-{s.figures.refunds_fen // 100}.00"
    net = s.figures.net_fen
    assert amounts["净额（正数：合作机构应付保险人）"] == f"{net // 100}.{net % 100:02d}"
    pdf = funder_statement_pdf(s)
    assert pdf == funder_statement_pdf(s)  # the same bytes every time
    text = " ".join(" ".join(page) for page in pages_text(pdf))
    assert "保费结算单" in text and "PS-BANK-A-20250129" in text and "BK-7" in text
    assert "合作机构应付保险人" in text


def test_the_cli_shows_writes_and_settles_a_statement(c, tmp_path):
    from typer.testing import CliRunner

    from xinbao.entrypoints.cli.main import app

    _cycle_1(c)
    url = ["--database-url", c.settings.database_url]
    run = CliRunner().invoke
    shown = run(app, ["funders", "statement", "BANK-A", "--on", "2025-01-30", "--csv",
                      str(tmp_path / "s.csv"), "--pdf", str(tmp_path / "s.pdf"), "--json",
                      *url])
    assert shown.exit_code == 0, shown.output
    doc = json.loads(shown.stdout)
    assert doc["number"] == "PS-BANK-A-20250129" and doc["settled_on"] is None
    assert (tmp_path / "s.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert (tmp_path / "s.pdf").read_bytes().startswith(b"%PDF")
    yuan = f"{doc['net_fen'] // 100}.{doc['net_fen'] % 100:02d}"
    wrong = run(app, ["funders", "settle", "BANK-A", "--on", "2025-01-30", "--bank-reference",
                      "BK-CLI", "--amount", "1.00", *url])
    done = run(app, ["funders", "settle", "BANK-A", "--on", "2025-01-30", "--bank-reference",
                     "BK-CLI", "--amount", yuan, "--json", *url])
    assert wrong.exit_code == 2 and "settlement.bank_amount" in wrong.output
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["statement"]["bank_reference"] == "BK-CLI"


def test_racing_settlements_over_http_settle_once_and_bad_input_is_refused(c):
    _cycle_1(c)
    net = billing.funder_statement(c.uow(), "BANK-A", on=date(2025, 1, 30)).figures.net_fen
    token = support.api_token(c, "finance-desk", ["finance"])
    app = create_app(c)
    body = {"on": "2025-01-30", "bank_reference": "BK-RACE", "bank_amount_fen": net}

    def send(_: int) -> Any:
        with TestClient(app, raise_server_exceptions=False) as client:
            return client.post("/v1/funders/BANK-A/settle", json=body,
                               headers=support.bearer(token))

    answers = support.race(12, send)

    assert sorted(a.status_code for a in answers) == [200] * 12, [
        a.text for a in answers if a.status_code != 200]
    assert sum(not a.json()["repeat"] for a in answers) == 1
    with c.uow() as u:
        assert len([e for e in u.ledger.entries() if e.source_command == "SettleFunder"]) == 1
    with TestClient(app, raise_server_exceptions=False) as client:
        headers = support.bearer(token)
        assert client.post("/v1/funders/BANK-A/settle", json={**body, "bank_amount_fen": "x"},
                           headers=headers).status_code == 422
        assert client.post("/v1/funders/BANK-A/settle", json={**body, "extra": 1},
                           headers=headers).status_code == 422
        statement = client.get("/v1/funders/BANK-A/statement?on=2025-01-30", headers=headers)
        assert statement.status_code == 200 and statement.json()["bank_reference"] == "BK-RACE"
        pdf = client.get("/v1/funders/BANK-A/statement.pdf?on=2025-01-30", headers=headers)
        assert pdf.headers["content-type"] == "application/pdf"
        listed = client.get("/v1/funders/BANK-A/statements", headers=headers)
        assert [s["number"] for s in listed.json()] == ["PS-BANK-A-20250129"]
        assert client.get("/v1/funders/NOPE/statement", headers=headers).status_code == 404


def test_the_claims_paid_in_the_cycle_are_listed_apart(c):
    from xinbao.claims import services as claims
    from xinbao.claims.commands import SettleClaims

    _, claim, trigger = b.claimed_after_three_installments(c.uow, b.consumer_application(
        external_ref="APP-D", borrower_id_number=b.RESIDENT_ID_2))
    pay_day = trigger + timedelta(days=31)
    batch = claims.settle_claims(SettleClaims("BANK-A", pay_day), c.uow())
    assert batch.lines and batch.lines[0].claim.id == claim.id

    s = billing.funder_statement(c.uow(), "BANK-A", on=pay_day + timedelta(days=31))

    assert [(x.number, x.total_fen) for x in s.claim_batches] == [
        (batch.settlement.number, batch.settlement.total_fen)]
    assert s.claims_paid_fen == batch.settlement.total_fen


def test_a_cycle_left_unsettled_is_taken_in_by_the_next_and_never_settled_twice(c):
    _cycle_1(c)
    second = billing.funder_statement(c.uow(), "BANK-A", on=date(2025, 3, 1))
    assert (second.cycle_from, second.cycle_to) == (CYCLE_1[0], CYCLE_2[1])
    billing.settle_funder(SettleFunder("BANK-A", date(2025, 3, 1), "BK-2",
                                       second.figures.net_fen), c.uow())

    first = billing.funder_statement(c.uow(), "BANK-A", on=date(2025, 1, 30))

    assert first.number == second.number and first.bank_reference == "BK-2"
    with pytest.raises(Conflict, match="settled this cycle"):
        billing.settle_funder(SettleFunder("BANK-A", date(2025, 1, 30), "BK-1",
                                           second.figures.net_fen), c.uow())
    again = billing.settle_funder(SettleFunder("BANK-A", date(2025, 1, 30), "BK-2",
                                               second.figures.net_fen), c.uow())
    assert again.repeat
    with c.uow() as u:
        assert len([e for e in u.ledger.entries() if e.source_command == "SettleFunder"]) == 1
