"""Setting up from the command line, once per backend: ``xinbao init``, ``funders`` with
their versioned cooperation agreements, and ``capital``. Each refusal names its field and
rule (exit 2), writes nothing, and each change leaves an audit record."""

from __future__ import annotations

import getpass
import json
from datetime import date

import pytest
from typer.testing import CliRunner, Result

from tests import builders as b
from tests import support
from xinbao import migrate
from xinbao.bootstrap import Container, bootstrap
from xinbao.entrypoints.api.deps import utcnow
from xinbao.entrypoints.cli.main import app
from xinbao.iam import services as accounts
from xinbao.iam.model.security import Role
from xinbao.kernel.money import apply_rate
from xinbao.reinsurance.services import shipped

runner = CliRunner()
PASSWORD = "a long enough passphrase"
OPERATOR = f"system:cli:{getpass.getuser()}"


def xinbao(url: str, *args: str, stdin: str | None = None) -> Result:
    return runner.invoke(app, [*args, "--database-url", url], input=stdin)


@pytest.fixture
def c(seeded_container: Container) -> Container:
    """The shipped catalogue, a licensed bank BANK-A and 100 million yuan of capital."""
    return seeded_container


def url(c: Container) -> str:
    return c.settings.database_url


def refused(result: Result, finding: tuple[str, str]) -> bool:
    """Whether a refusal named this field and rule ("  field: message (rule)"; rich may wrap
    a long line, so line breaks count as spaces)."""
    text = " ".join(result.output.split())
    field, rule = finding
    return "nothing was written" in text and f" {field}: " in text and f"({rule})" in text


def events(c: Container, name: str) -> list:
    with c.uow() as u:
        return [r for r in u.events.records() if r.name == name]


def funder_count(c: Container) -> int:
    with c.uow() as u:
        return len(u.funders.list())


def entry_count(c: Container) -> int:
    with c.uow() as u:
        return len(u.ledger.entries())


# --- init ---------------------------------------------------------------------------------


def test_init_sets_up_a_new_installation_and_says_what_to_do_next(empty_database_url):
    first = xinbao(empty_database_url, "init", "--admin", "root.admin", "--name", "管理员",
                   "--password-stdin", stdin=PASSWORD + "\n")
    assert first.exit_code == 0, first.output
    assert f"Schema created at revision {migrate.head_revision()}" in first.stdout
    assert "4 version(s) loaded" in first.stdout
    assert "Administrator root.admin created" in first.stdout
    for next_step in ("xinbao funders add", "xinbao capital inject", "xinbao users add",
                      "xinbao applications submit"):
        assert next_step in first.stdout
    c = bootstrap(support.settings(empty_database_url))
    try:
        assert accounts.login("root.admin", PASSWORD, c.uow(), c.credentials, now=utcnow()).token
        with c.uow() as u:
            assert u.users.get_by_username("root.admin").roles == {Role.ADMIN}
            assert len(u.products.list_latest()) == 4

        again = xinbao(empty_database_url, "init", "--admin", "root.admin", "--name", "管理员")
        assert again.exit_code == 0, again.output  # no password asked: no stdin needed
        assert "Schema already at revision" in again.stdout
        assert "0 version(s) loaded, 4 already stored" in again.stdout
        assert "User root.admin exists" in again.stdout
        assert len(events(c, "UserCreated")) == 1
    finally:
        c.close()


def test_init_refuses_a_weak_password_for_the_administrator(empty_database_url):
    weak = xinbao(empty_database_url, "init", "--admin", "root.admin", "--name", "管理员",
                  "--password-stdin", stdin="short\n")
    assert weak.exit_code == 2
    assert refused(weak, ("password", "SEC-PASSWORD-LENGTH"))


@pytest.mark.parametrize("command", [
    ["init"], ["funders", "add"], ["funders", "list"], ["funders", "show"],
    ["funders", "agreement"], ["capital", "inject"], ["capital", "show"]])
def test_every_set_up_command_explains_itself(command):
    shown = runner.invoke(app, [*command, "--help"], prog_name="xinbao")
    assert shown.exit_code == 0, shown.output
    assert "Usage: xinbao " + " ".join(command) in " ".join(shown.output.split())


# --- funders --------------------------------------------------------------------------------

CFC = ["funders", "add", "CFC-1", "--name", "示例消费金融有限公司", "--credit-code",
       b.CREDIT_CODE_CFC, "--kind", "consumer_finance", "--licensed", "--products",
       "CONSUMER-G", "--commission", "0.05"]


