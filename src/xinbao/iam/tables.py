"""IAM tables: users, console sessions, API clients (see ``platform/tables``)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
)

from xinbao.platform.tables import id_column, metadata

users = Table(
    "users", metadata,
    id_column(),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("roles", String(400), nullable=False),
    Column("funder_id", ForeignKey("funders.id")),
    Column("active", Boolean, nullable=False),
    Column("failed_logins", Integer, nullable=False),
    Column("locked_until", DateTime),
    Column("created_at", DateTime, nullable=False),
    Column("password_changed_at", DateTime, nullable=False),
)

user_sessions = Table(
    "user_sessions", metadata,
    id_column(),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", ForeignKey("users.id"), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("last_seen_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("revoked", Boolean, nullable=False),
)

api_clients = Table(
    "api_clients", metadata,
    id_column(),
    Column("client_id", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("funder_id", ForeignKey("funders.id")),
    Column("roles", String(400), nullable=False),
    Column("secret_hash", String(200), nullable=False),
    Column("previous_secret_hash", String(200)),
    Column("previous_valid_until", DateTime),
    Column("active", Boolean, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("rotated_at", DateTime),
)
