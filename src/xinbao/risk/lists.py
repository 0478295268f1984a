"""The anti-fraud lists: values that refer or decline an application on sight."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from xinbao.iam.access import authorize
from xinbao.iam.model.security import Action
from xinbao.kernel.errors import InvalidInput
from xinbao.kernel.events import Event
from xinbao.kernel.retries import retried
from xinbao.risk.model import antifraud
from xinbao.risk.repository import ListedValue, UnitOfWork


@dataclass(frozen=True, slots=True)
class ListValue:
    field: str
    value: str
    reason: str
    on: date


def _check_list_field(name: str) -> None:
    if name not in antifraud.FIELDS:
        raise InvalidInput.single("field", "AF-LIST-FIELD",
                                  f"field is one of {', '.join(antifraud.FIELDS)}")


@retried
def add_to_blacklist(cmd: ListValue, uow: UnitOfWork) -> bool:
    authorize(uow, Action.RISK_MANAGE)
    _check_list_field(cmd.field)
    if not cmd.value.strip() or len(cmd.reason.strip()) < 5:
        raise InvalidInput.single("reason", "AF-LIST-REASON",
                                  "a value and a reason of at least 5 characters are required")
    with uow:
        added = uow.blacklist.add(cmd.field, cmd.value.strip(), reason=cmd.reason.strip(),
                                  on=cmd.on, by=uow.actor.actor)
        uow.events.add([Event("ValueListed", "blacklist", None, cmd.on,
                              {"field": cmd.field, "reason": cmd.reason.strip()[:200]})])
        uow.commit()
    return added


@retried
def remove_from_blacklist(cmd: ListValue, uow: UnitOfWork) -> bool:
    authorize(uow, Action.RISK_MANAGE)
    _check_list_field(cmd.field)
    with uow:
        removed = uow.blacklist.remove(cmd.field, cmd.value.strip())
        if removed:
            uow.events.add([Event("ValueDelisted", "blacklist", None, cmd.on,
                                  {"field": cmd.field, "reason": cmd.reason.strip()[:200]})])
        uow.commit()
    return removed


def blacklist_entries(uow: UnitOfWork) -> list[ListedValue]:
    authorize(uow, Action.RISK_MANAGE)
    with uow:
        return uow.blacklist.entries()
