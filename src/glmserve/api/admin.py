"""The admin API, behind the admin key: API keys and usage reports.

POST /admin/keys                 {"name", "tier", "balance"?}  -> the key, shown once
GET  /admin/keys
POST /admin/keys/{id}/revoke
POST /admin/keys/{id}/top-up     {"amount"}   (USD)
GET  /admin/usage?key=&model=&since=&until=&user_id=   (days as YYYY-MM-DD, UTC)
"""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Request

from glmserve.api.deps import admin, glmserve
from glmserve.app import GlmServe
from glmserve.errors import InvalidField, InvalidRequest, MissingField
from glmserve.platform.usage import nano_to_usd, usd_to_nano
from glmserve.store import KeyRow, UsageSummary

__all__ = ["router"]

router = APIRouter(dependencies=[Depends(admin)])

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@router.post("/keys")
async def create_key(request: Request, app: GlmServe = Depends(glmserve)) -> dict[str, Any]:
    body = await _json(request)
    name, tier = body.get("name"), body.get("tier", "V0")
    if not isinstance(name, str):
        raise MissingField("name")
    if not isinstance(tier, str):
        raise InvalidField("tier", "must be one of V0, V1, V2, V3.")
    balance = body.get("balance")
    balance_nano = None if balance is None else _usd(balance, "balance")
    issued = await asyncio.to_thread(app.platform.keys.create, name, tier, balance_nano)
    return {**key_body(issued.row), "api_key": issued.api_key}


@router.get("/keys")
async def list_keys(app: GlmServe = Depends(glmserve)) -> dict[str, Any]:
    rows = await asyncio.to_thread(app.platform.keys.list)
    return {"data": [key_body(r) for r in rows]}


@router.post("/keys/{key_id}/revoke")
async def revoke_key(key_id: str, app: GlmServe = Depends(glmserve)) -> dict[str, Any]:
    return key_body(await asyncio.to_thread(app.platform.keys.revoke, key_id))


@router.post("/keys/{key_id}/top-up")
async def top_up(
    key_id: str, request: Request, app: GlmServe = Depends(glmserve)
) -> dict[str, Any]:
    body = await _json(request)
    if body.get("amount") is None:
        raise MissingField("amount")
    amount = _usd(body["amount"], "amount")
    return key_body(await asyncio.to_thread(app.platform.keys.top_up, key_id, amount))


@router.get("/usage")
async def usage(
    key: str | None = None,
    model: str | None = None,
    since: str | None = None,
    until: str | None = None,
    user_id: str | None = None,
    app: GlmServe = Depends(glmserve),
) -> dict[str, Any]:
    for name, value in (("since", since), ("until", until)):
        if value is not None and not _DAY.match(value):
            raise InvalidField(name, f"must be a day as YYYY-MM-DD, got {value!r}.")
    rows = await asyncio.to_thread(app.platform.ledger.summary, key, model, since, until, user_id)
    return {"data": [summary_body(r) for r in rows]}


def key_body(row: KeyRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "tier": row.tier,
        "balance": None if row.balance_nano is None else nano_to_usd(row.balance_nano),
        "created_at": row.created_at,
        "revoked_at": row.revoked_at,
    }


def summary_body(row: UsageSummary) -> dict[str, Any]:
    return {
        "key": row.key_id,
        "model": row.model,
        "day": row.day,
        "requests": row.requests,
        "errors": row.errors,
        "cancelled": row.cancelled,
        "prompt_tokens": row.prompt_tokens,
        "cached_tokens": row.cached_tokens,
        "completion_tokens": row.completion_tokens,
        "reasoning_tokens": row.reasoning_tokens,
        "cost": nano_to_usd(row.cost_nano),
    }


async def _json(request: Request) -> dict[str, Any]:
    import json

    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return body


def _usd(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidField(field, 'must be an amount in USD, e.g. 10 or "2.50".')
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        raise InvalidField(field, f"must be an amount in USD, got {value!r}.") from None
    if not amount.is_finite() or amount < 0:
        raise InvalidField(field, f"must be a positive amount in USD, got {value!r}.")
    return usd_to_nano(amount)
