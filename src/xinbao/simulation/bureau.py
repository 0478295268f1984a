"""A simulated credit bureau: the service behind the bureau adapter in the demo and tests.

A borrower the simulator registered gets the report the market drew for them (score, recent
inquiries, debt service: the same noisy view of their credit quality the market model
defines). Anyone else gets a stable report derived from a hash of the ID number, so the same
borrower always looks the same. Latency and failures can be set, to exercise the adapter's
timeout and error handling.

It is the development default (``XINBAO_BUREAU=simulated``, made by ``from_settings``) and
production refuses it unless ``XINBAO_ALLOW_SIMULATED_BUREAU=1`` (``config.py``,
``docs/BUREAU.md``). Its reports say ``simulated/1`` in every decision they enter.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from xinbao.config import SIMULATED_BUREAU, Settings
from xinbao.risk.model.bureau import Report, Standing


class BureauDown(RuntimeError):
    """The simulated service failed (as configured)."""


@dataclass
class SimulatedBureau:
    # The adapter's identity (risk/bureau.BureauService); not fields.
    name = SIMULATED_BUREAU
    version = "1"

    latency_s: float = 0.0
    failing: set[str] = field(default_factory=set)  # ID numbers whose query fails
    no_record_share: float = 0.03
    _known: dict[str, Report] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    queries: int = 0

    def register(self, id_number: str, report: Report | None) -> None:
        """Fix what the bureau says about a borrower (None: no record)."""
        with self._lock:
            self._known[id_number] = report  # type: ignore[assignment]

    def query(self, id_number: str, on: date) -> Report | None:
        with self._lock:
            self.queries += 1
            known = self._known.get(id_number, ...)
        if self.latency_s:
            time.sleep(self.latency_s)
        if id_number in self.failing:
            raise BureauDown(f"bureau service error for {id_number[:4]}…")
        if known is not ...:
            return known
        return self._derived(id_number, on)

    def _derived(self, id_number: str, on: date) -> Report | None:
        digest = hashlib.sha256(f"bureau:{id_number}".encode()).digest()
        g = np.random.default_rng(int.from_bytes(digest[:8], "big"))
        if g.random() < self.no_record_share:
            return None
        q = g.normal()
        # min/max, not np.clip: the same values at a tenth of the cost on scalars
        score = min(max(round(600 + 70 * (0.8 * q + 0.6 * g.normal())), 350), 900)
        u = g.random()
        standing = (Standing.WRITTEN_OFF if u < 0.005 else Standing.OVERDUE if u < 0.025
                    else Standing.CLEAN)
        return Report(report_id="SIM-" + digest[8:14].hex().upper(), as_of=on, score=score,
                      inquiries_6m=int(g.poisson(np.exp(0.4 - 0.5 * q))),
                      monthly_debt_fen=int(round(min(max(
                          1500 - 600 * q + 800 * g.normal(), 0.0), 20_000.0))) * 100,
                      open_accounts=int(g.integers(0, 6)), standing=standing)


def from_settings(settings: Settings) -> SimulatedBureau:
    """The bureau factory of ``XINBAO_BUREAU=simulated``: each query takes
    ``XINBAO_BUREAU_LATENCY_MS``."""
    return SimulatedBureau(latency_s=settings.bureau_latency_ms / 1000)
