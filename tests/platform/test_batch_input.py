"""Reading a batch request and its input lines (platform/batch_input.py)."""

from __future__ import annotations

import json

import pytest

from glmserve.errors import GlmServeError
from glmserve.platform.batch_input import parse_batch_request, parse_lines


def _line(custom_id: str, url: str = "/v4/chat/completions", **extra: object) -> bytes:
    item = {"custom_id": custom_id, "method": "POST", "url": url, "body": {"model": "m"}}
    item.update(extra)
    return json.dumps(item).encode()


def test_bad_lines_are_errors_with_their_line_numbers() -> None:
    data = b"\n".join(
        [
            _line("a"),
            b"",  # blank lines are skipped, but counted in the numbering
            b"[1, 2]",
            _line("a"),
            _line("b", url="/v1/embeddings"),
            _line("c", method="GET"),
            _line("d", body="text"),
            json.dumps({"url": "/v4/chat/completions", "body": {}}).encode(),
            _line("e", url="/v1/chat/completions"),
        ]
    )
    good, bad = parse_lines(data, "/v4/chat/completions")
    assert [(g.line, g.custom_id) for g in good] == [(1, "a"), (9, "e")]
    assert [(e.line, e.code, e.param) for e in bad] == [
        (3, "1210", None),
        (4, "1214", "custom_id"),
        (5, "1214", "url"),
        (6, "1214", "method"),
        (7, "1213", "body"),
        (8, "1213", "custom_id"),
    ]
    assert bad[1].custom_id == "a" and bad[5].custom_id is None


def test_the_request_body_is_checked() -> None:
    ok = parse_batch_request({"input_file_id": "f", "endpoint": "/v1/chat/completions"})
    assert (ok.completion_window, ok.window_seconds, ok.auto_delete_input_file) == (
        "24h",
        86400,
        True,
    )
    bad = [
        ({"endpoint": "/v4/chat/completions"}, "1213"),
        ({"input_file_id": "f"}, "1213"),
        ({"input_file_id": "f", "endpoint": "/v4/images"}, "1214"),
        ({"input_file_id": "f", "endpoint": "/v4/embeddings", "auto_delete_input_file": 1}, "1214"),
        ({"input_file_id": "f", "endpoint": "/v4/embeddings", "metadata": {"k": 1}}, "1214"),
        ([], "1214"),
    ]
    for body, code in bad:
        with pytest.raises(GlmServeError) as err:
            parse_batch_request(body)
        assert err.value.code == code, body
