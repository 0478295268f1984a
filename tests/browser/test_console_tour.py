"""Every console page over a simulated market (the demo's kind of data, smaller), in zh-CN
and in English: a screenshot of each, no message left untranslated, the language switch
changing every string, and the accessibility check (issue 20).

The pages are found as a person finds them: the menu, then the first row of each list.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from babel.messages.pofile import read_po

from tests import support
from tests.browser.accessibility import serious_violations
from tests.browser.conftest import add_user, serving, shot, sign_in
from xinbao.batch import overrides
from xinbao.batch import services as batch
from xinbao.batch.commands import SetOverride
from xinbao.batch.repository import FeedFile
from xinbao.bootstrap import bootstrap, risk_engine
from xinbao.config import Settings
from xinbao.entrypoints.console import i18n
from xinbao.iam.model.security import Principal, Role, system
from xinbao.kernel.paging import PageRequest
from xinbao.parameters import load_parameters, load_product_catalogue
from xinbao.policy.model import PolicyStatus
from xinbao.policy.repository import PolicyFilter
from xinbao.servicing.feeds import FeedReport
from xinbao.simulation.bureau import SimulatedBureau
from xinbao.simulation.runner import run_market
from xinbao.simulation.scenario import resolve_scenario

#: 400 applications over a year, defaults raised so that claims and recoveries happen.
MARKET = replace(resolve_scenario("base"), applications=400, months=12, default_multiplier=6.0)
#: Pages below the menu's, reached by link from their area.
SUB_PAGES = ("/console/finance/entries", "/console/admin/clients", "/console/eod/overrides",
             "/console/claims/queue", "/console/claims/settlements",
             "/console/claims/recovery-rights", "/console/finance/reinsurance",
             "/console/finance/funders")
#: The tour's override of a loan's class, and the funder file applied (the simulator's
#: funders send none through the files' path).
OVERRIDE_REASON = "borrower's business closed; collateral sold"


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("tour")
    url = f"sqlite:///{folder / 'xinbao.db'}"
    container = bootstrap(support.settings(url, snapshot_dir=str(folder / "snapshots")))
    container.upgrade_database()
    bureau = SimulatedBureau()
    engine = risk_engine(Settings(models_dir="/nonexistent/models"), load_parameters(),
                         bureau_service=bureau)
    run_market(MARKET, lambda: container.uow(system("simulator")), load_product_catalogue(),
               engine=engine, bureau=bureau, snapshot=lambda day: batch.snapshot_day(
                   container.uow(system("simulator")), container.snapshots, day,
                   container.classification, container.early_warning))
    add_user(container, "chen.all", ["admin", "auditor", "finance", "risk_manager",
                                     "underwriting_approver", "claims_approver"],
             display_name="陈静")
    _override_and_file(container)
    add_user(container, "li.audit", ["auditor"], display_name="李审")
    with serving(container) as base_url:
        yield base_url
    container.close()


def _override_and_file(container) -> None:
    """An override of an in-force loan's class by chen.all, and a funder file applied to the
    book (a loan status file of that loan, as the funder reports it)."""
    with container.uow() as u:
        (policy,) = u.policies.search(PolicyFilter(status=PolicyStatus.IN_FORCE),
                                      PageRequest(size=1)).items
        funder = u.funders.get(policy.funder_id)
        loan = u.loans.get(policy.loan_id)
    me = Principal("user", "chen.all", frozenset({Role.RISK_MANAGER}))
    overrides.set_override(SetOverride(loan.id, 3, OVERRIDE_REASON, loan.start_date),
                           container.uow(me), now=datetime.now(UTC))
    report = FeedReport("applied", "status-0430.csv", 1, accepted=1,
                        principal_fen=loan.principal_fen)
    with container.uow() as u:
        u.feed_files.add(FeedFile(funder.id, "loan_status", "0" * 64, "status-0430.csv",
                                  loan.start_date, datetime(2026, 1, 5, 9, 30), 1,
                                  report.summary()))
        u.commit()


def _pages(page) -> list[tuple[str, str]]:
    """(name, path) of every page: each menu item, the first row's page of each list, and
    the sub-pages."""
    menu = [(a.inner_text().strip(), a.get_attribute("href"))
            for a in page.locator("nav.main-nav a").all()]
    found = []
    for _, path in menu:
        found.append(path)
        page.goto(path)
        row = page.locator("main table.list tbody tr a").first
        if row.count():
            found.append(row.get_attribute("href"))
    for path in SUB_PAGES:
        page.goto(path)
        found.append(path)
        row = page.locator("main table.list tbody tr a").first
        if row.count():
            found.append(row.get_attribute("href"))
    unique = list(dict.fromkeys(found))
    return [(_name(path), path) for path in unique]


def _name(path: str) -> str:
    parts = [p for p in path.split("?")[0].split("/") if p and p != "console"]
    return "-".join(parts) or "dashboard"


def _text(page) -> str:
    """The page's visible text but for data marked as English (``lang="en"``: journal
    entries' descriptions, rule messages), which no language switch translates."""
    return str(page.evaluate("""() => {
        const body = document.body.cloneNode(true);
        body.querySelectorAll('[lang="en"]').forEach(e => e.remove());
        document.documentElement.appendChild(body);
        const text = body.innerText;
        body.remove();
        return text;
    }"""))


