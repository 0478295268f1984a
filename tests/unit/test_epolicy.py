"""The e-policy (issue 23): it opens as an A4 PDF, its text holds the policy number, the parties
masked as the wording requires and the premium schedule in Chinese, the same policy renders
the same bytes, and it renders with no network."""

from __future__ import annotations

import io
import socket
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from pypdf import PdfReader

from tests.pdf_text import pages_text
from xinbao.kernel.money import format_yuan
from xinbao.reporting.documents import parse_wordings, shipped_wordings
from xinbao.reporting.epolicy import EPolicy, Party, ScheduleLine, epolicy_pdf

A4_PORTRAIT_PT = (595.28, 841.89)


def epolicy(**changes: object) -> EPolicy:
    wording = shipped_wordings().by_mode["guarantee"]
    schedule = tuple(ScheduleLine(n, date(2025, 1 + n, 15), 300_000 - n, 36_000 - 1_000 * n,
                                  21_600) for n in range(1, 11))
    built = EPolicy(
        policy_no="XB00000000422", insurer="信保示范财产保险股份有限公司",
        insurer_en="Xinbao Demonstration", mode="guarantee", product_code="CONSUMER-G",
        product_version=1, product_name="个人消费贷款保证保险", wording=wording,
        parties=(Party("投保人", "Policyholder", "张*", "110101********1234"),
                 Party("被保险人", "Insured", "示例银行", "91110000100003317X"),
                 Party("借款人", "Borrower", "张*", "110101********1234")),
        contract_no="LN-2025-0001", principal_fen=3_000_000, interest_covered_fen=215_000,
        coverage_share=Decimal("0.9"), start_date=date(2025, 1, 15),
        end_date=date(2025, 11, 15), issued_on=date(2025, 1, 15), term_months=10,
        claim_trigger_dpd=80, waiting_period_days=30, premium_basis="per_installment",
        monthly_premium_rate=Decimal("0.0072"), single_premium_fen=0, schedule=schedule)
    return replace(built, **changes)


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return epolicy_pdf(epolicy())


def text_of(document: bytes) -> str:
    return "\n".join(run for page in pages_text(document) for run in page)


def test_it_opens_as_an_a4_pdf_dated_the_day_the_policy_was_issued(pdf):
    reader = PdfReader(io.BytesIO(pdf))
    assert pdf.startswith(b"%PDF-")
    box = reader.pages[0].mediabox
    assert (round(float(box.width), 2), round(float(box.height), 2)) == A4_PORTRAIT_PT
    assert reader.metadata is not None and "XB00000000422" in (reader.metadata.title or "")
    assert reader.metadata["/CreationDate"].startswith("D:20250115000000+08")


def test_its_text_holds_the_number_the_masked_parties_and_the_premium_schedule(pdf):
    text = text_of(pdf)
    assert "XB00000000422" in text
    assert "张*  110101********1234" in text and "示例银行  91110000100003317X" in text
    assert "还款及交费计划 / Repayment and premium schedule" in text
    policy = epolicy()
    for line in policy.schedule:
        assert line.due_date.isoformat() in text
    assert format_yuan(216_000) in text  # ten premiums of 216 yuan
    assert f"{format_yuan(3_215_000)} 元（本金与承保利息之和）" in text  # the sum insured
    assert "90%" in text and "逾期达 80 天" in text
    for exclusion in policy.wording.exclusions:
        assert exclusion in text
    assert f"{policy.wording.title} ({policy.wording.code} v1)" in text


def test_a_single_premium_is_shown_paid_at_issue():
    single = epolicy(premium_basis="single", single_premium_fen=216_000, schedule=tuple(
        replace(line, premium_fen=0) for line in epolicy().schedule))
    text = text_of(epolicy_pdf(single))
    assert "趸交，签单时一次交清 / single, paid at issue" in text
    assert f"{format_yuan(216_000)} 元，于 2025-01-15 交清" in text


def test_the_same_policy_renders_the_same_bytes_and_another_other_bytes(pdf):
    assert epolicy_pdf(epolicy()) == pdf
    assert epolicy_pdf(epolicy(contract_no="LN-2025-0002")) != pdf


def test_it_renders_with_no_network(monkeypatch):
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the e-policy reached for the network")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    assert epolicy_pdf(epolicy(policy_no="XB00000000018")).startswith(b"%PDF-")


def test_a_long_schedule_runs_onto_more_pages_with_its_heading_again():
    long = epolicy(schedule=tuple(ScheduleLine(n, date(2025, 1, 15), 10_000, 1_000, 500)
                                  for n in range(1, 361)), term_months=360)
    pages = pages_text(epolicy_pdf(long))
    assert len(pages) >= 4
    assert all(any("期次 No." in run for run in page) for page in pages[1:-1])


def test_the_shipped_wordings_name_each_mode_and_a_wording_without_exclusions_is_refused():
    wordings = shipped_wordings()
    assert set(wordings.by_mode) == {"guarantee", "credit"}
    assert all(w.exclusions and w.version >= 1 for w in wordings.by_mode.values())
    data = {"version": "x", "insurer": {"name": "a", "name_en": "b"}, "wordings": {
        mode: {"code": "C", "version": 1, "title": "t", "title_en": "t", "coverage": "c",
               "exclusions": []} for mode in ("guarantee", "credit")}}
    with pytest.raises(ValueError, match="exclusions"):
        parse_wordings(data)
