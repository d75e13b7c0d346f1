"""The vision MCP server end to end: the official MCP client SDK lists its tools (those
of Z.AI's vision MCP package) and calls them; a tiny vision model built at test time
(tests/support/tiny_vision.py) answers, exactly as the same chat request does."""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from PIL import Image

from glmserve.serving.web_search.mcp_vision import TASKS
from tests.conftest import Server
from tests.support.tiny_vision import build

ADMIN = "vision-mcp-admin-key-0123456789abcdef"
MODEL = "glm-4.6v"


@pytest.fixture(scope="module")
def vision(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("vision-mcp")
    model, mmproj = build(tmp / "model")
    config = tmp / "glmserve.toml"
    config.write_text(
        "[server]\ndefault_model = false\n\n"
        f'[platform]\nadmin_key = "{ADMIN}"\ndata_dir = "{tmp / "data"}"\n\n'
        f'[[models]]\ncode = "{MODEL}"\ngguf = "{model}"\nmmproj = "{mmproj}"\n'
        "context_size = 1024\ndefault_max_tokens = 8\nbatch_invariant = true\n"
    )
    server = Server(config, tmp / "server.log")
    yield server
    server.stop()


def _key(server: Server) -> str:
    r = httpx.post(
        f"{server.base}/admin/keys",
        json={"name": "vision", "tier": "V3"},
        headers={"Authorization": f"Bearer {ADMIN}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return str(r.json()["api_key"])


def _png_data_url(seed: int) -> str:
    pixels = np.random.default_rng(seed).integers(0, 256, (40, 48, 3), np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


async def _calls(url: str, key: str, calls: list[tuple[str, dict[str, Any]]]) -> Any:
    async with (
        create_mcp_http_client(headers={"Authorization": f"Bearer {key}"}) as http,
        streamable_http_client(url, http_client=http) as streams,
        ClientSession(streams[0], streams[1]) as session,
    ):
        await session.initialize()
        listed = await session.list_tools()
        results = [await session.call_tool(name, args) for name, args in calls]
        return listed, results


def test_vision_tools_are_answered_by_the_served_vision_model(vision: Server) -> None:
    key = _key(vision)
    image = _png_data_url(3)
    prompt = "What does this error say?"
    calls = [
        ("diagnose_error_screenshot", {"image_source": image, "prompt": prompt}),
        ("ui_diff_check", {"expected_image_source": image, "actual_image_source": image}),
        ("analyze_image", {"image_source": "/home/me/shot.png"}),
    ]
    url = f"{vision.base}/api/mcp/vision/mcp"
    listed, (diagnosed, diffed, local) = asyncio.run(_calls(url, key, calls))
    names = {t.name for t in listed.tools}
    assert names == {*TASKS, "ui_diff_check", "analyze_video"}
    assert not diagnosed.is_error and not diffed.is_error
    direct = httpx.post(
        f"{vision.zai_base}chat/completions",
        json={
            "model": MODEL,
            "messages": [
                {"role": "system", "content": TASKS["diagnose_error_screenshot"]},
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": image}},
                        {"type": "text", "text": prompt},
                    ],
                },
            ],
            "do_sample": False,
        },
        headers={"Authorization": f"Bearer {key}"},
        timeout=120,
    )
    assert direct.status_code == 200, direct.text
    answer = direct.json()["choices"][0]["message"]["content"]
    assert diagnosed.content[0].text == answer and answer
    assert diffed.content[0].text
    assert local.is_error and "cannot read a path on your disk" in local.content[0].text
    refused = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert refused.status_code == 401
