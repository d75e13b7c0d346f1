"""The console's JSON routes: what the signed-in caller may see, and nothing more.

GET /console/api/me       who the key is: the admin key, an API key (its id, name,
                          tier, balance) or anyone (a server in open mode)
GET /console/api/usage    the usage report (?model=&since=&until=&user_id=, and for the admin
                          ?key=): a key's own rows, or every key's for the admin; the
                          rows of GET /admin/usage
GET /console/api/tasks    async tasks, newest first: the key's own, or all for the admin
GET /console/api/status   each served model: engine, context, capabilities, the engine's
                          counters and its remote workers' health

The admin's key actions (create, revoke, top-up) go to the admin API itself.
"""

from __future__ import annotations

import asyncio
import hmac
from dataclasses import asdict, dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request

from glmserve.api.admin import key_body
from glmserve.api.admin import usage as admin_usage
from glmserve.api.deps import glmserve, principal
from glmserve.app import GlmServe
from glmserve.platform.auth import Principal, read_credential
from glmserve.serving.models.registry import ServedModel

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Viewer:
    admin: bool
    key_id: str | None
    """The API key's id; None for the admin (who sees every key)."""


def viewer(request: Request) -> Viewer:
    """The admin key, or else whatever the API's own authentication makes of the
    credential (a 401 for a wrong or revoked key). Synchronous: it may read the database."""
    configured = glmserve(request).settings.platform.admin_key
    given = read_credential(request.headers).token
    if configured and given and hmac.compare_digest(given.encode(), configured.encode()):
        return Viewer(admin=True, key_id=None)
    caller: Principal = principal(request)
    return Viewer(admin=False, key_id=caller.key_id)


@router.get("/me")
async def me(app: GlmServe = Depends(glmserve), who: Viewer = Depends(viewer)) -> dict[str, Any]:
    row = None
    if who.key_id is not None:
        row = await asyncio.to_thread(app.platform.keys.get, who.key_id)
    plan = await app.platform.plans.usage(row) if row is not None else None
    return {
        "admin": who.admin,
        "open": app.settings.platform.open_access,
        "key_id": who.key_id,
        "key": None if row is None else key_body(row),
        "plan": None if plan is None else plan.body(),
    }


@router.get("/usage")
async def usage(
    key: str | None = None,
    model: str | None = None,
    since: str | None = None,
    until: str | None = None,
    user_id: str | None = None,
    app: GlmServe = Depends(glmserve),
    who: Viewer = Depends(viewer),
) -> dict[str, Any]:
    # Exactly the admin report, narrowed to the caller's own key unless admin.
    return await admin_usage(
        key=key if who.admin else who.key_id,
        model=model,
        since=since,
        until=until,
        user_id=user_id,
        app=app,
    )


@router.get("/tasks")
async def tasks(app: GlmServe = Depends(glmserve), who: Viewer = Depends(viewer)) -> dict[str, Any]:
    rows = await asyncio.to_thread(app.platform.tasks.list, who.key_id)
    return {"data": rows}


@router.get("/status")
async def status(
    app: GlmServe = Depends(glmserve), who: Viewer = Depends(viewer)
) -> dict[str, Any]:
    return {"data": [_model_status(model, who.admin) for model in app.models]}


def _model_status(model: ServedModel, admin: bool) -> dict[str, Any]:
    spec = model.spec
    stats = model.engine.stats()
    workers = [asdict(w) for w in model.engine.worker_stats()]
    shown = asdict(stats)
    if not admin:
        # The engine's pid and the workers' URLs (and errors, which name them) are the
        # operator's business, as on /health (docs/security.md).
        shown.pop("pid", None)
        for number, worker in enumerate(workers, 1):
            worker.update(url=f"worker {number}", last_error=None)
    return {
        "model": model.code,
        "engine": model.config.engine,
        "context_size": model.context_size,
        "max_running": model.config.max_running,
        "queue_limit": model.config.queue_limit,
        "template": model.template_origin,
        "capabilities": asdict(spec.capabilities),
        "price": None if spec.price is None else asdict(spec.price),
        "up": stats.pid is not None,
        "stats": shown,
        "kv_usage": _ratio(stats.kv_cells_used, stats.kv_cells),
        "cache_hit_ratio": _ratio(stats.cached_tokens, stats.prompt_tokens),
        "workers": workers,
    }


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0
