"""The audit trail: every fact recorded append-only, hash-chained, and a verifier.

Each record carries a sequence number (1, 2, 3, ... with no gaps), the hash of the record
before it, and its own hash over its canonical JSON and that previous hash. Editing a record
breaks its hash; deleting one leaves a gap and breaks the next record's link; moving one
breaks the links around it. The newest sequence number and hash are kept apart as the head,
so cutting records off the end is seen too. (Someone able to rewrite the whole chain and the
head could forge it; ``xinbao audit verify`` prints the head for anchoring outside.)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    name: str  # what happened, past tense: "PolicyIssued", "LoginFailed", "PiiUnmasked"
    aggregate: str  # what it happened to: "policy", "user", "application", ...
    aggregate_id: int | None
    occurred_on: date  # business date
    recorded_at: str  # wall-clock time, ISO 8601 UTC
    actor: str  # "user:li.na", "client:bank-a-1", "system:eod"
    data: dict[str, Any] = field(default_factory=dict)  # before/after, reason, amounts
    prev_hash: str = GENESIS
    hash: str = ""


def json_safe(data: dict[str, Any]) -> dict[str, Any]:
    """The data as it reads back from JSON storage (tuples become lists, keys strings), so
    that a record hashes the same before and after it is stored."""
    if _native(data):  # the common case: already as JSON gives it back
        return data
    safe: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return safe


def _native(value: Any) -> bool:
    """Whether JSON storage gives ``value`` back equal and of the same types."""
    if value is None or type(value) in (str, int, bool):
        return True
    if type(value) is float:
        return value == value and value not in (float("inf"), float("-inf"))
    if type(value) is list:
        return all(_native(v) for v in value)
    if type(value) is dict:
        return all(type(k) is str and _native(v) for k, v in value.items())
    return False


def canonical(record: AuditRecord) -> bytes:
    body = {"seq": record.seq, "name": record.name, "aggregate": record.aggregate,
            "aggregate_id": record.aggregate_id, "occurred_on": record.occurred_on.isoformat(),
            "recorded_at": record.recorded_at, "actor": record.actor, "data": record.data}
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      default=str).encode()


def record_hash(record: AuditRecord, prev_hash: str) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical(record)).hexdigest()


def chain(records: Iterable[AuditRecord], *, after_seq: int,
          after_hash: str) -> list[AuditRecord]:
    """Number and link new records onto a chain whose head is (after_seq, after_hash)."""
    out = []
    seq, prev = after_seq, after_hash
    for r in records:
        seq += 1
        numbered = AuditRecord(seq, r.name, r.aggregate, r.aggregate_id, r.occurred_on,
                               r.recorded_at, r.actor, r.data, prev_hash=prev)
        digest = record_hash(numbered, prev)
        out.append(AuditRecord(seq, r.name, r.aggregate, r.aggregate_id, r.occurred_on,
                               r.recorded_at, r.actor, r.data, prev_hash=prev, hash=digest))
        prev = digest
    return out


@dataclass(frozen=True, slots=True)
class ChainProblem:
    seq: int | None  # where (None: the head)
    kind: str  # "edited", "missing", "out-of-order", "broken-link", "head"
    message: str

    def __str__(self) -> str:
        where = f"record {self.seq}" if self.seq is not None else "head"
        return f"{where}: {self.kind}: {self.message}"


@dataclass(frozen=True, slots=True)
class ChainReport:
    records: int
    head_seq: int
    head_hash: str
    problems: tuple[ChainProblem, ...]

    @property
    def intact(self) -> bool:
        return not self.problems


def verify(records: Iterable[AuditRecord], *, head: tuple[int, str] | None) -> ChainReport:
    """Check records (as stored, in storage order) against their hashes, links and the head.

    Records are read in the order the store returns them (by row id), so a record moved to
    another place shows as out of order even if its sequence number was left alone."""
    problems: list[ChainProblem] = []
    expected_seq, prev, count = 1, GENESIS, 0
    last_seq, last_hash = 0, GENESIS
    for r in records:
        count += 1
        if r.seq != expected_seq:
            kind = "missing" if r.seq > expected_seq else "out-of-order"
            text = (f"expected record {expected_seq}, found {r.seq}"
                    + (" (records deleted)" if kind == "missing" else ""))
            problems.append(ChainProblem(r.seq, kind, text))
        if record_hash(r, r.prev_hash) != r.hash:
            problems.append(ChainProblem(r.seq, "edited",
                                         "its content does not match its hash"))
        if r.prev_hash != prev:
            problems.append(ChainProblem(r.seq, "broken-link",
                                         "it does not follow the record stored before it"))
        expected_seq, prev = r.seq + 1, r.hash
        last_seq, last_hash = r.seq, r.hash
    if head is not None and head != (last_seq, last_hash):
        problems.append(ChainProblem(None, "head", f"the head says record {head[0]} is the "
                                     f"newest, the chain ends at record {last_seq}"))
    return ChainReport(count, last_seq, last_hash, tuple(problems))
