"""The console's applications, decisions and referral queue over HTTP, once per backend
(issue 20): filters, sorting and paging on the server, the search by ID number in a POST
body, the audited unmasking, a funder's user kept to its own business, and the review of a
referral with its authority, four eyes, CSRF and a repeated form (the same journey in a
real browser: ``tests/browser/test_console_applications.py``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from tests import builders as b
from tests import support
from xinbao.bootstrap import Container
from xinbao.entrypoints.api.app import create_app
from xinbao.risk import approval
from xinbao.risk.commands import ApproveApplication
from xinbao.simulation.identities import IdentityFactory
from xinbao.underwriting import services as applications
from xinbao.underwriting import tables
from xinbao.underwriting.model import ApplicationStatus

PASSWORD = support.CONSOLE_PASSWORD
sign_in, csrf_of = support.console_sign_in, support.csrf_of
REFERS = b.FixedScorer("0.15")  # in the referral band of every family


@pytest.fixture
def console(decided_container: Container) -> Iterator[tuple[Container, TestClient]]:
    with TestClient(create_app(decided_container), base_url="https://testserver") as client:
        client.cookies.set("xinbao_lang", "en")
        yield decided_container, client






def decided(c: Container, cmd, *, scorer=None) -> int:
    """Submit and decide an application; its id."""
    a = applications.submit_application(cmd, c.uow())
    approval.approve_application(ApproveApplication(a.id, b.START), c.uow(),
                                 b.engine(scorer=scorer))
    return a.id


def referred_sme(c: Container, ref: str = "APP-SME-1") -> int:
    """A referral proposing 300,000 yuan of cover: above an underwriter's authority."""
    return decided(c, b.sme_application(external_ref=ref), scorer=REFERS)


def application_ids(html: str) -> list[int]:
    """The ids of the rows of the page's main list, in order."""
    table = html.split('<table class="list">')[-1]
    return [int(i) for i in re.findall(r'<td><a href="/console/applications/(\d+)">', table)]


def test_the_list_filters_by_status_product_funder_date_and_amount(console):
    c, client = console
    consumer = applications.submit_application(b.consumer_application(), c.uow()).id
    sme = referred_sme(c)
    car = applications.submit_application(b.car_application(applied_on=date(2025, 1, 20)),
                                          c.uow()).id
    sign_in(c, client, "li.uw", ["underwriter"])

    everything = client.get("/console/applications")
    referred = client.get("/console/applications?status=referred")
    bigger = client.get("/console/applications?min=100000&max=300000.00")
    later = client.get("/console/applications?from=2025-01-16&to=2025-01-31")
    smes = client.get("/console/applications?product=SME-C&funder=BANK-A")

    assert everything.status_code == 200
    assert "<h1>Applications</h1>" in everything.text
    assert sorted(application_ids(everything.text)) == sorted([consumer, sme, car])
    assert application_ids(referred.text) == [sme]
    assert sorted(application_ids(bigger.text)) == sorted([sme, car])
    assert application_ids(later.text) == [car]
    assert application_ids(smes.text) == [sme]
    # The sort links keep the filters; the filters are shown as chosen.
    assert "status=referred" in referred.text.split('aria-sort')[1]
    assert '<option value="referred" selected>' in referred.text


def test_a_filter_that_cannot_be_read_is_a_page_naming_it(console):
    c, client = console
    sign_in(c, client, "li.uw", ["underwriter"])

    page = client.get("/console/applications?min=12.345&from=yesterday")

    assert page.status_code == 422
    assert "filter.amount" in page.text and "filter.date" in page.text


def test_the_list_sorts_and_pages_on_the_server(console):
    c, client = console
    ids = [applications.submit_application(b.consumer_application(
        external_ref=f"APP-{n}", amount_fen=1_000_000 + n * 100), c.uow()).id
        for n in range(52)]
    sign_in(c, client, "li.uw", ["underwriter"])

    first = client.get("/console/applications")
    second = client.get("/console/applications?page=2")
    cheapest = client.get("/console/applications?sort=amount&dir=asc")

    assert application_ids(first.text) == sorted(ids, reverse=True)[:50]
    assert application_ids(second.text) == sorted(ids, reverse=True)[50:]
    assert "52 in all · page 1 of 2" in first.text and 'rel="next"' in first.text
    assert application_ids(cheapest.text)[:3] == ids[:3]
    assert 'aria-sort="ascending"' in cheapest.text