def test_a_funder_is_registered_with_its_whole_agreement_listed_shown_and_audited(c):
    bad = xinbao(url(c), *CFC, "--products", "CAR-G", "--premium-collector", "broker")
    assert bad.exit_code == 2 and "agreement.premium_collector" in bad.output
    added = xinbao(url(c), *CFC, "--products", "CAR-G", "--volume-share", "0.2",
                   "--risk-share", "0.1", "--settlement-days", "15", "--file-format", "jsonl",
                   "--premium-collector", "funder", "--from", "2025-01-01")
    assert added.exit_code == 0, added.output
    assert "CFC-1" in added.stdout and "v1" in added.stdout

    shown = xinbao(url(c), "funders", "show", "CFC-1", "--json")
    assert shown.exit_code == 0, shown.output
    doc = json.loads(shown.stdout)
    assert (doc["kind"], doc["licensed"], doc["products"]) == (
        "consumer_finance", True, ["CONSUMER-G", "CAR-G"])
    assert doc["agreements"] == [{
        "funder": "CFC-1", "version": 1, "effective_from": "2025-01-01",
        "products": ["CONSUMER-G", "CAR-G"], "commission_rate": "0.05", "volume_share": "0.2",
        "risk_share": "0.1", "settlement_days": 15, "file_format": "jsonl",
        "claim_notice_days": 30, "premium_grace_days": 30, "premium_collector": "funder",
        "feed_mapping": {}}]

    listed = xinbao(url(c), "funders", "list", "--json")
    assert [f["code"] for f in json.loads(listed.stdout)] == ["BANK-A", "CFC-1"]
    assert "CFC-1" in xinbao(url(c), "funders", "list").stdout
    assert "合作协议" in xinbao(url(c), "funders", "show", "CFC-1").stdout
    registered = events(c, "FunderRegistered")
    assert [(r.data["code"], r.actor) for r in registered][-1] == ("CFC-1", OPERATOR)
    assert registered[-1].data["agreement"]["risk_share"] == "0.1"


@pytest.mark.parametrize(("changes", "finding"), [
    pytest.param({"--credit-code": "911100001000033178"}, ("credit_code", "credit_code.gb32100"),
                 id="bad-credit-code"),
    pytest.param({"--products": "TRAVEL-X"}, ("products", "product.known"),
                 id="unknown-product"),
    pytest.param({"--products": "CONSUMER-G,CONSUMER-G"}, ("products", "funder.products"),
                 id="product-twice"),
    pytest.param({"--commission": "1.2"}, ("commission_rate", "funder.commission_rate"),
                 id="commission-above-1"),
    pytest.param({"--commission": "-0.01"}, ("commission_rate", "funder.commission_rate"),
                 id="negative-commission"),
    pytest.param({"--commission": "8%"}, ("commission_rate", "commission_rate.format"),
                 id="unreadable-commission"),
    pytest.param({"--kind": "pawnshop"}, ("kind", "kind.format"), id="unknown-kind"),
    pytest.param({"--risk-share": "1"}, ("risk_share", "agreement.risk_share"),
                 id="funder-keeps-every-loss"),
    pytest.param({"--volume-share": "0"}, ("volume_share", "agreement.volume_share"),
                 id="zero-volume-share"),
    pytest.param({"--settlement-days": "0"}, ("settlement_days", "agreement.settlement_days"),
                 id="no-settlement-cycle"),
    pytest.param({"--file-format": "xml"}, ("file_format", "agreement.file_format"),
                 id="unknown-file-format"),
    pytest.param({"--from": "2025-02-30"}, ("effective_from", "effective_from.format"),
                 id="not-a-date"),
])
def test_a_funder_with_an_invalid_field_is_refused_naming_field_and_rule(c, changes, finding):
    args = list(CFC)
    for option, value in changes.items():
        if option in args:
            args[args.index(option) + 1] = value
        else:
            args += [option, value]
    before = funder_count(c)
    result = xinbao(url(c), *args)
    assert result.exit_code == 2, result.output
    assert refused(result, finding)
    assert funder_count(c) == before


def test_every_broken_rule_of_a_funder_is_named_at_once(c):
    result = xinbao(url(c), "funders", "add", "BANK B", "--name", " ", "--credit-code", "x",
                    "--kind", "bank", "--licensed", "--products", "CONSUMER-G",
                    "--commission", "1", "--file-format", "xml")
    assert result.exit_code == 2
    for finding in (("code", "funder.code"), ("name", "name.required"),
                    ("credit_code", "credit_code.gb32100"),
                    ("commission_rate", "funder.commission_rate"),
                    ("file_format", "agreement.file_format")):
        assert refused(result, finding), finding


