"""The whole relational schema: every context's tables on the one ``MetaData``.

Each context declares its tables in its own ``tables.py`` on ``platform.tables.metadata``;
importing this module imports them all, for what needs the whole schema at once (Alembic's
environment, the check that the migrations build exactly these tables).
"""

from __future__ import annotations

from xinbao.batch import tables as batch
from xinbao.billing import tables as billing
from xinbao.catalogue import tables as catalogue
from xinbao.claims import tables as claims
from xinbao.iam import tables as iam
from xinbao.ledger import tables as ledger
from xinbao.loans import tables as loans
from xinbao.platform.tables import APPEND_ONLY, metadata
from xinbao.policy import tables as policy
from xinbao.risk import tables as risk
from xinbao.underwriting import tables as underwriting

#: The modules that declare the tables, one per context.
CONTEXTS = (iam, catalogue, ledger, loans, underwriting, policy, risk, claims, batch, billing)

__all__ = ["APPEND_ONLY", "CONTEXTS", "metadata"]
