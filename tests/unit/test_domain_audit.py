"""The audit hash chain: any edit, deletion or reordering of a single record is found, and
the verifier says where."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from xinbao.kernel.audit import GENESIS, AuditRecord, chain, json_safe, record_hash, verify

N = 12


def trail(n: int = N) -> list[AuditRecord]:
    return chain((AuditRecord(0, f"Event{i}", "policy", i, date(2025, 1, 1 + i % 28),
                              "2025-01-01T00:00:00+00:00", f"user:u{i % 3}",
                              {"amount_fen": i * 100, "to": "in_force"})
                  for i in range(n)), after_seq=0, after_hash=GENESIS)


def head(records: list[AuditRecord]) -> tuple[int, str]:
    return records[-1].seq, records[-1].hash


def test_an_untouched_chain_verifies_with_its_head():
    records = trail()
    report = verify(records, head=head(records))
    assert report.intact and report.records == N and report.head_seq == N


def test_chaining_continues_from_a_head():
    first = trail(3)
    more = chain([replace(first[0], seq=0)], after_seq=3, after_hash=first[-1].hash)
    assert more[0].seq == 4 and more[0].prev_hash == first[-1].hash
    assert verify(first + more, head=head(more)).intact


_FIELDS = {
    "name": "Forged", "aggregate": "claim", "aggregate_id": 999,
    "occurred_on": date(2030, 1, 1), "recorded_at": "2030-01-01T00:00:00+00:00",
    "actor": "user:mallory", "data": {"amount_fen": 1},
}


@given(st.integers(0, N - 1), st.sampled_from(sorted(_FIELDS)))
def test_editing_any_field_of_any_record_is_found_at_that_record(index, field):
    records = trail()
    original = head(records)
    records[index] = replace(records[index], **{field: _FIELDS[field]})
    report = verify(records, head=original)
    assert not report.intact
    assert any(p.seq == index + 1 and p.kind == "edited" for p in report.problems)


@given(st.integers(0, N - 1))
def test_editing_a_record_and_recomputing_its_hash_breaks_the_next_link_or_the_head(index):
    records = trail()
    original = head(records)
    forged = replace(records[index], data={"amount_fen": 1})
    records[index] = replace(forged, hash=record_hash(forged, forged.prev_hash))
    report = verify(records, head=original)
    assert not report.intact
    assert any(p.seq == index + 2 and p.kind == "broken-link" for p in report.problems) or (
        index == N - 1 and any(p.kind == "head" for p in report.problems))


@given(st.integers(0, N - 1))
def test_deleting_any_single_record_is_found(index):
    records = trail()
    original = head(records)
    del records[index]
    report = verify(records, head=original)
    assert not report.intact
    if index < N - 1:
        assert any(p.kind == "missing" and p.seq == index + 2 for p in report.problems)
    else:
        assert [p.kind for p in report.problems] == ["head"]


@given(st.integers(0, N - 1), st.integers(0, N - 1))
def test_moving_any_record_to_another_place_is_found(source, target):
    records = trail()
    original = head(records)
    moved = records.pop(source)
    records.insert(target, moved)
    report = verify(records, head=original)
    assert report.intact is (source == target)
    if source != target:
        assert any(p.kind in ("out-of-order", "missing", "broken-link") for p in report.problems)


def test_renumbering_after_a_deletion_still_breaks_the_links():
    records = trail()
    original = head(records)
    del records[4]
    records = records[:4] + [replace(r, seq=r.seq - 1) for r in records[4:]]
    report = verify(records, head=original)
    assert any(p.kind in ("edited", "broken-link") for p in report.problems)


_leaves = (st.none() | st.booleans() | st.integers() | st.text(max_size=5)
           | st.floats(allow_nan=True, allow_infinity=True) | st.dates()
           | st.decimals(allow_nan=False, places=2))
_data = st.dictionaries(st.text(max_size=4) | st.integers(), st.recursive(
    _leaves, lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner)
    | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=8), max_size=4)


@given(_data)
def test_event_data_is_hashed_as_storage_gives_it_back(data):
    stored = json.loads(json.dumps(data, default=str))
    assert json.dumps(json_safe(data), sort_keys=True, default=str) == json.dumps(
        stored, sort_keys=True, default=str)
    assert json_safe({"amount_fen": 5, "codes": ["A"], "rate": Decimal("0.1")}) == {
        "amount_fen": 5, "codes": ["A"], "rate": "0.1"}
