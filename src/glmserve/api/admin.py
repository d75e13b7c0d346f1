"""The admin API, behind the admin key: API keys and usage reports.

POST /admin/keys                 {"name", "tier", "balance"?}  -> the key, shown once
GET  /admin/keys
POST /admin/keys/{id}/revoke
POST /admin/keys/{id}/top-up     {"amount"}   (USD)
POST /admin/keys/{id}/safety     {"exempt": bool}  (may send sensitive_word_check DISABLE)
POST /admin/keys/{id}/status     {"status": "active"|"inactive"|"locked"|"suspended"|"restricted"}
POST /admin/keys/{id}/plan       {"plan": "lite"|null, "expires_at"?: Unix seconds}
POST /admin/keys/{id}/apis       {"apis": ["chat", "coding", ...] | null}  (others: 1220)
GET  /admin/keys/{id}/plan       the plan and its windows filling (docs/plans.md)
GET  /admin/usage?key=&model=&since=&until=&user_id=   (days as YYYY-MM-DD, UTC)
"""

from __future__ import annotations

import asyncio
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from glmserve.api.body import json_body
from glmserve.api.deps import admin, glmserve
from glmserve.api.openapi import documented
from glmserve.app import GlmServe
from glmserve.config.apis import ApiName
from glmserve.errors import InvalidField, InvalidRequest, MissingField, NotFound
from glmserve.platform.keys import MAX_BALANCE_NANO
from glmserve.platform.usage import nano_to_usd, usd_to_nano
from glmserve.store import KeyRow, UsageSummary

__all__ = ["router"]

router = APIRouter(dependencies=[Depends(admin)])

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MAX_USD = Decimal(MAX_BALANCE_NANO) / Decimal(10**9)

Usd = float | str
"""An amount in USD, a number or a decimal string ("2.50"), from 0 to 1,000,000,000."""


class CreateKeyBody(BaseModel):
    name: str
    tier: Literal["V0", "V1", "V2", "V3"] = "V0"
    balance: Usd | None = None


class TopUpBody(BaseModel):
    amount: Usd


class SafetyBody(BaseModel):
    exempt: bool


class StatusBody(BaseModel):
    status: Literal["active", "inactive", "locked", "suspended", "restricted"]


class ApisBody(BaseModel):
    apis: list[ApiName] | None


class PlanBody(BaseModel):
    plan: str | None
    expires_at: int | None = None


@router.post("/keys", **documented(CreateKeyBody, auth="admin"))
async def create_key(
    raw: Any = Depends(json_body), app: GlmServe = Depends(glmserve)
) -> dict[str, Any]:
    body = _object(raw)
    name, tier = body.get("name"), body.get("tier", "V0")
    if not isinstance(name, str):
        raise MissingField("name")
    if not isinstance(tier, str):
        raise InvalidField("tier", "must be one of V0, V1, V2, V3.")
    balance = body.get("balance")
    balance_nano = None if balance is None else _usd(balance, "balance")
    issued = await asyncio.to_thread(app.platform.keys.create, name, tier, balance_nano)
    return {**key_body(issued.row), "api_key": issued.api_key}


@router.get("/keys", **documented(auth="admin"))
async def list_keys(app: GlmServe = Depends(glmserve)) -> dict[str, Any]:
    rows = await asyncio.to_thread(app.platform.keys.list)
    return {"data": [key_body(r) for r in rows]}


@router.post("/keys/{key_id}/revoke", **documented(auth="admin", errors=(404,)))
async def revoke_key(key_id: str, app: GlmServe = Depends(glmserve)) -> dict[str, Any]:
    return key_body(await asyncio.to_thread(app.platform.keys.revoke, key_id))


@router.post("/keys/{key_id}/top-up", **documented(TopUpBody, auth="admin", errors=(404,)))
async def top_up(
    key_id: str, raw: Any = Depends(json_body), app: GlmServe = Depends(glmserve)
) -> dict[str, Any]:
    body = _object(raw)
    if body.get("amount") is None:
        raise MissingField("amount")
    amount = _usd(body["amount"], "amount")
    return key_body(await asyncio.to_thread(app.platform.keys.top_up, key_id, amount))


