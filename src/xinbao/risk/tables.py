"""Risk tables: decisions, limit counters and the anti-fraud blacklist."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from xinbao.platform.tables import DecimalText, enum_column, fen_column, id_column, metadata

decisions = Table(
    "decisions", metadata,
    Column("application_id", ForeignKey("applications.id"), primary_key=True),
    enum_column("outcome", 20, index=True),
    Column("decided_on", Date, nullable=False),
    Column("decided_by", String(120), nullable=False),
    Column("reason_codes", String(1000), nullable=False),
    fen_column("requested_fen"),
    fen_column("approved_fen"),
    Column("annual_premium_rate", DecimalText()),
    Column("monthly_premium_rate", DecimalText()),
    Column("pd", DecimalText()),
    Column("score", Integer),
    Column("model", String(120), nullable=False),
    Column("rule_set_version", String(40), nullable=False),
    Column("params_version", String(40), nullable=False),
    # The credit bureau adapter that answered, "name/version" (migration 0007).
    Column("bureau_source", String(120), nullable=False),
    Column("detail", JSON, nullable=False),
    Column("reviews", JSON, nullable=False),
    Column("final", Boolean, nullable=False, index=True),
)

# Portfolio and regulatory limits as counters of retained liability (risk/model/exposure.py).
risk_counters = Table(
    "risk_counters", metadata,
    Column("dimension", String(20), primary_key=True),
    Column("key", String(80), primary_key=True),
    fen_column("cap_fen"),
    fen_column("used_fen"),
    fen_column("basis_fen"),  # the net assets the cap was set from
    Column("updated_on", Date, nullable=False),
)

blacklist = Table(
    "blacklist", metadata,
    id_column(),
    Column("field", String(20), nullable=False),
    Column("value_index", String(64), nullable=False),  # keyed blind index, never the value
    Column("reason", Text, nullable=False),
    Column("added_on", Date, nullable=False),
    Column("added_by", String(120), nullable=False),
    Column("active", Boolean, nullable=False),
    UniqueConstraint("field", "value_index"),
)
