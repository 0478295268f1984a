"""Wire schemas of identity and access: access tokens, OAuth errors and who the caller is."""

from __future__ import annotations

from pydantic import BaseModel, Field


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="seconds")


class OAuthErrorOut(BaseModel):
    error: str
    error_description: str


class MeOut(BaseModel):
    actor: str
    kind: str
    roles: list[str]
    funder_id: int | None
    permissions: list[str]
