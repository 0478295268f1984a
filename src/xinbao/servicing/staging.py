"""A funder's repayment file staged in the database and applied by set-based SQL (issue 21):
the rows go into a temporary table in bulk (``COPY … FROM STDIN`` on PostgreSQL, one
``executemany`` on SQLite), and each check against the book, the repeat marking, the write
into ``repayments`` and the move of each loan's first unpaid installment is one statement
over the whole file, joined to the loans' schedules and what was paid before. No row is a
Python object on the way.

The staging table lives in the caller's transaction: dropped at commit on PostgreSQL
(``ON COMMIT DROP``), made afresh for each file on SQLite (a temporary table is the
connection's own), so concurrent files never see each other's rows.
"""

from __future__ import annotations

import polars as pl
from sqlalchemy import Connection, text

_COLUMNS = ("row_no", "loan_id", "installment_number", "paid_on", "principal_fen",
            "interest_fen", "premium_fen", "reference")
#: The frame's columns (``batch.feeds.check``'s typed names) in ``_COLUMNS``' order.
_FROM_FRAME = ("_row", "loan_id", "installment_number_int", "paid_on_date", "principal_fen",
               "interest_fen", "premium_fen", "reference")

_PAID_BEFORE = """
    SELECT r.loan_id, r.installment_number, CAST(SUM(r.principal_fen) AS BIGINT) AS principal_fen,
           CAST(SUM(r.interest_fen) AS BIGINT) AS interest_fen
    FROM repayments r
    JOIN (SELECT DISTINCT loan_id, installment_number FROM feed_staging) k
      ON k.loan_id = r.loan_id AND k.installment_number = r.installment_number
    GROUP BY r.loan_id, r.installment_number"""

_OVERPAID = f"""
    WITH paid AS ({_PAID_BEFORE}),
    filed AS (
        SELECT s.row_no, s.loan_id, s.installment_number,
               CAST(SUM(s.principal_fen) OVER w AS BIGINT) AS principal_fen,
               CAST(SUM(s.interest_fen) OVER w AS BIGINT) AS interest_fen
        FROM feed_staging s WHERE NOT EXISTS (
            SELECT 1 FROM repayments r
            WHERE r.loan_id = s.loan_id AND r.reference = s.reference)
        WINDOW w AS (PARTITION BY s.loan_id, s.installment_number ORDER BY s.row_no))
    SELECT f.row_no, f.installment_number,
           i.principal_fen - COALESCE(p.principal_fen, 0),
           i.interest_fen - COALESCE(p.interest_fen, 0)
    FROM filed f
    JOIN installments i ON i.loan_id = f.loan_id AND i.number = f.installment_number
    LEFT JOIN paid p ON p.loan_id = f.loan_id AND p.installment_number = f.installment_number
    WHERE COALESCE(p.principal_fen, 0) + f.principal_fen > i.principal_fen
       OR COALESCE(p.interest_fen, 0) + f.interest_fen > i.interest_fen
    ORDER BY f.row_no"""

# The same when no installment is in the file twice (the common file): no running sums.
_OVERPAID_ONCE = f"""
    WITH paid AS ({_PAID_BEFORE})
    SELECT s.row_no, s.installment_number,
           i.principal_fen - COALESCE(p.principal_fen, 0),
           i.interest_fen - COALESCE(p.interest_fen, 0)
    FROM feed_staging s
    JOIN installments i ON i.loan_id = s.loan_id AND i.number = s.installment_number
    LEFT JOIN paid p ON p.loan_id = s.loan_id AND p.installment_number = s.installment_number
    WHERE NOT EXISTS (
        SELECT 1 FROM repayments r
        WHERE r.loan_id = s.loan_id AND r.reference = s.reference)
      AND (COALESCE(p.principal_fen, 0) + s.principal_fen > i.principal_fen
           OR COALESCE(p.interest_fen, 0) + s.interest_fen > i.interest_fen)
    ORDER BY s.row_no"""