def test_a_funder_code_registered_before_is_a_conflict(c):
    assert xinbao(url(c), *CFC).exit_code == 0
    again = xinbao(url(c), *CFC)
    assert again.exit_code == 4 and "CFC-1" in again.output
    assert len(events(c, "FunderRegistered")) == 2  # BANK-A and CFC-1 once


def test_an_unknown_funder_is_not_found(c):
    for command in (["funders", "show", "NOBODY"],
                    ["funders", "agreement", "NOBODY", "--commission", "0.1"]):
        result = xinbao(url(c), *command)
        assert result.exit_code == 3, result.output
        assert "NOBODY" in result.output


def test_a_new_agreement_version_takes_over_the_funders_terms_and_is_kept_with_the_old(c):
    amended = xinbao(url(c), "funders", "agreement", "BANK-A", "--products", "CONSUMER-G",
                     "--commission", "0.08", "--settlement-days", "15", "--from", "2025-03-01",
                     "--on", "2025-03-05", "--json")
    assert amended.exit_code == 0, amended.output
    v2 = json.loads(amended.stdout)
    assert (v2["version"], v2["stored"], v2["products"], v2["settlement_days"]) == (
        2, True, ["CONSUMER-G"], 15)
    assert v2["file_format"] == "csv"  # unchanged terms carry over from v1
    with c.uow() as u:
        funder = u.funders.get_by_code("BANK-A")
        assert (funder.products, str(funder.commission_rate)) == (("CONSUMER-G",), "0.08")
        assert [a.version for a in u.funders.agreements(funder.id)] == [1, 2]
        v1 = u.funders.agreements(funder.id)[0]
        assert (v1.products, str(v1.commission_rate)) == (
            ("CONSUMER-G", "CAR-G", "MORTGAGE-C", "SME-C"), "0.10")
    amendments = events(c, "AgreementAmended")
    assert [(r.data["version"], r.actor) for r in amendments] == [(2, OPERATOR)]

    repeat = xinbao(url(c), "funders", "agreement", "BANK-A", "--commission", "0.08",
                    "--on", "2025-04-01")
    assert repeat.exit_code == 0, repeat.output
    assert "nothing stored" in repeat.stdout
    assert len(events(c, "AgreementAmended")) == 1

    earlier = xinbao(url(c), "funders", "agreement", "BANK-A", "--commission", "0.07",
                     "--from", "2025-02-01", "--on", "2025-04-01")
    assert earlier.exit_code == 2
    assert refused(earlier, ("effective_from", "agreement.version_order"))
    ahead = xinbao(url(c), "funders", "agreement", "BANK-A", "--commission", "0.07",
                   "--from", "2025-05-01", "--on", "2025-04-01")
    assert ahead.exit_code == 2
    assert refused(ahead, ("effective_from", "agreement.effective_from"))
    unknown = xinbao(url(c), "funders", "agreement", "BANK-A", "--products", "TRAVEL-X",
                     "--on", "2025-04-01")
    assert unknown.exit_code == 2 and refused(unknown, ("products", "product.known"))
    shown = json.loads(xinbao(url(c), "funders", "show", "BANK-A", "--json").stdout)
    assert [a["version"] for a in shown["agreements"]] == [1, 2]


def test_a_console_user_needs_the_catalogue_authority_to_add_a_funder(c):
    for username, role in (("wang.wu", "underwriter"), ("zhao.liu", "risk_manager")):
        assert xinbao(url(c), "users", "add", username, "--name", username, "--role", role,
                      "--password-stdin", stdin=PASSWORD + "\n").exit_code == 0
    forbidden = xinbao(url(c), *CFC, "--user", "wang.wu", stdin=PASSWORD + "\n")
    assert forbidden.exit_code == 5, forbidden.output
    assert funder_count(c) == 1
    allowed = xinbao(url(c), *CFC, "--user", "zhao.liu", stdin=PASSWORD + "\n")
    assert allowed.exit_code == 0, allowed.output
    assert events(c, "FunderRegistered")[-1].actor == "user:zhao.liu"


# --- capital --------------------------------------------------------------------------------


