"""Routes of the agents API (docs/agents.md): ``POST /v1/agents``,
``/v1/agents/async-result`` and ``/v1/agents/conversation``, served under ``/api`` (the
documented paths) and under ``/api/paas/v4`` (where zai-sdk joins them to its base URL).

HTTP only: read the body, hand it to the agent room (serving/agents/), frame the answer.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from glmserve.api.body import json_body
from glmserve.api.deps import attempt, glmserve, principal
from glmserve.api.disconnect import until_disconnect
from glmserve.api.openapi import COMPLETION_ERRORS, documented
from glmserve.api.sse import sse_response
from glmserve.app import GlmServe
from glmserve.platform.admission import Attempt
from glmserve.platform.auth import Principal
from glmserve.protocol.agents import (
    AgentsBody,
    AgentsConversationBody,
    AgentsResultBody,
    parse_agent_request,
    parse_conversation_request,
    parse_result_request,
)

__all__ = ["router", "PREFIXES"]

PREFIXES = ("/api", "/api/paas/v4")

router = APIRouter()


@router.post("/v1/agents", **documented(AgentsBody, stream=True, errors=COMPLETION_ERRORS))
async def invoke(
    request: Request,
    app: GlmServe = Depends(glmserve),
    metered: Attempt = Depends(attempt),
    raw: Any = Depends(json_body),
) -> Response:
    agent_request = replace(parse_agent_request(raw), base_url=str(request.base_url))
    agents = app.agents
    if agents.runs_async(agent_request):
        # Long runs: stored now, run by the async task workers, fetched by async_id.
        row = await agents.submit(agent_request, metered.caller)
        await app.platform.tasks.submit(metered.caller, row)
        metered.hand_off()  # the worker's run writes the ledger record
        return JSONResponse(agents.accepted(row))
    started = await agents.start(agent_request, metered.caller, metered)
    if agent_request.stream:
        events = agents.events(started)
        return sse_response(events, app.settings.keepalive_seconds, started.run.cancel)
    body = await until_disconnect(request, agents.answer(started), started.run.cancel)
    return JSONResponse(body)


@router.post(
    "/v1/agents/async-result", **documented(AgentsResultBody, errors=(*COMPLETION_ERRORS, 404))
)
async def async_result(
    app: GlmServe = Depends(glmserve),
    caller: Principal = Depends(principal),
    raw: Any = Depends(json_body),
) -> dict[str, Any]:
    asked = parse_result_request(raw)
    return await app.agents.result(app.platform.tasks, caller, asked.async_id, asked.agent_id)


@router.post("/v1/agents/conversation", **documented(AgentsConversationBody, errors=(400, 404)))
async def conversation(
    app: GlmServe = Depends(glmserve),
    caller: Principal = Depends(principal),
    raw: Any = Depends(json_body),
) -> dict[str, Any]:
    agent_id, conversation_id = parse_conversation_request(raw)
    return await app.agents.history(caller, agent_id, conversation_id)
