"""Stand-ins for a real credit bureau adapter, loaded by import path as a deployment loads
one: ``XINBAO_BUREAU=tests.fakes.bureau:connect`` (docs/BUREAU.md)."""

from __future__ import annotations

from datetime import date

from xinbao.config import Settings
from xinbao.risk.model.bureau import Report, Standing
from xinbao.simulation.bureau import SimulatedBureau

CONNECT = "tests.fakes.bureau:connect"


class FixedBureau:
    """A bureau that knows everyone and finds them clean, naming itself ``test-bureau/2.1``."""

    name = "test-bureau"
    version = "2.1"

    def __init__(self, settings: Settings) -> None:
        self.environment = settings.environment
        self.asked: list[str] = []
        self.closed = False

    def query(self, id_number: str, on: date) -> Report | None:
        self.asked.append(id_number)
        return Report(f"TB-{id_number[-4:]}", on, 700, 1, 150_000, 2, Standing.CLEAN)

    def close(self) -> None:
        self.closed = True


def connect(settings: Settings) -> FixedBureau:
    return FixedBureau(settings)


class _Nameless:
    def query(self, id_number: str, on: date) -> Report | None:
        return None


def nameless(settings: Settings) -> _Nameless:
    """An adapter that does not say which bureau it is."""
    return _Nameless()


def simulated(settings: Settings) -> SimulatedBureau:
    """The simulated bureau under another import path."""
    return SimulatedBureau()


NOT_A_FACTORY = "a string"