def test_the_search_by_id_number_is_a_post_and_shows_the_matches_masked(console):
    c, client = console
    mine = applications.submit_application(b.consumer_application(), c.uow()).id
    applications.submit_application(b.consumer_application(
        external_ref="APP-OTHER", borrower_id_number=b.RESIDENT_ID), c.uow())
    sign_in(c, client, "li.uw", ["underwriter"])
    page = client.get("/console/applications")

    found = client.post("/console/applications/borrower", data={
        "id_number": b.RESIDENT_ID_2, "csrf_token": csrf_of(page.text)})

    assert found.status_code == 200
    matches = found.text.split('id="matches-title"')[1].split("</section>")[0]
    assert re.findall(r'/console/applications/(\d+)"', matches) == [str(mine)]
    assert b.RESIDENT_ID_2 not in found.text and "110105********1238" in found.text
    assert b.RESIDENT_ID_2 not in str(found.url)
    again = client.get("/console/applications/borrower", follow_redirects=False)
    assert (again.status_code, again.headers["location"]) == (303, "/console/applications")
    with c.uow() as u:
        assert [e.data for e in u.events.list(aggregate="application")
                if e.name == "BorrowerSearched"] == [{"results": 1}]


def test_the_application_shows_its_decision_explained_with_personal_data_masked(console):
    c, client = console
    app_id = referred_sme(c)
    consumer = decided(c, b.consumer_application(external_ref="APP-C", amount_fen=25_000_000),
                       scorer=REFERS)
    sign_in(c, client, "li.audit", ["auditor"])

    page = client.get(f"/console/applications/{app_id}")
    capped = client.get(f"/console/applications/{consumer}")

    assert page.status_code == 200
    text = page.text
    assert f"Application {app_id}" in text and "Referred" in text
    assert "SCR-PD-REFER" in text and "PRC-PRODUCT-CAP" in text  # findings with codes
    assert "15.00%" in text  # the score's PD
    assert "Technical rate" in text and "Expected loss" in text  # the price breakdown
    assert "Credit bureau" in text and "Identity ring" in text
    assert "300,000.00" in text
    assert "LIM-INCOME-DSR" in capped.text and "binding" in capped.text  # the limit
    assert b.PHONE not in text and "138****5678" in text
    assert "示例科技有限公司" in text  # an enterprise's name is not personal data
    assert "Show in full" not in text  # an auditor may not unmask
    assert f'action="/console/applications/{app_id}/review"' not in text


def test_unmasking_needs_the_permission_and_a_reason_and_is_audited(console):
    c, client = console
    app_id = applications.submit_application(b.consumer_application(), c.uow()).id
    sign_in(c, client, "chen.approver", ["underwriting_approver"])
    page = client.get(f"/console/applications/{app_id}")
    assert "Show in full" in page.text and b.RESIDENT_ID_2 not in page.text

    refused = client.post(f"/console/applications/{app_id}/unmask",
                          data={"reason": "no", "csrf_token": csrf_of(page.text)})
    shown = client.post(f"/console/applications/{app_id}/unmask", data={
        "reason": "borrower called about a complaint", "csrf_token": csrf_of(page.text)})
    again = client.get(f"/console/applications/{app_id}")

    assert refused.status_code == 422 and "SEC-UNMASK-REASON" in refused.text
    assert shown.status_code == 200
    assert b.RESIDENT_ID_2 in shown.text and "张三" in shown.text and b.PHONE in shown.text
    assert b.RESIDENT_ID_2 not in again.text  # shown in that answer only
    with c.uow() as u:
        records = [r for r in u.events.records() if r.name == "PiiUnmasked"]
    assert [(r.actor, r.aggregate_id, r.data["reason"]) for r in records] == [
        ("user:chen.approver", app_id, "borrower called about a complaint")]


