"""The life of an insured loan from the command line — ``policies``, ``loans``,
``repayments``, ``eod``, ``claims``, ``recoveries`` — and ``--user``: a person acting as a
console user, roles, authority and four-eyes holding as in the API. Once per backend."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner, Result

from tests import builders as b
from xinbao.bootstrap import Container
from xinbao.entrypoints.api.deps import utcnow
from xinbao.entrypoints.cli.main import app
from xinbao.iam import services as accounts
from xinbao.ledger import services as ledger
from xinbao.underwriting import services as applications

runner = CliRunner()
PASSWORD = "a long enough passphrase"
REFUSED, NOT_FOUND, CONFLICT, NOT_PERMITTED = 2, 3, 4, 5


def xinbao(c: Container, *args: str, stdin: str | None = None) -> Result:
    return runner.invoke(app, [*args, "--database-url", c.settings.database_url], input=stdin)


@pytest.fixture
def c(seeded_container: Container) -> Container:
    return seeded_container


@pytest.fixture
def quoted(c: Container) -> int:
    """An approved consumer application (guarantee insurance, per-installment premium)."""
    a = applications.submit_application(b.consumer_application(), c.uow())
    assert b.approve(c.uow, a.id).policy is not None
    return a.id


def add_user(c: Container, name: str, *roles: str) -> None:
    accounts.add_user(accounts.AddUser(name, name, PASSWORD, list(roles)), c.uow(),
                      c.credentials, now=utcnow())


def issue(c: Container, application_id: int) -> dict:
    issued = xinbao(c, "policies", "issue", "--application", str(application_id),
                    "--contract", "LN-1", "--disbursed-on", b.START.isoformat(), "--json")
    assert issued.exit_code == 0, issued.output
    return json.loads(issued.stdout)


def test_a_quoted_policy_is_issued_by_application_once_and_listed_and_shown(c, quoted):
    policy = issue(c, quoted)
    assert policy["status"] == "in_force" and policy["application_id"] == quoted
    again = issue(c, quoted)
    assert again == policy
    with c.uow() as u:
        assert len(u.loans.get_many([policy["loan_id"]])) == 1
    listed = xinbao(c, "policies", "list", "--json")
    assert [p["id"] for p in json.loads(listed.stdout)["items"]] == [policy["id"]]
    shown = xinbao(c, "policies", "show", str(policy["id"]))
    assert shown.exit_code == 0 and policy["policy_no"] in shown.stdout


def test_issuing_needs_a_policy_id_or_an_application_and_a_real_date(c, quoted):
    neither = xinbao(c, "policies", "issue", "--contract", "LN-1", "--disbursed-on",
                     "2025-01-15")
    assert neither.exit_code == REFUSED
    bad_date = xinbao(c, "policies", "issue", "--application", str(quoted), "--contract",
                      "LN-1", "--disbursed-on", "15/01/2025")
    assert bad_date.exit_code == REFUSED and "disbursed_on" in bad_date.output
    unknown = xinbao(c, "policies", "issue", "--application", "999", "--contract", "LN-1",
                     "--disbursed-on", "2025-01-15")
    assert unknown.exit_code == NOT_FOUND
    assert xinbao(c, "policies", "show", "999").exit_code == NOT_FOUND


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_repayment_file_records_good_rows_refuses_bad_ones_by_line_and_ignores_repeats(
        c, quoted, tmp_path):
    policy = issue(c, quoted)
    loan = json.loads(xinbao(c, "loans", "show", str(policy["loan_id"]), "--json").stdout)
    first = loan["schedule"][0]
    premium = policy["installment_premium_fen"]
    file = write(tmp_path, "bank-a-0215.csv", "\n".join([
        "contract_no,installment_number,paid_on,principal,interest,premium,reference",
        f"LN-1,1,{first['due_date']},{first['principal_fen'] / 100:.2f},"
        f"{first['interest_fen'] / 100:.2f},{premium / 100:.2f},T-1",
        "LN-1,2,2025-03-15,999999.00,0,,T-2",      # more than installment 2 owes
        "LN-9,1,2025-02-15,1.00,0,,T-3",           # no such contract
        "LN-1,x,2025-02-15,1.00,0,,T-4",           # unreadable installment
        "LN-1,2,2025-03-15,1.001,0,,T-5",          # a third decimal of yuan
    ]) + "\n")
    loaded = xinbao(c, "repayments", "load", str(file), "--funder", "BANK-A", "--received-on",
                    "2025-02-16", "--json")
    assert loaded.exit_code == REFUSED, loaded.output
    result = json.loads(loaded.stdout)
    assert result["repayments_recorded"] == 1 and result["premium_collected_fen"] == premium
    refused = {r["line"]: r["errors"][0] for r in result["refused"]}
    assert refused[3]["rule"] == "repayment.overpayment"
    assert refused[4]["rule"] == "loan.known" and "LN-9" in refused[4]["message"]
    assert refused[5]["field"] == "installment_number"
    assert refused[6]["field"] == "principal"
    with c.uow() as u:
        assert len(u.repayments.for_loan(policy["loan_id"])) == 1
    shown = json.loads(xinbao(c, "loans", "show", str(policy["loan_id"]), "--as-of",
                              "2025-02-20", "--json").stdout)
    assert shown["position"]["days_past_due"] == 0 and len(shown["repayments"]) == 1

    again = xinbao(c, "repayments", "load", str(file), "--funder", "BANK-A", "--received-on",
                   "2025-02-16", "--json")
    assert json.loads(again.stdout)["repeats_ignored"] == 1
    with c.uow() as u:
        assert len(u.repayments.for_loan(policy["loan_id"])) == 1


def test_a_prepayment_row_in_a_jsonl_file_settles_the_loan_and_a_repeat_is_ignored(
        c, quoted, tmp_path):
    policy = issue(c, quoted)
    file = write(tmp_path, "bank-a.jsonl", json.dumps({
        "type": "prepayment", "contract_no": "LN-1", "paid_on": "2025-02-01",
        "interest": 12.5, "reference": "P-1"}) + "\n")
    loaded = xinbao(c, "repayments", "load", str(file), "--funder", "BANK-A", "--json")
    assert loaded.exit_code == 0, loaded.output
    assert json.loads(loaded.stdout)["prepayments_settled"] == 1
    shown = json.loads(xinbao(c, "policies", "show", str(policy["id"]), "--json").stdout)
    assert shown["status"] == "closed"
    again = xinbao(c, "repayments", "load", str(file), "--funder", "BANK-A", "--json")
    assert again.exit_code == 0 and json.loads(again.stdout)["repeats_ignored"] == 1


def test_a_repayment_file_is_refused_whole_for_an_unknown_funder_or_columns(c, tmp_path):
    good = write(tmp_path, "f.csv", "contract_no,installment_number,paid_on,principal,"
                                    "interest,reference\nLN-1,1,2025-02-15,1.00,0,T-1\n")
    assert xinbao(c, "repayments", "load", str(good), "--funder", "BANK-Z").exit_code \
        == NOT_FOUND
    odd = write(tmp_path, "g.csv", "contract,amount\nLN-1,1\n")
    refused = xinbao(c, "repayments", "load", str(odd), "--funder", "BANK-A")
    assert refused.exit_code == REFUSED and "file.columns" in refused.output
    text = write(tmp_path, "h.txt", "x")
    assert xinbao(c, "repayments", "load", str(text), "--funder", "BANK-A").exit_code \
        == REFUSED


def claim_opened_by(c: Container, user: str) -> int:
    """The policy's loan left unpaid; the end-of-day batch, run by ``user``, opens its
    claim at the product's trigger (CONSUMER-G: 80 days past the first due date)."""
    ran = xinbao(c, "eod", "run", "--date", "2025-05-06", "--user", user, "--json",
                 stdin=PASSWORD + "\n")
    assert ran.exit_code == 0, ran.output
    opened = json.loads(ran.stdout)["claims_opened"]
    assert len(opened) == 1
    # A first-payment default: claim anti-fraud refers it to a person, who approves it.
    add_user(c, "wang.fang", "claims_approver")
    approved = xinbao(c, "claims", "approve", str(opened[0]), "--on", "2025-05-07", "--why",
                      "reviewed", "--user", "wang.fang", "--json", stdin=PASSWORD + "\n")
    assert approved.exit_code == 0, approved.output
    assert json.loads(approved.stdout)["referrals"] == ["CLM-FRAUD-FPD"]
    return opened[0]


