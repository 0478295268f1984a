"""Use cases: one function per command, each owning its transaction through a unit of work.

Services depend on the ``UnitOfWork`` protocol (``unit_of_work.py``), never on SQLAlchemy;
``xinbao.adapters`` provides the SQL implementation and ``xinbao.adapters.memory`` the in-memory
fake used by unit tests. A use case either commits everything it did (state changes, events
and journal entries) or nothing.
"""