@router.post("/keys/{key_id}/safety", **documented(SafetyBody, auth="admin", errors=(404,)))
async def key_safety(
    key_id: str, raw: Any = Depends(json_body), app: GlmServe = Depends(glmserve)
) -> dict[str, Any]:
    """Allow a key (or no longer) to turn content safety off per request."""
    body = _object(raw)
    if body.get("exempt") is None:
        raise MissingField("exempt")
    exempt = body["exempt"]
    if not isinstance(exempt, bool):
        raise InvalidField("exempt", "must be true or false.")
    keys = app.platform.keys
    return key_body(await asyncio.to_thread(keys.set_safety_exempt, key_id, exempt))


@router.post("/keys/{key_id}/status", **documented(StatusBody, auth="admin", errors=(404,)))
async def key_status(
    key_id: str, raw: Any = Depends(json_body), app: GlmServe = Depends(glmserve)
) -> dict[str, Any]:
    status = _object(raw).get("status")
    if status is None:
        raise MissingField("status")
    if not isinstance(status, str):
        raise InvalidField("status", "must be a string.")
    keys = app.platform.keys
    return key_body(await asyncio.to_thread(keys.set_status, key_id, status))


@router.post("/keys/{key_id}/plan", **documented(PlanBody, auth="admin", errors=(404,)))
async def key_plan(
    key_id: str, raw: Any = Depends(json_body), app: GlmServe = Depends(glmserve)
) -> dict[str, Any]:
    body = _object(raw)
    if "plan" not in body:
        raise MissingField("plan")
    plan, expires = body["plan"], body.get("expires_at")
    if plan is not None and not isinstance(plan, str):
        raise InvalidField("plan", "must be a plan name or null.")
    if expires is not None and (isinstance(expires, bool) or not isinstance(expires, int)):
        raise InvalidField("expires_at", "must be a Unix time in seconds.")
    keys = app.platform.keys
    return key_body(await asyncio.to_thread(keys.set_plan, key_id, plan, expires))


@router.post("/keys/{key_id}/apis", **documented(ApisBody, auth="admin", errors=(404,)))
async def key_apis(
    key_id: str, raw: Any = Depends(json_body), app: GlmServe = Depends(glmserve)
) -> dict[str, Any]:
    body = _object(raw)
    if "apis" not in body:
        raise MissingField("apis")
    apis = body["apis"]
    if apis is not None and (
        not isinstance(apis, list) or not all(isinstance(a, str) for a in apis)
    ):
        raise InvalidField("apis", "must be a list of API names or null.")
    keys = app.platform.keys
    return key_body(await asyncio.to_thread(keys.set_apis, key_id, apis))


@router.get("/keys/{key_id}/plan", **documented(auth="admin", errors=(404,)))
async def key_plan_usage(key_id: str, app: GlmServe = Depends(glmserve)) -> dict[str, Any]:
    row = await asyncio.to_thread(app.platform.keys.get, key_id)
    if row is None:
        raise NotFound(f"API key {key_id!r} does not exist.")
    usage = await app.platform.plans.usage(row)
    return {"id": row.id, **(usage.body() if usage else {"plan": None})}


@router.get("/usage", **documented(auth="admin", errors=(400,)))
async def usage(
    key: str | None = None,
    model: str | None = None,
    since: str | None = None,
    until: str | None = None,
    user_id: str | None = None,
    app: GlmServe = Depends(glmserve),
) -> dict[str, Any]:
    for name, value in (("since", since), ("until", until)):
        if value is not None and not _is_day(value):
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
        "safety_exempt": row.safety_exempt,
        "status": row.status,
        "plan": row.plan,
        "plan_expires_at": row.plan_expires_at,
        "apis": row.apis.split(",") if row.apis is not None else None,
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


def _is_day(value: str) -> bool:
    if not _DAY.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return body


def _usd(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidField(field, 'must be an amount in USD, e.g. 10 or "2.50".')
    try:
        amount = Decimal(str(value))
    except (ArithmeticError, InvalidOperation):
        raise InvalidField(field, f"must be an amount in USD, got {value!r}.") from None
    if not amount.is_finite() or not 0 <= amount <= _MAX_USD:
        raise InvalidField(field, f"must be an amount from 0 to {_MAX_USD:,} USD, got {value!r}.")
    return usd_to_nano(amount)