def test_capital_is_posted_once_per_reference(c):
    before = entry_count(c)
    paid = xinbao(url(c), "capital", "inject", "--amount", "500000000", "--reference", "CAP-1",
                  "--on", "2025-01-02")
    assert paid.exit_code == 0, paid.output
    assert "500,000,000.00 yuan" in paid.stdout
    assert entry_count(c) == before + 1

    repeat = xinbao(url(c), "capital", "inject", "--amount", "500000000.00", "--reference",
                    "CAP-1", "--json")
    assert repeat.exit_code == 0, repeat.output
    assert json.loads(repeat.stdout)["repeat"] is True
    assert entry_count(c) == before + 1

    other = xinbao(url(c), "capital", "inject", "--amount", "400000000", "--reference", "CAP-1")
    assert other.exit_code == 4, other.output
    assert "CAP-1" in other.output
    assert entry_count(c) == before + 1
    injected = [r for r in events(c, "CapitalInjected") if r.data["reference"] == "CAP-1"]
    assert [(r.data["amount_fen"], r.actor) for r in injected] == [(50_000_000_000, OPERATOR)]


@pytest.mark.parametrize(("amount", "reference", "finding"), [
    pytest.param("0", "CAP-2", ("amount_fen", "amount.positive"), id="zero"),
    pytest.param("-500", "CAP-2", ("amount_fen", "amount.positive"), id="negative"),
    pytest.param("1.001", "CAP-2", ("amount_fen", "amount_fen.format"), id="below-one-fen"),
    pytest.param("5e8x", "CAP-2", ("amount_fen", "amount_fen.format"), id="unreadable"),
    pytest.param("100", "  ", ("reference", "capital.reference"), id="no-reference"),
])
def test_capital_that_is_not_a_positive_amount_with_a_reference_is_refused(c, amount, reference,
                                                                           finding):
    before = entry_count(c)
    result = xinbao(url(c), "capital", "inject", "--amount", amount, "--reference", reference)
    assert result.exit_code == 2, result.output
    assert refused(result, finding)
    assert entry_count(c) == before


def test_capital_beyond_a_finance_users_posting_authority_is_not_permitted(c):
    assert xinbao(url(c), "users", "add", "qian.qi", "--name", "钱七", "--role", "finance",
                  "--password-stdin", stdin=PASSWORD + "\n").exit_code == 0
    big = xinbao(url(c), "capital", "inject", "--amount", "500000000", "--reference", "CAP-3",
                 "--user", "qian.qi", stdin=PASSWORD + "\n")
    assert big.exit_code == 5, big.output
    small = xinbao(url(c), "capital", "inject", "--amount", "5000000", "--reference", "CAP-3",
                   "--user", "qian.qi", stdin=PASSWORD + "\n")
    assert small.exit_code == 0, small.output
    assert events(c, "CapitalInjected")[-1].actor == "user:qian.qi"


def test_capital_show_puts_each_limit_at_todays_net_assets_beside_the_book(c):
    empty = json.loads(xinbao(url(c), "capital", "show", "--json").stdout)
    assert (empty["paid_in_fen"], empty["net_assets_fen"]) == (b.CAPITAL_FEN, b.CAPITAL_FEN)
    assert (empty["retained_fen"], empty["limits_basis_fen"]) == (0, None)

    b.issued_policy(c.uow)  # the decision sets the caps on today's net assets and uses them
    shown = xinbao(url(c), "capital", "show", "--json")
    assert shown.exit_code == 0, shown.output
    doc = json.loads(shown.stdout)
    net = doc["net_assets_fen"]
    limits = {row["dimension"]: row for row in doc["limits"]}
    assert limits["retained"]["code"] == "LIM-PORTFOLIO-APPETITE"
    assert limits["retained"]["cap_fen"] == 4 * net  # regulatory.toml: 4 x net assets
    assert limits["retained"]["used_fen"] == doc["retained_fen"] > 0
    assert limits["retained"]["room_fen"] == 4 * net - doc["retained_fen"]
    assert limits["obligor (individual)"]["cap_fen"] == min(20_000_000, net // 100)
    assert limits["funder"]["key"] == "BANK-A"
    assert doc["fullest_obligor"]["used_fen"] == doc["retained_fen"]
    assert doc["limits_basis_fen"] == net and doc["limits_stale"] is False
    # The quota share in force today takes its share of every risk: what is left is ours.
    share = shipped().quota_share_on(date.today())
    assert share > 0 and doc["net_retained_fen"] == doc["retained_fen"] - apply_rate(
        doc["retained_fen"], share)

    assert xinbao(url(c), "capital", "inject", "--amount", "100000000", "--reference",
                  "CAP-4").exit_code == 0
    after = json.loads(xinbao(url(c), "capital", "show", "--json").stdout)
    assert after["limits_stale"] is True
    assert after["net_assets_fen"] == net + 10_000_000_000
    table = xinbao(url(c), "capital", "show").stdout
    assert "LIM-PORTFOLIO-APPETITE" in table and "xinbao limits refresh" in table