_NO_PREMIUM_TERMS = """
    SELECT s.row_no FROM feed_staging s
    LEFT JOIN policies p ON p.loan_id = s.loan_id
    WHERE s.repeat = 0 AND s.premium_fen > 0
      AND (COALESCE(p.installment_premium_fen, 0) = 0 OR p.status <> 'in_force')
    ORDER BY s.row_no"""

_PREMIUM_DUE = """
    SELECT p.id, MAX(s.installment_number) FROM feed_staging s
    JOIN policies p ON p.loan_id = s.loan_id
    WHERE s.repeat = 0 AND p.installment_premium_fen > 0 AND p.status = 'in_force'
    GROUP BY p.id ORDER BY p.id"""

_MARK_REPEATS = """
    UPDATE feed_staging SET repeat = 1 WHERE EXISTS (
        SELECT 1 FROM repayments r
        WHERE r.loan_id = feed_staging.loan_id AND r.reference = feed_staging.reference)"""

_WRITE = """
    INSERT INTO repayments (loan_id, installment_number, paid_on, principal_fen,
                            interest_fen, reference)
    SELECT loan_id, installment_number, paid_on, principal_fen, interest_fen, reference
    FROM feed_staging WHERE repeat = 0 ORDER BY row_no"""

# What each loan the file touched has been paid, per installment, the file's rows included.
_PAID_NOW = """
    SELECT r.loan_id, r.installment_number, CAST(SUM(r.principal_fen) AS BIGINT) AS principal_fen,
           CAST(SUM(r.interest_fen) AS BIGINT) AS interest_fen
    FROM repayments r
    JOIN (SELECT DISTINCT loan_id FROM feed_staging WHERE repeat = 0) t ON t.loan_id = r.loan_id
    GROUP BY r.loan_id, r.installment_number"""

# Each touched loan's first unpaid installment after the file (NULL: all paid). An
# installment before the loan's current first unpaid one is paid already (repayments are
# never taken back), so only those from it on are looked at.
_FIRST_UNPAID = """
    INSERT INTO feed_touched (loan_id, first_unpaid_due_date, principal_paid_fen)
    SELECT u.loan_id, u.first_unpaid_due_date, r.principal_paid_fen
    FROM (SELECT i.loan_id, MIN(CASE WHEN i.principal_fen > COALESCE(p.principal_fen, 0)
                                       OR i.interest_fen > COALESCE(p.interest_fen, 0)
                                     THEN i.due_date END) AS first_unpaid_due_date
          FROM (SELECT DISTINCT loan_id FROM feed_staging WHERE repeat = 0) t
          JOIN loans ln ON ln.id = t.loan_id AND ln.first_unpaid_due_date IS NOT NULL
          JOIN installments i ON i.loan_id = t.loan_id
               AND i.due_date >= ln.first_unpaid_due_date
          LEFT JOIN feed_paid p ON p.loan_id = i.loan_id AND p.installment_number = i.number
          GROUP BY i.loan_id) u
    JOIN (SELECT loan_id, SUM(principal_fen) AS principal_paid_fen FROM feed_paid
          GROUP BY loan_id) r ON r.loan_id = u.loan_id"""

_MOVE_FIRST_UNPAID = """
    UPDATE loans SET first_unpaid_due_date = t.first_unpaid_due_date,
                     principal_paid_fen = t.principal_paid_fen
    FROM feed_touched t WHERE loans.id = t.loan_id"""


