"""The funder's files checked as columns (issue 21): the manifest first, then every row by
vectorized rules; 33 kinds of malformed row each rejected with its rule, good rows never,
nothing crashing; amounts in yuan to fen exactly."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from xinbao.batch import feeds, files
from xinbao.batch.feeds import FileType, Manifest
from xinbao.batch.files import FileRefused

DAY = date(2025, 6, 30)
LOANS = pl.DataFrame({"contract_no": ["LN-1", "LN-2", "LN-3"], "loan_id": [1, 2, 3],
                      "start_date": [date(2025, 1, 15)] * 3, "term_months": [12, 12, 6],
                      "status": ["active", "active", "paid_off"]})
HEADER = "contract_no,installment_number,paid_on,principal,interest,premium,reference"
GOOD = "LN-1,1,2025-02-15,1000.00,20.5,1.23,TX-{n}"

#: (what the row says, the rule it breaks): 33 kinds.
MALFORMED = [
    (",1,2025-02-15,10,1,,TX-{n}", "feed.required"),
    ("LN-9,1,2025-02-15,10,1,,TX-{n}", "feed.contract"),
    ("LN-\x011,1,2025-02-15,10,1,,TX-{n}", "feed.text"),
    ("L" * 65 + ",1,2025-02-15,10,1,,TX-{n}", "feed.text"),
    ("LN-1,,2025-02-15,10,1,,TX-{n}", "feed.required"),
    ("LN-1,abc,2025-02-15,10,1,,TX-{n}", "feed.integer"),
    ("LN-1,-1,2025-02-15,10,1,,TX-{n}", "feed.integer"),
    ("LN-1,1.5,2025-02-15,10,1,,TX-{n}", "feed.integer"),
    ("LN-1,0,2025-02-15,10,1,,TX-{n}", "feed.installment"),
    ("LN-1,13,2025-02-15,10,1,,TX-{n}", "feed.installment"),
    ("LN-1,１,2025-02-15,10,1,,TX-{n}", "feed.integer"),
    ("LN-1,1,,10,1,,TX-{n}", "feed.required"),
    ("LN-1,1,2025/02/15,10,1,,TX-{n}", "feed.date"),
    ("LN-1,1,2025-02-30,10,1,,TX-{n}", "feed.date"),
    ("LN-1,1,2025-13-01,10,1,,TX-{n}", "feed.date"),
    ("LN-1,1,２０２５-02-15,10,1,,TX-{n}", "feed.date"),
    ("LN-1,1,2025-07-01,10,1,,TX-{n}", "feed.after_business_date"),
    ("LN-1,1,2025-01-01,10,1,,TX-{n}", "feed.before_disbursement"),
    ("LN-1,1,2025-02-15,,1,,TX-{n}", "feed.required"),
    ("LN-1,1,2025-02-15,12.345,1,,TX-{n}", "feed.amount"),
    ("LN-1,1,2025-02-15,-5,1,,TX-{n}", "feed.amount"),
    ("LN-1,1,2025-02-15,1e5,1,,TX-{n}", "feed.amount"),
    ('LN-1,1,2025-02-15,"1,000.00",1,,TX-{n}', "feed.amount"),
    ("LN-1,1,2025-02-15,   ,1,,TX-{n}", "feed.required"),
    ("LN-1,1,2025-02-15,¥100,1,,TX-{n}", "feed.amount"),
    ("LN-1,1,2025-02-15,99999999999999,1,,TX-{n}", "feed.amount"),
    ("LN-1,1,2025-02-15,10,abc,,TX-{n}", "feed.amount"),
    ("LN-1,1,2025-02-15,10,,,TX-{n}", "feed.required"),
    ("LN-1,1,2025-02-15,10,1,0.001,TX-{n}", "feed.amount"),
    ("LN-1,1,2025-02-15,10,1,,", "feed.required"),
    ("LN-1,1,2025-02-15,0,0,,TX-{n}", "feed.nothing_paid"),
    ("LN-3,1,2025-02-15,10,1,,TX-{n}", "feed.loan_state"),
    ("LN-2,1,2025-02-15,10,1,,DUP", "feed.duplicate"),  # twice below
]


def _file(tmp_path: Path, lines: list[str], name: str = "repayments.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


def _manifest(rows: int, **totals: str) -> Manifest:
    return Manifest(FileType.REPAYMENTS, "BANK-A", DAY, rows,
                    {k: feeds.yuan_to_fen(v) for k, v in totals.items()})


def test_a_good_file_is_accepted_with_its_amounts_in_fen(tmp_path):
    path = _file(tmp_path, [GOOD.format(n=1), "LN-2,3,2025-04-15,1500,0.05,,TX-2"])

    checked = feeds.check(files.read(path), _manifest(2, principal="2500", interest="20.55"),
                          LOANS)

    assert checked.accepted, (checked.rejects, checked.refusals)
    assert checked.rows.select("loan_id", "installment_number_int", "principal_fen",
                               "interest_fen", "premium_fen").rows() == [
        (1, 1, 100_000, 2_050, 123), (2, 3, 150_000, 5, 0)]


def test_every_kind_of_malformed_row_is_rejected_with_its_rule_and_good_rows_never(tmp_path):
    rows, expected = [], {}
    for n in range(10_000):
        if n % 3 == 0:
            rows.append(GOOD.format(n=n))
            continue
        line, rule = MALFORMED[n % len(MALFORMED)]
        rows.append(line.format(n=n))
        expected[len(rows)] = rule
    assert len({rule for _, rule in MALFORMED}) >= 12 and len(MALFORMED) >= 30
    path = _file(tmp_path, rows)

    checked = feeds.check(files.read(path), _manifest(len(rows)), LOANS)

    assert not checked.accepted
    found = checked.rejects.group_by(feeds.ROW).agg(pl.col("rule"))
    rules_by_row = {r[feeds.ROW]: set(r["rule"]) for r in found.iter_rows(named=True)}
    assert set(rules_by_row) == set(expected)  # every bad row, and no good one
    assert all(expected[row] in rules for row, rules in rules_by_row.items()), [
        (row, expected[row], rules) for row, rules in rules_by_row.items()
        if expected[row] not in rules][:5]
    assert checked.rejects["message"].null_count() == 0


@pytest.mark.parametrize(("lines", "manifest", "rule"), [
    ([GOOD.format(n=1)], _manifest(2), "manifest.rows"),
    ([GOOD.format(n=1)], _manifest(1, principal="999.99"), "manifest.totals"),
])
def test_a_manifest_that_does_not_match_refuses_the_file(tmp_path, lines, manifest, rule):
    checked = feeds.check(files.read(_file(tmp_path, lines)), manifest, LOANS)

    assert not checked.accepted and [r for r, _ in checked.refusals] == [rule]


def test_unknown_or_missing_columns_and_unreadable_files_are_refused_whole(tmp_path):
    odd = tmp_path / "odd.csv"
    odd.write_text("contract_no,paid_on,colour\nLN-1,2025-02-15,red\n", encoding="utf-8")
    refusals = feeds.check(files.read(odd), _manifest(1), LOANS).refusals
    assert [r for r, _ in refusals] == ["feed.columns", "feed.columns"]
    assert "colour" in refusals[0][1] and "installment_number" in refusals[1][1]

    latin = tmp_path / "latin.csv"
    latin.write_bytes((HEADER + "\nLN-1,1,2025-02-15,1,1,,caf\xe9\n").encode("latin-1"))
    with pytest.raises(FileRefused) as refused:
        files.read(latin)
    assert refused.value.rule == "feed.encoding"
    ragged = _file(tmp_path, ["LN-1,1,2025-02-15,1,1,,TX-1,extra,more"], "ragged.csv")
    with pytest.raises(FileRefused) as refused:
        files.read(ragged)
    assert refused.value.rule == "feed.unreadable"


def test_a_funders_own_column_names_are_mapped_and_parquet_reads_the_same(tmp_path):
    theirs = tmp_path / "bank.csv"
    theirs.write_text("合同号,期数,还款日,本金,利息,保费,流水号\n"
                      "LN-1,1,2025-02-15,1000.00,20.5,1.23,TX-1\n", encoding="utf-8")
    mapping = {"合同号": "contract_no", "期数": "installment_number", "还款日": "paid_on",
               "本金": "principal", "利息": "interest", "保费": "premium",
               "流水号": "reference"}
    from_csv = feeds.check(files.read(theirs, mapping), _manifest(1), LOANS)
    as_parquet = tmp_path / "bank.parquet"
    files.read(theirs).drop(feeds.ROW).write_parquet(as_parquet)
    from_parquet = feeds.check(files.read(as_parquet, mapping), _manifest(1), LOANS)

    assert from_csv.accepted and from_parquet.accepted
    assert from_csv.rows.equals(from_parquet.rows)


def test_two_columns_of_one_name_once_mapped_or_our_row_number_refuse_the_file(
        tmp_path):
    both = tmp_path / "both.csv"
    both.write_text("合同号,contract_no\nLN-1,LN-1\n", encoding="utf-8")

    with pytest.raises(FileRefused) as refused:
        files.read(both, {"合同号": "contract_no"})

    assert refused.value.rule == "feed.mapping" and "contract_no" in refused.value.message
    ours = tmp_path / "ours.csv"
    ours.write_text("_row,contract_no\n1,LN-1\n", encoding="utf-8")
    with pytest.raises(FileRefused) as numbered:
        files.read(ours)
    assert numbered.value.rule == "feed.columns"


def test_the_same_content_under_another_name_has_the_same_hash(tmp_path):
    first = _file(tmp_path, [GOOD.format(n=1)], "a.csv")
    second = _file(tmp_path, [GOOD.format(n=1)], "b.csv")
    other = _file(tmp_path, [GOOD.format(n=2)], "c.csv")

    assert files.content_hash(first) == files.content_hash(second) != files.content_hash(other)


@given(st.integers(0, 10**13 - 1), st.integers(0, 99))
def test_yuan_become_fen_exactly(whole, cents):
    assert feeds.yuan_to_fen(f"{whole}.{cents:02d}") == whole * 100 + cents
    assert feeds.yuan_to_fen(f"{whole}") == whole * 100
    with pytest.raises(ValueError):
        feeds.yuan_to_fen(f"{whole}.{cents:02d}5")


def test_the_manifest_file_is_read_with_exact_totals(tmp_path):
    path = tmp_path / "repayments.manifest.json"
    path.write_text('{"type": "repayments", "funder": "BANK-A", "business_date": '
                    '"2025-06-30", "rows": 2, "totals": {"principal": "2500.10"}}',
                    encoding="utf-8")

    assert files.load_manifest(path) == Manifest(FileType.REPAYMENTS, "BANK-A", DAY, 2,
                                           {"principal": 250_010})