def test_eod_opens_the_claim_and_its_maker_cannot_pay_it_but_a_second_user_can(c, quoted):
    issue(c, quoted)
    add_user(c, "zhao.min", "finance", "claims_approver")
    add_user(c, "li.na", "claims_approver", "collector")
    claim_id = claim_opened_by(c, "zhao.min")
    listed = json.loads(xinbao(c, "claims", "list", "--status", "approved", "--json").stdout)
    assert [x["id"] for x in listed["items"]] == [claim_id]

    maker = xinbao(c, "claims", "pay", str(claim_id), "--on", "2025-05-10", "--user",
                   "zhao.min", stdin=PASSWORD + "\n")
    assert maker.exit_code == NOT_PERMITTED and "four-eyes" in maker.output
    paid = xinbao(c, "claims", "pay", str(claim_id), "--on", "2025-05-10", "--user", "li.na",
                  "--json", stdin=PASSWORD + "\n")
    assert paid.exit_code == 0, paid.output
    assert json.loads(paid.stdout)["status"] == "paid"

    recovered = xinbao(c, "recoveries", "add", str(claim_id), "--amount", "1200.00",
                       "--source", "borrower", "--reference", "R-1", "--on", "2025-06-01",
                       "--user", "li.na", stdin=PASSWORD + "\n")
    assert recovered.exit_code == 0, recovered.output
    shown = json.loads(xinbao(c, "claims", "show", str(claim_id), "--json").stdout)
    assert shown["recovered_fen"] == 120_000 and shown["recoveries"][0]["amount_fen"] == 120_000
    assert (shown["recovery_right"]["amount_fen"], shown["recovery_right"]["opened_on"],
            shown["recovery_right"]["status"]) == (shown["amount_fen"], "2025-05-10", "open")
    rights = json.loads(xinbao(c, "recoveries", "rights", "--json").stdout)["items"]
    assert [(r["claim_id"], r["recovered_fen"], r["outstanding_fen"]) for r in rights] == [
        (claim_id, 120_000, shown["amount_fen"] - 120_000)]
    assert "recovery right" in xinbao(c, "claims", "show", str(claim_id)).stdout
    assert json.loads(xinbao(c, "recoveries", "rights", "--status", "closed",
                             "--json").stdout)["items"] == []
    wrong = xinbao(c, "recoveries", "rights", "--status", "pending")
    assert wrong.exit_code != 0 and "recovery.status" in wrong.output
    assert ledger.trial_balance(c.uow()).total == 0
    with c.uow() as u:
        made = {(r.name, r.actor) for r in u.events.records(limit=1000)
                if r.aggregate == "claim"}
    assert {("ClaimNotified", "user:zhao.min"), ("ClaimApproved", "user:wang.fang"),
            ("ClaimPaid", "user:li.na")} <= made
    assert shown["approvals"] == ["user:wang.fang"]
    checks = shown["assessments"][0]["checks"]
    assert [x["code"] for x in checks if not x["passed"]] == []
    assert next(x for x in checks if x["code"] == "CLM-TRIGGER-NOT-REACHED")["evidence"][
        "days_past_due"] == 80


