"""The console's sign-in page and dashboard pass axe-core's WCAG 2 A/AA rules with no serious
or critical violation, in Chinese and in English (issue 20; the check is
``tests/browser/accessibility.py``, for any page)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from tests import builders as b
from tests import support
from tests.browser.accessibility import serious_violations
from tests.browser.conftest import add_user, serving, shot, sign_in
from xinbao.bootstrap import bootstrap
from xinbao.servicing import services as servicing
from xinbao.servicing.commands import RunEndOfDay
from xinbao.underwriting import services as applications

LANGUAGES = ["zh-CN", "en"]


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server over a small book with a referral waiting, so that the dashboard shows its
    figures, charts, alerts and limits."""
    url = f"sqlite:///{tmp_path_factory.mktemp('a11y') / 'xinbao.db'}"
    container = bootstrap(support.settings(url))
    container.upgrade_database()
    container.risk = b.engine()
    b.seed(container.uow)
    b.issued_policy(container.uow)
    for month_end in (date(2025, 1, 31), date(2025, 2, 28)):  # premium earned, a vintage ages
        servicing.run_end_of_day(RunEndOfDay(month_end), container.uow())
    referred = applications.submit_application(b.consumer_application(external_ref="REF-1"),
                                               container.uow())
    b.approve(container.uow, referred.id, risk=b.engine(scorer=b.FixedScorer("0.15")))
    add_user(container, "chen.risk", ["risk_manager", "auditor"], display_name="陈静")
    with serving(container) as base_url:
        yield base_url
    container.close()


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_sign_in_page_has_no_serious_accessibility_violation(console, browser, language):
    page = browser(console, language)
    if language == "en":
        page.goto("/console/language/en?next=/console/login")
    else:
        page.goto("/console/login")

    assert page.locator("html").get_attribute("lang") == language
    assert serious_violations(page) == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_dashboard_has_no_serious_accessibility_violation(console, browser, language):
    page = browser(console, language)
    sign_in(page, "chen.risk", language=language)
    charts = page.locator("svg.chart")
    assert charts.count() == 4
    for i in range(4):
        chart = charts.nth(i)
        title = chart.locator("title").first.text_content()
        # Drawn at a readable size, and announced as an image named by its title.
        assert chart.is_visible() and chart.bounding_box()["width"] >= 600
        assert title and page.get_by_role("img", name=title, exact=True).count() == 1
    assert page.locator(".alert a").count() >= 1
    shot(page, f"dashboard-a11y.{language.replace('-', '_')}")

    assert serious_violations(page) == []


def test_the_check_finds_a_field_without_a_label_and_low_contrast(console, browser):
    """The helper is not silent: on a page spoiled on purpose it reports both faults."""
    page = browser(console, "en")
    page.goto("/console/language/en?next=/console/login")
    page.evaluate("""() => {
      const input = document.createElement('input');
      input.type = 'text';
      document.querySelector('main').append(input);
      const faint = document.createElement('p');
      faint.textContent = 'Barely visible';
      faint.style.color = '#eeeeee';  // CSSOM: allowed by the page's CSP
      document.querySelector('main').append(faint);
    }""")

    found = {v["id"]: v for v in serious_violations(page)}

    assert {"label", "color-contrast"} <= found.keys()
    assert found["label"]["targets"] == ['input[type="text"]']
    assert found["color-contrast"]["help"]
