"""Content safety on web search and reader results: a keyword that one document of the
local index holds leaves that document out of the results, and a page that holds one is
refused with 1301 by the reader (zai-sdk against a real glmserve)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from zai import ZaiClient
from zai.core import APIStatusError

from tests.conftest import Server
from tests.e2e.search_site import Site
from tests.e2e.test_web_search import ADMIN, _results
from tests.search.corpus import write_corpus
from tests.support.scripted_glm import Script, build_scripted_glm


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("search-safety")
    docs = write_corpus(tmp)
    gguf = build_scripted_glm(tmp / "glm.gguf", [Script("Done.<|user|>")]).path
    config = tmp / "glmserve.toml"
    config.write_text(
        "[server]\ndefault_model = false\n\n"
        f'[platform]\nadmin_key = "{ADMIN}"\ndata_dir = "{tmp / "data"}"\n\n'
        f'[[models]]\ncode = "glm-4.7"\ngguf = "{gguf}"\ncontext_size = 2048\n\n'
        '[safety]\nkeywords = ["den near the bank", "background compaction"]\n\n'
        f'[search]\nbackend = "local"\n[search.local]\npaths = ["{docs}"]\n'
        'base_url = "https://docs.example.com/"\n'
        "[reader]\nallow_private_urls = true\ntimeout_seconds = 3.0\n"
    )
    running = Server(config, tmp / "server.log")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    pages = Site()
    yield pages
    pages.stop()


def _client(server: Server) -> ZaiClient:
    r = httpx.post(
        f"{server.base}/admin/keys",
        json={"name": "s", "tier": "V3"},
        headers={"Authorization": f"Bearer {ADMIN}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return ZaiClient(api_key=r.json()["api_key"], base_url=server.zai_base)


def test_a_blocked_result_is_left_out(server: Server) -> None:
    client = _client(server)
    results = _results(
        client.web_search.web_search(
            search_engine="search-prime", search_query="the river otters", count=50
        )
    )
    titles = [r["title"] for r in results]
    assert results and "River otter care" not in titles  # it holds "den near the bank"
    assert all("den near the bank" not in r["content"] for r in results)


def test_a_blocked_page_is_1301(server: Server, site: Site, tmp_path: Path) -> None:
    client = _client(server)
    with pytest.raises(APIStatusError) as caught:
        client.web_reader.web_reader(url=f"{site.base}/article.html")
    assert caught.value.status_code == 400 and "1301" in caught.value.response.text
