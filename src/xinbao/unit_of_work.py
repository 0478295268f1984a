"""The unit of work as the edges see it.

Each context's ``repository.py`` declares the narrow unit of work its use cases need;
``UnitOfWork`` here is all of them at once, for the edges (API, CLI, simulator) that call use
cases of every context. ``sql_unit_of_work.SqlUnitOfWork`` satisfies it, and so does the
in-memory fake the unit tests use.
"""

from __future__ import annotations

from typing import Protocol

from xinbao.batch import repository as batch
from xinbao.billing import repository as billing
from xinbao.compliance import repository as compliance
from xinbao.iam import repository as iam
from xinbao.iam.model.security import Principal
from xinbao.platform import repository as platform
from xinbao.reporting import repository as reporting
from xinbao.servicing import repository as servicing


# (risk comes with servicing: the end of day screens claims against the identity graph)
class UnitOfWork(servicing.UnitOfWork, billing.UnitOfWork, reporting.UnitOfWork, batch.UnitOfWork,
                 batch.OverrideUnitOfWork, compliance.UnitOfWork, iam.AccountsUnitOfWork,
                 platform.IdempotentUnitOfWork, Protocol):
    """Every context's unit of work in one: what the edges hand to any use case."""

    @property
    def actor(self) -> Principal: ...
