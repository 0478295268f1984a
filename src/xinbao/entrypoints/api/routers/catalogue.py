"""Routes of the catalogue: products and funders."""

from __future__ import annotations

from fastapi import APIRouter

from xinbao.catalogue import queries as catalogue_queries
from xinbao.catalogue import services as catalogue
from xinbao.catalogue.commands import RegisterFunder
from xinbao.entrypoints.api.deps import ERRORS, Me, today
from xinbao.entrypoints.api.schemas.catalogue import FunderIn, FunderOut, ProductOut
from xinbao.entrypoints.api.schemas.common import stored

router = APIRouter(prefix="/v1", tags=["catalogue"], responses=ERRORS)


@router.get("/products", response_model=list[ProductOut])
def list_products(me: Me) -> list[ProductOut]:
    return [ProductOut.of(p) for p in catalogue_queries.list_products(me.uow())]


@router.post("/funders", response_model=FunderOut, status_code=201)
def register_funder(body: FunderIn, me: Me) -> FunderOut:
    """Register a funder under version 1 of its cooperation agreement."""
    cmd = RegisterFunder(**{**body.model_dump(), "products": tuple(body.products),
                            "effective_from": body.effective_from or today(),
                            "file_format": body.file_format.value,
                            "premium_collector": body.premium_collector.value})
    f = catalogue.register_funder(cmd, me.uow())
    return FunderOut(id=stored(f.id), code=f.code, name=f.name, kind=f.kind, licensed=f.licensed,
                     commission_rate=f.commission_rate, products=list(f.products),
                     agreement_version=1, effective_from=cmd.effective_from,
                     volume_share=cmd.volume_share, risk_share=cmd.risk_share,
                     settlement_days=cmd.settlement_days, file_format=body.file_format,
                     claim_notice_days=cmd.claim_notice_days,
                     premium_grace_days=cmd.premium_grace_days,
                     premium_collector=body.premium_collector)