def _catalog() -> dict[str, str]:
    with i18n.catalog_path("zh_CN").open("rb") as f:
        return {m.id: m.string for m in read_po(f) if m.id and m.string != m.id}


def test_every_page_in_both_languages_is_translated_and_accessible(market, browser):
    page = browser(market)
    sign_in(page, "chen.all")
    pages = _pages(page)
    assert len(pages) >= 14, pages
    zh = _catalog()
    problems: dict[str, object] = {}
    for name, path in pages:
        response = page.goto(path)
        assert response is not None and response.status == 200, (path, response)
        chinese = _text(page)
        shot(page, f"tour-{name}.zh_CN")
        english_left = [m for m in zh if len(m) > 3 and " " in m and m in chinese]
        shown = [m for m, t in zh.items() if len(t) > 2 and t in chinese]
        if english_left:
            problems[f"{path} (zh) untranslated"] = english_left
        if violations := serious_violations(page):
            problems[f"{path} (zh) accessibility"] = violations
        page.get_by_role("link", name="English").click()
        page.wait_for_load_state()
        english = _text(page)
        shot(page, f"tour-{name}.en")
        if still := [zh[m] for m in shown if zh[m] in english]:
            problems[f"{path} (en) still Chinese"] = still
        if violations := serious_violations(page):
            problems[f"{path} (en) accessibility"] = violations
        page.get_by_role("link", name="中文").click()
        page.wait_for_load_state()
    assert problems == {}


#: Forms that post but change nothing: signing out, and the searches by ID number (a POST so
#: that the number is never in an address).
READ_ONLY_POSTS = {"/console/logout", "/console/applications/borrower",
                   "/console/policies/borrower"}


def test_an_auditor_reads_every_page_and_finds_no_control_that_changes_anything(market,
                                                                                browser):
    page = browser(market, "en")
    sign_in(page, "li.audit", language="en")
    pages = _pages(page)
    assert {"/console/applications", "/console/policies", "/console/claims",
            "/console/eod", "/console/eod/overrides", "/console/feeds",
            "/console/finance", "/console/audit"} <= {path for _, path in pages}
    writes, refused = {}, set()
    for path in [p for _, p in pages] + ["/console/referrals"]:  # the queue: read, not review
        response = page.goto(path)
        assert response is not None and response.status in (200, 403), path
        if response.status == 403:  # a sub-page of administration, outside its menu
            refused.add(path)
            continue
        actions = set(page.locator("form[method=post]").evaluate_all(
            "forms => forms.map(f => f.getAttribute('action'))"))
        if actions - READ_ONLY_POSTS:
            writes[path] = sorted(actions - READ_ONLY_POSTS)
    assert writes == {}
    assert refused == {"/console/admin/clients"}
    answer = page.goto("/console/admin")
    assert answer is not None and answer.status == 403
    shot(page, "tour-auditor-refused.en")
