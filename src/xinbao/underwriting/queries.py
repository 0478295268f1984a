"""Read-side use cases: applications, one, a page of a filtered list, or found by ID
number."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from xinbao.iam.access import authorize, own, tenant
from xinbao.iam.model.security import Action
from xinbao.kernel.errors import InvalidInput, require
from xinbao.kernel.events import Event
from xinbao.kernel.paging import Page, PageRequest
from xinbao.kernel.retries import retried
from xinbao.underwriting.model import Application
from xinbao.underwriting.repository import APPLICATION_SORTS, ApplicationFilter, UnitOfWork


def get_application(uow: UnitOfWork, application_id: int) -> Application:
    authorize(uow, Action.APPLICATION_READ)
    with uow:
        a = require(uow.applications.get(application_id), "application", application_id)
        own(uow, a.funder_id, "application", application_id)
        return a


def list_applications(uow: UnitOfWork, where: ApplicationFilter,
                      request: PageRequest) -> Page[Application]:
    """A page of the applications ``where`` selects; a funder's user sees only its own
    funder's, whatever funder the filter names."""
    authorize(uow, Action.APPLICATION_READ)
    if request.sort not in APPLICATION_SORTS:
        raise InvalidInput.single("sort", "list.sort",
                                  f"sort by one of {', '.join(APPLICATION_SORTS)}")
    bound = tenant(uow)
    if bound is not None:
        where = replace(where, funder_id=bound)
    with uow:
        return uow.applications.page(where, request)


@retried
def unmask_application(uow: UnitOfWork, application_id: int, *, reason: str,
                       on: date) -> Application:
    """The application for showing its personal data in full: needs pii.unmask and a stated
    reason, and the unmasking is recorded in the audit trail (who, what, why)."""
    authorize(uow, Action.PII_UNMASK)
    if len(reason.strip()) < 5:
        raise InvalidInput.single("reason", "SEC-UNMASK-REASON",
                                  "say why the full personal data is needed")
    with uow:
        a = require(uow.applications.get(application_id), "application", application_id)
        own(uow, a.funder_id, "application", application_id)
        uow.events.add([Event("PiiUnmasked", "application", application_id, on, {
            "fields": ["borrower_name", "borrower_id_number", "borrower_phone",
                       "borrower_bank_card"], "reason": reason.strip()[:200]})])
        uow.commit()
    return a


def find_applications(uow: UnitOfWork, *, id_number: str) -> list[Application]:
    """The applications of one borrower, by exact ID number (within the principal's
    tenant); the search is itself recorded in the audit trail, as a search by ID is a read
    of personal data."""
    authorize(uow, Action.APPLICATION_READ)
    with uow:
        found = [a for a in uow.applications.find_by_id_number(id_number)
                 if uow.actor.sees_funder(a.funder_id)]
        uow.events.add([Event("BorrowerSearched", "application", None, date.today(),
                              {"results": len(found)})])
        uow.commit()
    return found
