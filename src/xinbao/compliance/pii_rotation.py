"""Re-encrypting stored personal data with the active key after a key rotation.

Works in batches of rows, each its own transaction, so it can be stopped and run again; rows
already under the active key are left alone. The blind index key does not change, so the
indexes stay valid.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, bindparam, select, update

from xinbao.compliance.repository import UnitOfWork
from xinbao.kernel.events import Event
from xinbao.platform.crypto import PiiCipher
from xinbao.policy.tables import policies
from xinbao.underwriting.tables import applications

_COLUMNS = {
    applications: ("borrower_name", "borrower_id_number", "borrower_phone",
                     "borrower_bank_card", "device_id", "address", "employer"),
    policies: ("borrower_id_number",),
}
_FIELDS = {("policies", "borrower_id_number"): "policy_borrower_id_number"}
BATCH = 2_000


def reencrypt_all(engine: Engine, cipher: PiiCipher, uow: UnitOfWork) -> dict[str, int]:
    """Rows re-encrypted per table; ``uow`` records that it was done, for its actor."""
    counts = {}
    for table, columns in _COLUMNS.items():
        name = table.name
        statement = update(table).where(table.c.id == bindparam("b_id")).values(
            {c: bindparam(f"b_{c}") for c in columns})
        done, after = 0, 0
        while True:
            with engine.begin() as conn:
                rows = conn.execute(select(table.c.id, *(table.c[c] for c in columns))
                                    .where(table.c.id > after).order_by(table.c.id)
                                    .limit(BATCH)).all()
                if not rows:
                    break
                after = rows[-1].id
                changed = []
                for row in rows:
                    values = {c: getattr(row, c) for c in columns}
                    if not any(v and cipher.needs_rotation(v) for v in values.values()):
                        continue
                    changed.append({"b_id": row.id, **{
                        f"b_{c}": (cipher.rotate(v, field=_FIELDS.get((name, c), c))
                                   if v else v) for c, v in values.items()}})
                if changed:
                    conn.execute(statement, changed)
                done += len(changed)
        counts[name] = done
    with uow:
        uow.events.add([Event("PiiKeyRotated", "security", None, datetime.now(UTC).date(),
                              {"active_key": cipher.active_kid, **counts})])
        uow.commit()
    return counts