def test_a_forged_unmask_by_a_reader_is_refused(console):
    c, client = console
    app_id = applications.submit_application(b.consumer_application(), c.uow()).id
    sign_in(c, client, "li.audit", ["auditor"])
    page = client.get(f"/console/applications/{app_id}")

    forged = client.post(f"/console/applications/{app_id}/unmask", data={
        "reason": "just curious about it", "csrf_token": csrf_of(page.text)})

    assert forged.status_code == 403 and b.RESIDENT_ID_2 not in forged.text


def test_a_funders_user_sees_only_its_own_applications(console):
    c, client = console
    from xinbao.catalogue import services as catalogue

    catalogue.register_funder(b.bank("BANK-B"), c.uow())
    own = applications.submit_application(b.consumer_application(), c.uow()).id
    other = applications.submit_application(b.consumer_application(
        funder_code="BANK-B", external_ref="B-1"), c.uow()).id
    sign_in(c, client, "bank.a", ["funder"], funder_code="BANK-A")

    listed = client.get("/console/applications")
    foreign = client.get(f"/console/applications/{other}")
    by_filter = client.get("/console/applications?funder=BANK-B")

    assert application_ids(listed.text) == [own]
    assert '<option value="BANK-B"' not in listed.text
    assert foreign.status_code == 404
    assert by_filter.status_code == 422 and application_ids(by_filter.text) == []
    assert client.get(f"/console/applications/{own}").status_code == 200


def test_the_identity_ring_links_applications_sharing_a_phone_and_card_within_the_tenant(console):
    c, client = console
    from xinbao.catalogue import services as catalogue

    catalogue.register_funder(b.bank("BANK-B"), c.uow())
    own = applications.submit_application(b.consumer_application(), c.uow()).id
    other = applications.submit_application(b.consumer_application(  # same phone, card
        funder_code="BANK-B", external_ref="B-1", borrower_id_number=b.RESIDENT_ID), c.uow()).id
    sign_in(c, client, "li.uw", ["underwriter"])
    staff = client.get(f"/console/applications/{own}")
    sign_in(c, client, "bank.a", ["funder"], funder_code="BANK-A")
    funder = client.get(f"/console/applications/{own}")

    ring = staff.text.split('id="ring-title"')[1].split("</section>")[0]
    assert "2 applications linked by bank_card, phone" in ring
    assert f'href="/console/applications/{other}"' in ring
    assert "No other application shares" in funder.text
    assert f'href="/console/applications/{other}"' not in funder.text


def test_the_referral_queue_counts_sorts_and_offers_the_review(console):
    c, client = console
    sme = referred_sme(c)
    consumer = decided(c, b.consumer_application(external_ref="APP-C"), scorer=REFERS)
    decided(c, b.consumer_application(external_ref="APP-OK"))  # approved: not in the queue
    sign_in(c, client, "li.uw", ["underwriter"])

    queue = client.get("/console/referrals")
    by_amount = client.get("/console/referrals?sort=amount&dir=desc")

    assert queue.status_code == 200 and "<h1>Referrals</h1>" in queue.text
    assert "Referrals waiting: 2" in queue.text
    assert application_ids(queue.text) == [sme, consumer]  # oldest first
    assert application_ids(by_amount.text) == [sme, consumer]
    assert application_ids(client.get("/console/referrals?sort=amount&dir=asc").text) == [
        consumer, sme]
    assert queue.text.count('name="verdict" value="approve"') == 2


def test_a_reader_sees_no_review_form_and_a_forged_review_is_refused(console):
    c, client = console
    app_id = referred_sme(c)
    sign_in(c, client, "li.audit", ["auditor"])
    queue = client.get("/console/referrals")
    page = client.get(f"/console/applications/{app_id}")

    forged = client.post(f"/console/applications/{app_id}/review", data={
        "verdict": "approve", "note": "looks fine to me", "csrf_token": csrf_of(page.text)},
        follow_redirects=False)

    assert 'name="verdict"' not in queue.text and 'name="verdict"' not in page.text
    assert forged.status_code == 403 and "Not allowed" in forged.text
    with c.uow() as u:
        assert u.applications.get(app_id).status is ApplicationStatus.REFERRED