def test_a_user_is_held_to_their_roles_at_the_cli(c, quoted):
    issue(c, quoted)
    add_user(c, "wang.wu", "auditor")
    add_user(c, "zhao.min", "finance")
    refused = xinbao(c, "eod", "run", "--date", "2025-05-06", "--user", "wang.wu",
                     stdin=PASSWORD + "\n")
    assert refused.exit_code == NOT_PERMITTED and "batch.run" in refused.output
    claim_id = claim_opened_by(c, "zhao.min")
    unentitled = xinbao(c, "claims", "pay", str(claim_id), "--user", "wang.wu",
                        stdin=PASSWORD + "\n")
    assert unentitled.exit_code == NOT_PERMITTED and "claim.pay" in unentitled.output
    with c.uow() as u:
        claim = u.claims.get(claim_id)
    assert claim is not None and claim.status.value == "approved"


def test_wrong_credentials_are_refused_without_saying_which_part_and_counted(c):
    add_user(c, "li.na", "claims_approver")
    for who, password in (("li.na", "not the password"), ("nobody", PASSWORD)):
        r = xinbao(c, "claims", "list", "--user", who, stdin=password + "\n")
        assert r.exit_code == NOT_PERMITTED and "invalid credentials" in r.output
    with c.uow() as u:
        user = u.users.get_by_username("li.na")
    assert user is not None and user.failed_logins == 1


