"""Adapters: the outside world behind the services' protocols.

- ``orm``: SQLAlchemy Core tables (the schema; Alembic migrations in ``migrations/``).
- ``repositories``: SQL repositories that map rows to domain objects and back.
- ``unit_of_work``: the SQL unit of work (one connection and transaction per use case).
- ``database``: engine creation (SQLite WAL + synchronous=FULL, or PostgreSQL).
- ``memory``: in-memory repositories and unit of work, the fakes for unit tests.
- ``parameters``: versioned business parameters loaded from ``xinbao/params/*.toml``.
"""
