"""The console's batch pages in a real browser (issue 21): a risk manager reads a day's
snapshot, sets an override of a loan's class and is refused lifting one that has none; a
finance clerk uploads a funder's file with its manifest, sees it applied and listed, then a
bad file refused with its rejects; the pages pass the accessibility check (what the browser
tests share is in ``conftest.py``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from tests import builders as b
from tests import support
from tests.browser.accessibility import serious_violations
from tests.browser.conftest import add_user, serving, shot, sign_in
from xinbao.batch import services as batch
from xinbao.bootstrap import bootstrap
from xinbao.loans.model import Loan

DAY = date(2025, 3, 30)
REASON = "borrower's business closed; collateral sold"


@dataclass(frozen=True, slots=True)
class Served:
    base_url: str
    loans: tuple[Loan, Loan]
    folder: Path


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A server over BANK-A's two insured loans, unpaid, with the snapshot of DAY; a risk
    manager and a finance clerk who may sign in."""
    folder = tmp_path_factory.mktemp("batch")
    container = bootstrap(support.settings(f"sqlite:///{folder / 'xinbao.db'}",
                                           snapshot_dir=str(folder / "snapshots")))
    container.upgrade_database()
    container.risk = b.engine()
    b.seed(container.uow)
    policies = (b.issued_policy(container.uow, b.consumer_application(external_ref="APP-1")),
                b.issued_policy(container.uow, b.consumer_application(
                    external_ref="APP-2", borrower_id_number=b.RESIDENT_ID)))
    with container.uow() as u:
        loans = (u.loans.get(policies[0].loan_id), u.loans.get(policies[1].loan_id))
    batch.snapshot_day(container.uow(), container.snapshots, DAY, container.classification,
                       container.early_warning)
    add_user(container, "wang.risk", ["risk_manager"], display_name="王风控")
    add_user(container, "zhao.fin", ["finance"], display_name="赵财务")
    with serving(container) as base_url:
        yield Served(base_url, loans, folder)
    container.close()


def test_a_risk_manager_reads_the_day_and_overrides_a_loans_class(console, browser):
    page = browser(console.base_url, "en")
    sign_in(page, "wang.risk", language="en")
    page.get_by_role("link", name="End of day").click()
    page.wait_for_url("**/console/eod")
    page.get_by_role("link", name=DAY.isoformat()).click()
    page.wait_for_url(f"**/console/eod/{DAY}")
    assert page.locator("#total-loans").inner_text() == "2"
    assert page.locator("#signals tbody tr").count() == 2
    page.get_by_label("Level").select_option("medium")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**level=medium**")
    assert page.get_by_text("No signals match these filters.").is_visible()
    assert serious_violations(page) == []
    shot(page, "batch-day.en")

    page.get_by_role("link", name="All days").click()
    page.get_by_role("link", name="Classification overrides").click()
    page.wait_for_url("**/console/eod/overrides")
    form = page.locator("form.set-override")
    loan = console.loans[0]
    form.get_by_label("Loan id").fill(str(loan.id))
    form.get_by_label("Class").select_option(label="4 · Doubtful")
    form.get_by_label("Effective from").fill("2025-03-01")
    form.get_by_label("Reason (10 to 400 characters)").fill(REASON)
    form.get_by_role("button", name="Set the override").click()
    page.wait_for_url("**done=set")
    assert "The override is recorded" in page.get_by_role("status").inner_text()
    row = page.locator("#overrides tbody tr").first.inner_text()
    assert "4 · Doubtful" in row and REASON in row and "wang.risk" in row
    assert serious_violations(page) == []
    shot(page, "batch-override-set.en")

    lift = page.locator("form.lift-override")
    lift.get_by_label("Loan id").fill(str(console.loans[1].id))
    lift.get_by_label("Reason (10 to 400 characters)").fill("nothing to lift here at all")
    lift.get_by_role("button", name="Lift the override").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "Please correct the form"
    assert page.get_by_text("override.none").is_visible()
    shot(page, "batch-override-refused.en")


def _files(folder: Path, name: str, loan: Loan, rows: list[tuple[int, str]],
           declared: int) -> tuple[Path, Path]:
    lines = ["contract_no,installment_number,paid_on,principal,interest,reference"]
    for number, reference in rows:
        i = loan.installments[number - 1]
        lines.append(f"{loan.contract_no},{number},{i.due_date},{i.principal_fen / 100:.2f},"
                     f"{i.interest_fen / 100:.2f},{reference}")
    data, manifest = folder / name, folder / f"{name}.manifest.json"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    manifest.write_text(json.dumps({"type": "repayments", "funder": "BANK-A",
                                    "business_date": "2025-04-30", "rows": declared}),
                        encoding="utf-8")
    return data, manifest


def test_a_finance_clerk_uploads_a_funders_file_and_sees_its_report(console, browser):
    page = browser(console.base_url)  # zh-CN
    sign_in(page, "zhao.fin")
    page.get_by_role("link", name="资金方文件").click()
    page.wait_for_url("**/console/feeds")
    assert page.get_by_text("没有符合筛选条件的文件。").is_visible()
    good = _files(console.folder, "0430.csv", console.loans[0], [(1, "TX-1"), (2, "TX-2")], 2)
    form = page.locator("form.upload-feed")
    form.get_by_label("资金方").select_option("BANK-A")
    form.get_by_label("类型").select_option("repayments")
    form.get_by_label("文件（CSV 或 Parquet）").set_input_files(str(good[0]))
    form.get_by_label("清单（JSON）").set_input_files(str(good[1]))
    form.get_by_role("button", name="上传并入账").click()
    page.wait_for_load_state()
    assert page.locator("#report-status").inner_text() == "已入账"
    assert page.locator("#report-accepted").inner_text() == "2"
    assert serious_violations(page) == []
    shot(page, "batch-upload-applied.zh_CN")

    page.get_by_role("link", name="全部资金方文件").click()
    page.wait_for_url("**/console/feeds")
    page.get_by_role("link", name="0430.csv").click()
    page.wait_for_url("**/console/feeds/*")
    assert page.locator("#report-status").inner_text() == "已入账"
    assert serious_violations(page) == []
    shot(page, "batch-file.zh_CN")

    page.get_by_role("link", name="全部资金方文件").click()
    bad = _files(console.folder, "0501.csv", console.loans[1], [(1, "TX-3"), (2, "")], 2)
    form = page.locator("form.upload-feed")
    form.get_by_label("文件（CSV 或 Parquet）").set_input_files(str(bad[0]))
    form.get_by_label("清单（JSON）").set_input_files(str(bad[1]))
    form.get_by_role("button", name="上传并入账").click()
    page.wait_for_load_state()
    assert page.locator("#report-status").inner_text() == "已拒绝"
    assert page.get_by_role("alert").is_visible()
    assert page.locator("#rejects tbody tr").count() == 1
    assert "feed.required" in page.locator("#rejects tbody tr").inner_text()
    assert serious_violations(page) == []
    shot(page, "batch-upload-refused.zh_CN")