def test_eod_runs_a_range_of_days_in_order_and_a_day_run_twice_posts_nothing_more(c, quoted):
    issue(c, quoted)
    ran = xinbao(c, "eod", "run", "--date", "2025-05-04", "--through", "2025-05-06", "--json")
    assert ran.exit_code == 0, ran.output
    days = json.loads(ran.stdout)
    assert [d["on"] for d in days] == ["2025-05-04", "2025-05-05", "2025-05-06"]
    assert [len(d["claims_opened"]) for d in days] == [0, 0, 1]
    with c.uow() as u:
        entries = len(u.ledger.entries())
    again = xinbao(c, "eod", "run", "--date", "2025-05-06", "--json")
    assert json.loads(again.stdout)["claims_opened"] == []
    with c.uow() as u:
        assert len(u.ledger.entries()) == entries
    backwards = xinbao(c, "eod", "run", "--date", "2025-05-06", "--through", "2025-05-01")
    assert backwards.exit_code == REFUSED
    backfill = xinbao(c, "eod", "run", "--from", "2025-05-05", "--to", "2025-05-06", "--json")
    assert [d["on"] for d in json.loads(backfill.stdout)] == ["2025-05-05", "2025-05-06"]
    with c.uow() as u:
        assert len(u.ledger.entries()) == entries  # a backfill of days run posts nothing


def test_eod_keeps_the_days_snapshot_on_either_engine_and_skips_it_when_told(
        c, quoted, tmp_path, monkeypatch):
    issue(c, quoted)
    monkeypatch.setenv("XINBAO_SNAPSHOT_DIR", str(tmp_path / "snaps"))
    ran = xinbao(c, "eod", "run", "--date", "2025-05-06", "--partitions", "3", "--json")
    assert ran.exit_code == 0, ran.output
    snapshot = json.loads(ran.stdout)["snapshot"]
    assert snapshot["loans"] == 1 and snapshot["overdue"] == 1
    assert snapshot["by_bucket"] == {"M3": 1} and snapshot["signals"]["EW-FPD"] == 1
    local = pl.read_parquet(tmp_path / "snaps" / "date=2025-05-06" / "loans.parquet")

    on_dask = xinbao(c, "eod", "run", "--date", "2025-05-06", "--engine", "dask", "--json")
    assert on_dask.exit_code == 0, on_dask.output
    assert pl.read_parquet(tmp_path / "snaps" / "date=2025-05-06" / "loans.parquet").equals(
        local)
    skipped = xinbao(c, "eod", "run", "--date", "2025-05-07", "--no-snapshot", "--json")
    assert "snapshot" not in json.loads(skipped.stdout)
    assert not (tmp_path / "snaps" / "date=2025-05-07").exists()
    unknown = xinbao(c, "eod", "run", "--date", "2025-05-07", "--engine", "spark")
    assert unknown.exit_code == REFUSED and "batch.engine" in unknown.output


