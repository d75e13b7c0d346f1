"""Media decoded within the limits (docs/limits.md, "Media"), measured from /proc.

A small video of many large frames used to have every frame decoded and kept before a
few were sampled (a 59 KB video added 2.2 GB); a tiny PDF with a huge page was rendered
before its pixel size was checked (331 bytes added 1.1 GB). Here the server's peak
resident memory (VmHWM) barely moves while it tokenizes each, and the page is refused
with a 1214 that says why.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pypdfium2 as pdfium
import pytest

from tests.conftest import Server
from tests.e2e.test_vision import MODEL, _start


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = _start(tmp_path_factory.mktemp("media-bounds"), "")
    yield srv
    srv.stop()


def _peak_kb(server: Server) -> int:
    status = Path(f"/proc/{server.proc.pid}/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))


def _long_video(seconds: int = 20, fps: int = 12) -> bytes:
    """720p frames, all alike: a small file of many large frames."""
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        pixels = np.full((720, 1280, 3), 90, np.uint8)
        for _ in range(seconds * fps):
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def _huge_page_pdf() -> bytes:
    document = pdfium.PdfDocument.new()
    document.new_page(14400, 14400)  # 200 inches a side: 19200 x 19200 pixels at 96 dpi
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _tokenize(server: Server, part: dict[str, Any]) -> httpx.Response:
    messages = [{"role": "user", "content": [part, {"type": "text", "text": "What is it?"}]}]
    return httpx.post(
        f"{server.zai_base}tokenizer", json={"model": MODEL, "messages": messages}, timeout=300
    )


def test_a_long_video_is_sampled_while_it_decodes(server: Server) -> None:
    data = _long_video()
    assert len(data) < 1024 * 1024
    url = "data:video/mp4;base64," + base64.b64encode(data).decode()
    before = _peak_kb(server)
    r = _tokenize(server, {"type": "video_url", "video_url": {"url": url}})
    grown_mb = (_peak_kb(server) - before) / 1024
    assert r.status_code == 200, r.text
    assert r.json()["usage"]["video_tokens"] > 0
    # 16 frames of 2.6 MB are kept at most, not the 240 the video has (630 MB)
    assert grown_mb < 250, f"the server's peak memory grew by {grown_mb:.0f} MB"


def test_a_huge_pdf_page_is_refused_before_it_is_rendered(server: Server) -> None:
    data = _huge_page_pdf()
    assert len(data) < 1024
    url = "data:application/pdf;base64," + base64.b64encode(data).decode()
    before = _peak_kb(server)
    r = _tokenize(server, {"type": "file_url", "file_url": {"url": url}})
    grown_mb = (_peak_kb(server) - before) / 1024
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "1214" and "19200x19200 pixels" in error["message"], error
    assert grown_mb < 100, f"the server's peak memory grew by {grown_mb:.0f} MB"
