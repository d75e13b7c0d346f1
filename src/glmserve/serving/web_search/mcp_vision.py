"""The vision MCP server (``/api/mcp/vision/mcp``): the tools of Z.AI's vision MCP package,
answered by a vision model glmserve serves (docs/search.md, "Vision MCP server"). This is
how a coding tool that drives a text-only model sees screenshots.

Each tool is one chat completion on the first served model that takes images (the
catalog's vision capability and an engine that can see): a system prompt for the task,
the image (or video) and the caller's ``prompt``, greedy decoding. The completion is
admitted and recorded for the caller like any chat request. Images are URLs or
``data:`` URLs (a remote server cannot read a path on the client's disk).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from glmserve.errors import GlmServeError
from glmserve.platform.admission import Admission
from glmserve.platform.auth import Principal
from glmserve.platform.ids import tool_call_id
from glmserve.protocol.chat import parse_chat_request
from glmserve.protocol.responses import result_body
from glmserve.serving.models.registry import ModelRegistry
from glmserve.serving.run.completion import collect_result
from glmserve.serving.service import CompletionService

__all__ = ["TASKS", "vision_server"]

TASKS = {
    "analyze_image": "Describe and analyze the image in detail.",
    "extract_text_from_screenshot": (
        "Extract all text in the screenshot exactly as it appears, keeping its layout "
        "(code as code)."
    ),
    "diagnose_error_screenshot": (
        "The screenshot shows an error. Read the error message, explain its likely cause "
        "and give the steps to fix it."
    ),
    "understand_technical_diagram": (
        "Explain the technical diagram: its components, how they connect and what it shows."
    ),
    "analyze_data_visualization": (
        "Read the chart: its axes, series, values and the trends and insights it shows."
    ),
    "ui_to_artifact": (
        "Turn the user interface in the image into what the user asks for (code, a "
        "specification or a description), faithful to its layout and content."
    ),
}
"""Tool name -> the task the model is given for it (besides the caller's prompt)."""
_DIFF = (
    "Compare the two user-interface screenshots (expected first, actual second) and list "
    "every visual difference."
)
_VIDEO = "Describe and analyze the video."

Caller = Callable[[], Principal | None]


def vision_server(
    completions: CompletionService,
    models: ModelRegistry,
    admission: Admission,
    caller: Caller,
) -> MCPServer:
    server = MCPServer("vision", instructions="Image and video understanding (glmserve).")

    async def answer(task: str, parts: list[dict[str, Any]], prompt: str) -> str:
        who = caller()
        if who is None:
            raise ToolError("no authenticated caller")
        model = next(
            (m for m in models if m.spec.capabilities.vision and m.engine.supports_images), None
        )
        if model is None:
            raise ToolError("this server serves no vision model (docs/configuration.md, Vision)")
        for part in parts:
            url = str(part[part["type"]]["url"])
            if not url.startswith(("http://", "https://", "data:")):
                raise ToolError(
                    "1214: an image or video must be an http(s) or data: URL; a remote "
                    "server cannot read a path on your disk"
                )
        body = {
            "model": model.code,
            "messages": [
                {"role": "system", "content": task},
                {"role": "user", "content": [*parts, {"type": "text", "text": prompt}]},
            ],
            "do_sample": False,
        }
        metered = admission.attempt(who, "chat")
        try:
            chat = parse_chat_request(body, max_depth=completions.limits.max_json_depth)
            prepared = await completions.prepare_off_loop(chat)
            completion = await completions.start(prepared, metered)
            result = result_body(await collect_result(completion), tool_call_id)
        except GlmServeError as exc:
            metered.close(exc)
            raise ToolError(f"{exc.code}: {exc.message}") from None
        finally:
            metered.close()
        return str(result["choices"][0]["message"].get("content") or "")

    def image_tool(name: str, task: str) -> None:
        async def run(image_source: str, prompt: str = "") -> str:
            parts = [{"type": "image_url", "image_url": {"url": image_source}}]
            return await answer(task, parts, prompt or task)

        run.__name__ = name
        server.tool(name=name, description=task)(run)

    for name, task in TASKS.items():
        image_tool(name, task)

    @server.tool(name="ui_diff_check", description=_DIFF)
    async def ui_diff_check(
        expected_image_source: str, actual_image_source: str, prompt: str = ""
    ) -> str:
        parts = [
            {"type": "image_url", "image_url": {"url": expected_image_source}},
            {"type": "image_url", "image_url": {"url": actual_image_source}},
        ]
        return await answer(_DIFF, parts, prompt or _DIFF)

    @server.tool(name="analyze_video", description=_VIDEO)
    async def analyze_video(video_source: str, prompt: str = "") -> str:
        parts = [{"type": "video_url", "video_url": {"url": video_source}}]
        return await answer(_VIDEO, parts, prompt or _VIDEO)

    return server