def test_a_claim_notice_is_filed_and_a_declined_one_says_why(c, quoted):
    policy = issue(c, quoted)
    filed = xinbao(c, "claims", "file", str(policy["id"]), "--on", "2025-02-01",
                   "--exclusion", "insured_fraud", "--json")
    assert filed.exit_code == 0, filed.output
    claim = json.loads(filed.stdout)
    assert claim["status"] == "declined" and claim["reason_codes"]
    assert xinbao(c, "claims", "show", "999").exit_code == NOT_FOUND
    assert xinbao(c, "claims", "pay", "999").exit_code == NOT_FOUND


def test_a_recovery_needs_a_paid_claim_and_a_readable_amount(c, quoted):
    issue(c, quoted)
    ran = xinbao(c, "eod", "run", "--date", "2025-05-06", "--json")
    claim_id = json.loads(ran.stdout)["claims_opened"][0]
    unpaid = xinbao(c, "recoveries", "add", str(claim_id), "--amount", "10", "--source",
                    "borrower", "--reference", "R-1", "--on", "2025-06-01")
    assert unpaid.exit_code in (REFUSED, CONFLICT), unpaid.output
    bad = xinbao(c, "recoveries", "add", str(claim_id), "--amount", "ten", "--source",
                 "borrower", "--reference", "R-1")
    assert bad.exit_code == REFUSED and "amount" in bad.output


def test_issued_on_is_kept_as_given(c, quoted):
    issued = xinbao(c, "policies", "issue", "--application", str(quoted), "--contract", "LN-1",
                    "--disbursed-on", "2025-01-15", "--on", "2025-01-16", "--json")
    assert issued.exit_code == 0, issued.output
    with c.uow() as u:
        p = u.policies.get(json.loads(issued.stdout)["id"])
    assert p is not None and p.issued_on == date(2025, 1, 16)