def test_a_review_with_a_wrong_csrf_token_is_refused(console):
    c, client = console
    app_id = referred_sme(c)
    sign_in(c, client, "chen.approver", ["underwriting_approver"])

    forged = client.post(f"/console/applications/{app_id}/review", data={
        "verdict": "approve", "note": "looks fine to me", "csrf_token": "not-the-token"},
        follow_redirects=False)

    assert forged.status_code == 403
    with c.uow() as u:
        assert u.applications.get(app_id).status is ApplicationStatus.REFERRED


def test_a_review_sent_twice_has_one_effect(console):
    c, client = console
    app_id = referred_sme(c)
    sign_in(c, client, "chen.approver", ["underwriting_approver"])
    form = {"verdict": "approve", "note": "income and collateral verified",
            "csrf_token": csrf_of(client.get(f"/console/applications/{app_id}").text)}

    first = client.post(f"/console/applications/{app_id}/review", data=form,
                        follow_redirects=False)
    second = client.post(f"/console/applications/{app_id}/review", data=form,
                         follow_redirects=False)

    assert first.status_code == 303
    assert first.headers["location"] == f"/console/applications/{app_id}?done=approved"
    assert second.status_code == 409
    shown = client.get(first.headers["location"])
    assert "The referral is approved." in shown.text and "Approved" in shown.text
    with c.uow() as u:
        assert u.applications.get(app_id).status is ApplicationStatus.APPROVED
        assert len(u.decisions.get(app_id).reviews) == 1
        assert [e.name for e in u.events.list(aggregate="application", aggregate_id=app_id)
                ].count("ReferralReviewed") == 1


def test_above_authority_an_approval_waits_for_a_second_approver_not_the_same_one(console):
    c, client = console
    app_id = referred_sme(c)
    sign_in(c, client, "zhao.uw", ["underwriter"])
    token = csrf_of(client.get(f"/console/applications/{app_id}").text)
    form = {"verdict": "approve", "note": "strong business, verified", "csrf_token": token}

    recommended = client.post(f"/console/applications/{app_id}/review", data=form)
    again = client.post(f"/console/applications/{app_id}/review", data=form)

    assert "done=recommended" in str(recommended.url)
    assert "waiting for a second approver" in recommended.text
    assert "Waiting for a second approver: recommended by user:zhao.uw" in recommended.text
    assert again.status_code == 403
    assert "maker ≠ checker" in again.text
    sign_in(c, client, "chen.approver", ["underwriting_approver"])
    token = csrf_of(client.get(f"/console/applications/{app_id}").text)
    done = client.post(f"/console/applications/{app_id}/review",
                       data={**form, "csrf_token": token})
    assert "done=approved" in str(done.url) and "Review history" in done.text
    with c.uow() as u:
        assert u.applications.get(app_id).status is ApplicationStatus.APPROVED
        assert [r.verdict for r in u.decisions.get(app_id).reviews] == ["recommend",
                                                                         "approve"]


def test_a_decision_the_engine_could_not_make_shows_its_failure(console):
    c, client = console
    people = IdentityFactory(20)
    app_id = applications.submit_application(b.consumer_application(
        borrower_id_number=people.resident_id(born_between=(date(1975, 1, 1),
                                                            date(1995, 1, 1)))), c.uow()).id
    with c.engine.begin() as conn:
        conn.execute(update(tables.applications).where(tables.applications.c.id == app_id)
                     .values(monthly_income_fen=2 ** 63 - 1))
    approval.approve_application(ApproveApplication(app_id, b.START), c.uow(), b.engine())
    sign_in(c, client, "li.uw", ["underwriter"])

    page = client.get(f"/console/applications/{app_id}")

    assert page.status_code == 200
    assert "The engine could not decide this application; a person decides." in page.text
    assert "SYS-DECISION-ERROR" in page.text


def test_an_unknown_application_is_a_not_found_page(console):
    c, client = console
    sign_in(c, client, "li.uw", ["underwriter"])

    page = client.get("/console/applications/999999")

    assert page.status_code == 404 and "Not found" in page.text