class SqlStagedRepayments:
    """``servicing.repository.StagedRepayments`` in SQL (see the module's docstring)."""

    def __init__(self, connection: Connection) -> None:
        self._c = connection
        self._pg = connection.dialect.name == "postgresql"

    def stage(self, rows: pl.DataFrame) -> None:
        if self._pg:
            # Each statement here is one pass over the file: compiling it to machine code
            # (PostgreSQL's JIT, past its cost threshold) took longer than running it.
            self._c.execute(text("SET LOCAL jit = off"))
        else:
            # The temporary tables' pages kept in memory (SQLite gives the temporary schema
            # 2 MB of cache, so a million staged rows went back and forth to a file).
            self._c.execute(text("PRAGMA temp.cache_size = -262144"))
        temp = "CREATE TEMPORARY TABLE"
        done = " ON COMMIT DROP" if self._pg else ""
        # SQLite: the row number the table's rowid, so the rows are kept in file order.
        row_no = "BIGINT NOT NULL" if self._pg else "INTEGER PRIMARY KEY"
        for sql in ("DROP TABLE IF EXISTS feed_staging", "DROP TABLE IF EXISTS feed_touched",
                    "DROP TABLE IF EXISTS feed_paid",
                    f"{temp} feed_staging (row_no {row_no}, loan_id BIGINT NOT NULL, "
                    "installment_number INTEGER NOT NULL, paid_on DATE NOT NULL, "
                    "principal_fen BIGINT NOT NULL, interest_fen BIGINT NOT NULL, "
                    "premium_fen BIGINT NOT NULL, reference VARCHAR(64) NOT NULL, "
                    f"repeat SMALLINT NOT NULL DEFAULT 0){done}",
                    f"{temp} feed_touched (loan_id BIGINT PRIMARY KEY, "
                    f"first_unpaid_due_date DATE, principal_paid_fen BIGINT NOT NULL){done}"):
            self._c.execute(text(sql))
        frame = rows.select(pl.col(a).alias(b) for a, b in zip(_FROM_FRAME, _COLUMNS,
                                                                strict=True))
        columns = ", ".join(_COLUMNS)
        raw = self._c.connection.driver_connection
        assert raw is not None
        if self._pg:
            with raw.cursor() as cursor, cursor.copy(
                    f"COPY feed_staging ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
                for lo in range(0, frame.height, 500_000):
                    copy.write(frame.slice(lo, 500_000).write_csv(include_header=False))
        else:
            marks = ", ".join("?" for _ in _COLUMNS)
            raw.executemany(f"INSERT INTO feed_staging ({columns}) VALUES ({marks})",
                            frame.with_columns(pl.col("paid_on").cast(pl.String)).iter_rows())
        self._c.execute(text("CREATE INDEX feed_staging_loan ON feed_staging "
                             "(loan_id, installment_number)"))
        if self._pg:
            self._c.execute(text("ANALYZE feed_staging"))

    def mark_repeats(self) -> pl.DataFrame:
        self._c.execute(text(_MARK_REPEATS))
        found = self._c.execute(text(
            "SELECT row_no FROM feed_staging WHERE repeat = 1 ORDER BY row_no")).scalars().all()
        return pl.DataFrame({"_row": found}, schema={"_row": pl.Int64})

    def overpaid(self, *, installments_once: bool = False) -> pl.DataFrame:
        found = self._c.execute(text(_OVERPAID_ONCE if installments_once
                                     else _OVERPAID)).all()
        return pl.DataFrame(found, schema={"_row": pl.Int64, "installment_number": pl.Int64,
                                           "principal_left_fen": pl.Int64,
                                           "interest_left_fen": pl.Int64}, orient="row")

    def premium_without_terms(self) -> pl.DataFrame:
        found = self._c.execute(text(_NO_PREMIUM_TERMS)).scalars().all()
        return pl.DataFrame({"_row": found}, schema={"_row": pl.Int64})

    def installment_premium_due(self) -> list[tuple[int, int]]:
        found = self._c.execute(text(_PREMIUM_DUE)).all()
        return [(int(policy), int(through)) for policy, through in found]

    def apply(self) -> int:
        written = self._c.execute(text(_WRITE)).rowcount
        done = " ON COMMIT DROP" if self._pg else ""
        self._c.execute(text(f"CREATE TEMPORARY TABLE feed_paid{done} AS {_PAID_NOW}"))
        self._c.execute(text("CREATE INDEX feed_paid_key ON feed_paid "
                             "(loan_id, installment_number)"))
        if self._pg:
            self._c.execute(text("ANALYZE feed_paid"))
        self._c.execute(text(_FIRST_UNPAID))
        self._c.execute(text(_MOVE_FIRST_UNPAID))
        return int(written)