def test_a_refused_setting_is_one_line_and_exit_2_not_a_traceback(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "XINBAO_ENV": "production", "XINBAO_BUREAU": "simulated",
           "XINBAO_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    env.pop("XINBAO_ALLOW_SIMULATED_BUREAU", None)
    env.pop("XINBAO_PASSWORD_HASHING", None)
    done = subprocess.run([sys.executable, "-m", "xinbao.entrypoints.cli", "claims", "list"],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert "Configuration refused" in done.stderr and "XINBAO_BUREAU" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_missed_installment_is_recorded_after_its_due_date_only(c, quoted):
    policy = issue(c, quoted)
    loan = str(policy["loan_id"])
    early = xinbao(c, "loans", "missed", loan, "--installment", "1", "--on", "2025-02-10")
    assert early.exit_code == REFUSED and "missed.after_due_date" in early.output
    missed = xinbao(c, "loans", "missed", loan, "--installment", "1", "--on", "2025-02-20",
                    "--json")
    assert missed.exit_code == 0, missed.output
    assert json.loads(missed.stdout)["days_past_due"] == 5
    with c.uow() as u:
        names = [r.name for r in u.events.records(limit=1000) if r.aggregate == "loan"]
    assert names.count("InstallmentMissed") == 1
    no_such = xinbao(c, "loans", "missed", loan, "--installment", "40", "--on", "2025-02-20")
    assert no_such.exit_code == REFUSED


def test_a_file_with_a_byte_order_mark_a_non_utf8_line_and_a_long_row_refuses_only_that_row(
        c, quoted, tmp_path):
    policy = issue(c, quoted)
    loan = json.loads(xinbao(c, "loans", "show", str(policy["loan_id"]), "--json").stdout)
    first = loan["schedule"][0]
    good = (f"LN-1,1,{first['due_date']},{first['principal_fen'] / 100:.2f},"
            f"{first['interest_fen'] / 100:.2f},T-1")
    path = tmp_path / "bank-a.csv"
    path.write_bytes(b"\xef\xbb\xbfcontract_no,installment_number,paid_on,principal,interest,"
                     b"reference\n" + b"LN-1,2,2025-03-15,1.00,0,T-\xff\n"
                     + b"LN-1,2,2025-03-15,1.00,0,T-3,extra\n" + good.encode() + b"\n")
    loaded = xinbao(c, "repayments", "load", str(path), "--funder", "BANK-A", "--json")
    assert loaded.exit_code == REFUSED, loaded.output
    result = json.loads(loaded.stdout)
    assert result["repayments_recorded"] == 1
    assert {r["line"]: r["errors"][0]["rule"] for r in result["refused"]} == {
        2: "file.encoding", 3: "file.columns"}
    jsonl = tmp_path / "bank-a.jsonl"
    jsonl.write_bytes(b"\xef\xbb\xbf" + json.dumps({
        "contract_no": "LN-1", "installment_number": 2, "paid_on": "2025-03-15",
        "principal": 1, "interest": 0, "reference": "T-9"}).encode() + b"\n\xc3(\n")
    loaded = xinbao(c, "repayments", "load", str(jsonl), "--funder", "BANK-A", "--json")
    result = json.loads(loaded.stdout)
    assert result["repayments_recorded"] == 1
    assert [(r["line"], r["errors"][0]["rule"]) for r in result["refused"]] == [
        (2, "file.encoding")]


def test_a_payment_batch_is_settled_and_its_statement_written_at_the_cli(c, quoted, tmp_path):
    issue(c, quoted)
    add_user(c, "zhao.min", "finance")
    add_user(c, "li.na", "claims_approver")
    claim_id = claim_opened_by(c, "zhao.min")
    folder = tmp_path / "statements"

    settled = xinbao(c, "claims", "settle", "BANK-A", "--on", "2025-07-01", "--out",
                     str(folder), "--user", "li.na", "--json", stdin=PASSWORD + "\n")

    assert settled.exit_code == 0, settled.output
    batch = json.loads(settled.stdout)
    assert batch["claim_ids"] == [claim_id] and batch["repeat"] is False
    shown = json.loads(xinbao(c, "claims", "show", str(claim_id), "--json").stdout)
    assert shown["status"] == "paid" and batch["total_fen"] == shown["amount_fen"]
    csv_file, pdf_file = (folder / f"{batch['number']}.{kind}" for kind in ("csv", "pdf"))
    assert pdf_file.read_bytes().startswith(b"%PDF")
    assert "理赔编号" in csv_file.read_text(encoding="utf-8-sig")
    again = xinbao(c, "claims", "statement", str(batch["id"]), "--out", str(tmp_path / "2"))
    assert again.exit_code == 0, again.output
    assert (tmp_path / "2" / pdf_file.name).read_bytes() == pdf_file.read_bytes()
    repeat = xinbao(c, "claims", "settle", "BANK-A", "--on", "2025-07-01", "--out",
                    str(folder), "--user", "li.na", "--json", stdin=PASSWORD + "\n")
    assert json.loads(repeat.stdout)["repeat"] is True
    assert ledger.trial_balance(c.uow()).total == 0
    (level,) = json.loads(xinbao(c, "claims", "sla", "--json").stdout)["items"]
    assert (level["funder"], level["claims"], level["decided"], level["paid"]) == (
        "BANK-A", 1, 1, 1)
    assert level["automatic"] == 0  # a first-payment default: approved by a person
    assert level["payment_days_max"] == (date(2025, 7, 1) - date(2025, 5, 6)).days
