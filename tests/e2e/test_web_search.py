"""Web search and the web reader end to end: zai-sdk against a real glmserve process.

One server searches a local index over a folder of test documents (tests/search/
corpus.py) and reads pages served on 127.0.0.1 (``[reader] allow_private_urls``); a
second searches a stand-in for SearXNG speaking its documented JSON (SearXNG itself
cannot be installed here: tests/support/searxng.py) and reads with the default rules,
which refuse private addresses. Both are keyed: every call is in the ledger.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from mcp import ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import MCPServer
from mcp.shared._httpx_utils import create_mcp_http_client
from openai import OpenAI
from zai import ZaiClient
from zai.core import APIStatusError

from tests.conftest import Server, free_port
from tests.e2e.search_site import Site
from tests.search.corpus import write_corpus
from tests.support.scripted_glm import Script, build_scripted_glm
from tests.support.searxng import FakeSearxng, corpus

ADMIN = "search-admin-key-0123456789abcdef"
ANSWER = "River otters eat fish, crayfish and frogs [ref_1]."
TRIGGER = "SEARCHGROUNDED"
MCP_CALL = (
    "<tool_call>city_weather<arg_key>city</arg_key><arg_value>Paris</arg_value>"
    "</tool_call><|observation|>"
)
MCP_ANSWER = "It is 21 degrees in Paris."
SCRIPTS = [
    Script(MCP_ANSWER + "<|user|>", when="<tool_response>"),
    Script(ANSWER + "<|user|>", when=TRIGGER),
    Script(MCP_CALL, when="MCPWEATHER"),
    Script("Done.<|user|>"),
]
SEARCH_PROMPT = TRIGGER + " Answer from {{search_result}} and cite the sources."
QUESTION = "What do river otters eat?"


def _start(tmp: Path, search: str, reader: str) -> Server:
    gguf = build_scripted_glm(tmp / "scripted-glm.gguf", SCRIPTS).path
    config = tmp / "glmserve.toml"
    config.write_text(
        "[server]\ndefault_model = false\n\n"
        f'[platform]\nadmin_key = "{ADMIN}"\ndata_dir = "{tmp / "data"}"\n\n'
        f'[[models]]\ncode = "glm-4.7"\ngguf = "{gguf}"\ncontext_size = 4096\n\n'
        f"{search}\n{reader}\n"
    )
    return Server(config, tmp / "server.log", env={"GLMSERVE_PROMPT_LOG": str(tmp / "p.jsonl")})


def _key(server: Server) -> tuple[str, str]:
    r = httpx.post(
        f"{server.base}/admin/keys",
        json={"name": "search", "tier": "V3", "balance": 5},
        headers={"Authorization": f"Bearer {ADMIN}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return r.json()["id"], r.json()["api_key"]


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    pages = Site()
    yield pages
    pages.stop()


@pytest.fixture(scope="module")
def local_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("local-search")


@pytest.fixture(scope="module")
def local(local_dir: Path) -> Iterator[Server]:
    tmp = local_dir
    docs = write_corpus(tmp)
    server = _start(
        tmp,
        f'[search]\nbackend = "local"\n[search.local]\npaths = ["{docs}"]\n'
        'base_url = "https://docs.example.com/"\n',
        "[reader]\nallow_private_urls = true\ntimeout_seconds = 3.0\nmax_bytes = 200000\n",
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def searxng() -> Iterator[FakeSearxng]:
    fake = FakeSearxng(corpus())
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def searx(tmp_path_factory: pytest.TempPathFactory, searxng: FakeSearxng) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("searxng-search")
    server = _start(
        tmp, f'[search]\nbackend = "searxng"\n[search.searxng]\nurl = "{searxng.url}"\n', ""
    )
    yield server
    server.stop()


def _client(server: Server) -> tuple[ZaiClient, str]:
    key_id, key = _key(server)
    return ZaiClient(api_key=key, base_url=server.zai_base), key_id


def _results(response: Any) -> list[dict[str, Any]]:
    """zai-sdk types search_result as one object; the list stays whole as its raw value."""
    raw = response.model_dump() if hasattr(response, "model_dump") else dict(response)
    results = raw["search_result"]
    items = results if isinstance(results, list) else [results]
    # model_dump adds the fields the SDK declares and the body left out, as None
    return [{k: v for k, v in item.items() if v is not None} for item in items]


def _usage(server: Server, key_id: str, rows: int) -> list[dict[str, Any]]:
    for _ in range(100):  # records are written once each response is over
        usage = httpx.get(
            f"{server.base}/admin/usage",
            params={"key": key_id},
            headers={"Authorization": f"Bearer {ADMIN}"},
            timeout=10,
        ).json()["data"]
        if sum(row["requests"] for row in usage) >= rows:
            return usage  # type: ignore[no-any-return]
    raise AssertionError(f"the ledger has {usage}")


def test_local_index_top_results_filters_and_billing(local: Server) -> None:
    client, key_id = _client(local)
    r = client.web_search.web_search(
        search_engine="search-prime", search_query="what do river otters eat", count=3
    )
    results = _results(r)
    assert r.id and r.created and r.request_id
    top = results[0]
    assert top["title"] == "River otter care" and top["refer"] == "ref_1"
    assert top["link"] == "https://docs.example.com/guides/otters.md"
    assert top["publish_date"] == "2026-10-01" and top["media"] == "docs.example.com"
    assert "fish" in top["content"] and len(results) <= 3
    assert [x["refer"] for x in results] == [f"ref_{i}" for i in range(1, len(results) + 1)]

    one = _results(
        client.web_search.web_search(search_engine="search_pro", search_query="the", count=1)
    )
    assert len(one) == 1
    domain = _results(
        client.web_search.web_search(
            search_engine="search_std",
            search_query="the",
            count=50,
            search_domain_filter="kestrel.example.org",
        )
    )
    assert [x["link"] for x in domain] == ["https://kestrel.example.org/notes/2.0"]
    recent = _results(
        client.web_search.web_search(
            search_engine="search-prime",
            search_query="lighthouse lamp otters",
            search_recency_filter="oneYear",
            content_size="high",
            search_intent=True,
        )
    )
    assert "Lighthouse keeping" not in [x["title"] for x in recent] and recent
    usage = _usage(local, key_id, 4)
    rows = {row["model"]: row for row in usage}
    assert rows["search-prime"]["requests"] == 2
    assert rows["search-prime"]["cost"] == "0.020000000"  # $0.01 a call (catalog)
    assert rows["search_pro"]["cost"] == rows["search_std"]["cost"] == "0.010000000"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"search_engine": "search-prime", "search_query": ""}, "search_query"),
        ({"search_engine": "search-prime", "search_query": "x", "count": 0}, "count"),
        ({"search_engine": "search-prime", "search_query": "x", "count": 51}, "count"),
        ({"search_engine": "bing", "search_query": "x"}, "search_engine"),
        (
            {"search_engine": "search-prime", "search_query": "x", "search_recency_filter": "1d"},
            "search_recency_filter",
        ),
        (
            {"search_engine": "search-prime", "search_query": "x", "content_size": "huge"},
            "content_size",
        ),
    ],
)
def test_bad_search_input_names_the_field(local: Server, body: dict[str, Any], field: str) -> None:
    _, key = _key(local)
    r = httpx.post(
        f"{local.zai_base}web_search", json=body, headers={"Authorization": f"Bearer {key}"}
    )
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "1214" and field in r.json()["error"]["message"]
    missing = httpx.post(
        f"{local.zai_base}web_search", json={}, headers={"Authorization": f"Bearer {key}"}
    )
    assert missing.json()["error"]["code"] == "1213"
    assert httpx.post(f"{local.zai_base}web_search", json=body).status_code == 401


def test_searxng_results_count_and_filters(searx: Server, searxng: FakeSearxng) -> None:
    client, _ = _client(searx)
    results = _results(
        client.web_search.web_search(search_engine="search-prime", search_query="glacier", count=25)
    )
    assert len(results) == 25
    assert results[0]["link"] == "https://news.example.com/page/0"
    assert results[0]["content"].startswith("Snippet 0") and results[0]["refer"] == "ref_1"
    assert searxng.seen[-1]["pageno"] == ["2"]  # a second page for the 25th result
    filtered = _results(
        client.web_search.web_search(
            search_engine="search_pro",
            search_query="glacier",
            search_domain_filter="docs.example.org",
            search_recency_filter="oneWeek",
            include_image=True,
        )
    )
    assert filtered and all(x["link"].startswith("https://docs.example.org/") for x in filtered)
    assert searxng.seen[-1]["time_range"] == ["week"]
    assert filtered[0]["images"] == [filtered[0]["link"].replace("/page/", "/img/") + ".png"]


def test_searxng_down_is_1234_not_a_hang(searx: Server, searxng: FakeSearxng) -> None:
    client, _ = _client(searx)
    searxng.disable_json()  # an instance without the JSON format answers HTML
    with pytest.raises(APIStatusError) as info:
        client.web_search.web_search(search_engine="search-prime", search_query="glacier")
    assert info.value.status_code == 500
    assert info.value.response.json()["error"]["code"] == "1234"
    assert f"SearXNG at {searxng.url} did not answer JSON" in searx.output()


def test_reader_extracts_main_content_and_options(local: Server, site: Site) -> None:
    client, key_id = _client(local)
    page = client.web_reader.web_reader(url=f"{site.base}/article.html", return_format="markdown")
    result = page.reader_result
    assert result is not None and result.content is not None
    assert result.title == "Kestrel 2.0 release notes"
    assert result.url == "https://kestrel.example.org/notes/2.0"  # the canonical URL
    assert result.published_time == "2026-11-20"
    assert "background compaction" in result.content
    assert "| 2.0 | 2026-11-20 |" in result.content  # the table, as GFM
    assert "kestrel compact --level 3 --dry-run" in result.content  # the code
    assert "Copyright" not in result.content and "About us" not in result.content
    assert "![Architecture diagram]" in result.content  # retain_images defaults to true

    text = client.web_reader.web_reader(
        url=f"{site.base}/article.html",
        return_format="text",
        retain_images=False,
        no_gfm=True,
        with_links_summary=True,
        with_images_summary=True,
        no_cache=True,
    ).reader_result
    assert text is not None and text.content is not None
    assert "|" not in text.content and "![" not in text.content and "#" not in text.content
    assert text.links == {
        "Home": f"{site.base}/",
        "About us": f"{site.base}/about",
        "Blog": f"{site.base}/blog",
    }
    assert text.images == {"Architecture diagram": f"{site.base}/img/arch.png"}

    pdf = client.web_reader.web_reader(url=f"{site.base}/guide.pdf").reader_result
    assert pdf is not None and pdf.title == "Heron field guide"
    assert pdf.content is not None and "herons migrate south" in pdf.content
    redirected = client.web_reader.web_reader(url=f"{site.base}/redirect").reader_result
    assert redirected is not None and redirected.title == "Kestrel 2.0 release notes"

    before = site.hits.get("/article.html", 0)
    client.web_reader.web_reader(url=f"{site.base}/article.html", return_format="markdown")
    assert site.hits.get("/article.html", 0) == before  # answered from the cache
    client.web_reader.web_reader(url=f"{site.base}/article.html", no_cache=True)
    assert site.hits["/article.html"] == before + 1
    rows = {row["model"]: row for row in _usage(local, key_id, 6)}
    assert rows["web-reader"]["requests"] == 6


@pytest.mark.parametrize(
    ("path", "said"),
    [
        ("/big.html", "larger than 200000 bytes"),
        ("/slow.html", "did not arrive within 3 seconds"),
        ("/data.json", "application/json"),
    ],
)
def test_reader_refuses_what_it_cannot_read(
    local: Server, site: Site, path: str, said: str
) -> None:
    client, _ = _client(local)
    with pytest.raises(APIStatusError) as info:
        client.web_reader.web_reader(url=f"{site.base}{path}", no_cache=True)
    assert info.value.status_code == 400
    error = info.value.response.json()["error"]
    assert error["code"] == "1214" and said in error["message"]


def test_reader_refuses_private_addresses_and_other_schemes(searx: Server, site: Site) -> None:
    client, _ = _client(searx)  # this server keeps the default: no private addresses
    with pytest.raises(APIStatusError) as info:
        client.web_reader.web_reader(url=f"{site.base}/article.html")
    error = info.value.response.json()["error"]
    assert error["code"] == "1214" and "resolves to a non-public address" in error["message"]
    with pytest.raises(APIStatusError) as info:
        client.web_reader.web_reader(url="file:///etc/passwd")
    assert "only http and https" in info.value.response.json()["error"]["message"]


def test_no_back_end_is_a_clear_error(hardened: Server) -> None:
    r = httpx.post(
        f"{hardened.zai_base}web_search",
        json={"search_engine": "search-prime", "search_query": "x"},
    )
    assert r.status_code == 400
    assert (
        r.json()["error"]["code"] == "1220" and "[search] backend" in r.json()["error"]["message"]
    )


def _prompts(local_dir: Path) -> list[str]:
    lines = (local_dir / "p.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def _tool(**extra: Any) -> dict[str, Any]:
    options = {"enable": True, "search_result": True, "search_prompt": SEARCH_PROMPT, "count": 3}
    return {"type": "web_search", "web_search": {**options, **extra}}


def test_chat_web_search_grounds_the_answer_and_returns_the_results(
    local: Server, local_dir: Path
) -> None:
    client, key_id = _client(local)
    response = client.chat.completions.create(
        model="glm-4.7",
        messages=[{"role": "user", "content": QUESTION}],
        tools=[_tool()],
        thinking={"type": "disabled"},
    )
    assert response.choices[0].message.content == ANSWER
    shown = (response.model_extra or {})["web_search"]
    direct = _results(
        client.web_search.web_search(search_engine="search-prime", search_query=QUESTION, count=3)
    )
    assert shown == direct and shown[0]["title"] == "River otter care"
    prompt = _prompts(local_dir)[-1]
    assert prompt.startswith(
        f"[gMASK]<sop><|system|>{TRIGGER} Answer from [ref_1] River otter care\n"
        "Source: https://docs.example.com/guides/otters.md (2026-10-01)\n"
    )
    assert "and cite the sources." in prompt and f"<|user|>{QUESTION}" in prompt
    assert "web_search" not in prompt  # the model sees the results, not the tool
    rows = {row["model"]: row for row in _usage(local, key_id, 3)}
    assert rows["search-prime"]["requests"] == 2 and rows["glm-4.7"]["requests"] == 1
    assert rows["search-prime"]["cost"] == "0.020000000"


def test_chat_web_search_streams_on_v1_with_string_flags(local: Server) -> None:
    client, _ = _client(local)
    openai = OpenAI(api_key=client.api_key, base_url=f"{local.base}/v1")
    # Z.AI's own guide sends the flags and the count as strings.
    tool = _tool(enable="True", search_result="True", count="2")
    chunks = list(
        openai.chat.completions.create(
            model="glm-4.7",
            messages=[{"role": "user", "content": QUESTION}],
            tools=[tool],  # type: ignore[list-item]
            stream=True,
            extra_body={"thinking": {"type": "disabled"}},
        )
    )
    first = chunks[0].model_extra or {}
    direct = _results(
        client.web_search.web_search(search_engine="search-prime", search_query=QUESTION, count=2)
    )
    assert first["web_search"] == direct and direct[0]["title"] == "River otter care"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == ANSWER
    assert all("web_search" not in (c.model_extra or {}) for c in chunks[1:])


def test_chat_web_search_on_the_coding_endpoint_beside_function_tools(
    local: Server, local_dir: Path
) -> None:
    _, key = _key(local)
    forecast = {"type": "function", "function": {"name": "forecast", "parameters": {}}}
    body = {
        "model": "glm-4.7",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "x"}],
        "tools": [forecast, _tool(search_query="crocus stigmas", result_sequence="after")],
        "stream": True,
        "tool_stream": True,
    }
    r = httpx.post(
        f"{local.base}/api/coding/paas/v4/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {key}"},
        timeout=120,
    )
    assert r.status_code == 200, r.text
    events = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: {")]
    with_results = [i for i, e in enumerate(events) if "web_search" in e]
    assert with_results == [len(events) - 2]  # after the answer, before the finish chunk
    assert events[-2]["web_search"][0]["title"] == "Saffron harvest"
    prompt = _prompts(local_dir)[-1]
    assert f"Be brief.\n\n{TRIGGER} Answer from [ref_1] Saffron harvest\n" in prompt
    assert '"name": "forecast"' in prompt  # the function tool is still shown


def test_chat_web_search_errors(local: Server, hardened: Server) -> None:
    client, _ = _client(local)
    with pytest.raises(APIStatusError) as info:
        client.chat.completions.create(
            model="glm-4.7",
            messages=[{"role": "user", "content": QUESTION}],
            tools=[_tool(count=99)],
        )
    assert info.value.response.json()["error"]["code"] == "1214"
    assert "tools[0].web_search.count" in info.value.response.json()["error"]["message"]
    body = {
        "model": "gemma-3-270m",
        "messages": [{"role": "user", "content": QUESTION}],
        "tools": [_tool()],
    }
    r = httpx.post(f"{hardened.zai_base}chat/completions", json=body)
    assert r.status_code == 400 and "[search] backend" in r.json()["error"]["message"]
    r = httpx.post(f"{hardened.zai_base}async/chat/completions", json=body)
    assert r.status_code == 400 and "web_search" in r.json()["error"]["message"]


async def _mcp(url: str, key: str | None, tool: str, arguments: dict[str, Any]) -> Any:
    """List the server's tools and call one, with the official MCP client SDK."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with (
        create_mcp_http_client(headers=headers) as http,
        streamable_http_client(url, http_client=http) as streams,
        ClientSession(streams[0], streams[1]) as session,
    ):
        await session.initialize()
        listed = await session.list_tools()
        result = await session.call_tool(tool, arguments)
        return listed, result


def test_mcp_servers_list_and_call_their_tools_with_a_key(local: Server, site: Site) -> None:
    key_id, key = _key(local)
    url = f"{local.base}/api/mcp/web_search_prime/mcp"
    listed, result = asyncio.run(_mcp(url, key, "webSearchPrime", {"search_query": QUESTION}))
    assert [t.name for t in listed.tools] == ["webSearchPrime"]
    schema = listed.tools[0].input_schema
    assert (
        schema["required"] == ["search_query"] and "search_recency_filter" in schema["properties"]
    )
    assert not result.is_error
    found = json.loads(result.content[0].text)
    assert found[0]["title"] == "River otter care" and found[0]["refer"] == "ref_1"

    url = f"{local.base}/api/mcp/web_reader/mcp"
    arguments = {"url": f"{site.base}/article.html", "with_links_summary": True}
    listed, result = asyncio.run(_mcp(url, key, "webReader", arguments))
    assert [t.name for t in listed.tools] == ["webReader"]
    page = json.loads(result.content[0].text)
    assert page["title"] == "Kestrel 2.0 release notes" and "compaction" in page["content"]
    assert page["links"]["About us"] == f"{site.base}/about"
    rows = {row["model"]: row for row in _usage(local, key_id, 2)}
    assert rows["search-prime"]["requests"] == 1 and rows["web-reader"]["requests"] == 1

    refused = asyncio.run(_mcp(url, key, "webReader", {"url": "ftp://example.com/x"}))[1]
    assert refused.is_error and "1214" in refused.content[0].text


def test_mcp_servers_refuse_callers_without_a_key(local: Server) -> None:
    url = f"{local.base}/api/mcp/web_search_prime/mcp"
    r = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "1001"
    bad = httpx.post(url, json={}, headers={"Authorization": "Bearer nope.nope"})
    assert bad.status_code == 401
    with pytest.raises(BaseException):  # noqa: B017 - the SDK raises its transport error
        asyncio.run(_mcp(url, None, "webSearchPrime", {"search_query": "x"}))


@pytest.fixture(scope="module")
def claude_code() -> Path:
    """The pinned Claude Code (scripts/install-claude-code.sh, as test_claude_code.py)."""
    if shutil.which("npm") is None:
        pytest.skip("npm (Node.js 18+) is needed to install Claude Code")
    script = Path(__file__).resolve().parents[2] / "scripts" / "install-claude-code.sh"
    done = subprocess.run([str(script)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip())


def test_claude_code_adds_the_mcp_servers_and_reports_them_connected(
    local: Server, claude_code: Path, tmp_path: Path
) -> None:
    _, key = _key(local)
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "TERM", "TMPDIR")}
    env = {
        **keep,
        "HOME": str(tmp_path),
        "CLAUDE_CONFIG_DIR": str(tmp_path / ".claude"),
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
    }
    for name, path in (("web-search-prime", "web_search_prime"), ("web-reader", "web_reader")):
        added = subprocess.run(
            [str(claude_code), "mcp", "add", "-s", "user", "-t", "http", name,
             f"{local.base}/api/mcp/{path}/mcp", "--header", f"Authorization: Bearer {key}"],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert added.returncode == 0, added.stdout + added.stderr
    listed = subprocess.run(
        [str(claude_code), "mcp", "list"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stdout + listed.stderr
    lines = listed.stdout.splitlines()
    for name, path in (("web-search-prime", "web_search_prime"), ("web-reader", "web_reader")):
        (line,) = [x for x in lines if x.startswith(f"{name}:")]
        assert f"/api/mcp/{path}/mcp" in line and "Connected" in line, listed.stdout


@pytest.fixture(scope="module")
def weather_mcp() -> Iterator[str]:
    """An MCP server of the test's own (the official SDK's), over streamable HTTP."""
    server = MCPServer("weather")

    @server.tool(name="city_weather", description="The weather of a city")
    def city_weather(city: str) -> str:
        return f"21 degrees and sunny in {city}"

    @server.tool(name="hidden_tool", description="Not in allowed_tools")
    def hidden_tool() -> str:
        return "never shown"

    app = server.streamable_http_app(stateless_http=True, json_response=True)
    port = free_port()
    runner = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    for _ in range(600):
        if runner.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/mcp"
    runner.should_exit = True
    thread.join(10)


def test_chat_mcp_tool_calls_the_server_and_answers(
    local: Server, local_dir: Path, weather_mcp: str
) -> None:
    client, key_id = _client(local)
    tool = {
        "type": "mcp",
        "mcp": {
            "server_label": "weather",
            "server_url": weather_mcp,
            "transport_type": "streamable-http",
            "allowed_tools": ["city_weather"],
        },
    }
    r = httpx.post(
        f"{local.zai_base}chat/completions",
        json={
            "model": "glm-4.7",
            "messages": [{"role": "user", "content": "MCPWEATHER in Paris?"}],
            "tools": [tool],
            "thinking": {"type": "disabled"},
        },
        headers={"Authorization": f"Bearer {client.api_key}"},
        timeout=120,
    )
    assert r.status_code == 200, r.text
    message = r.json()["choices"][0]["message"]
    assert message["content"] == MCP_ANSWER
    assert r.json()["choices"][0]["finish_reason"] == "stop"
    listing, call = [c["mcp"] for c in message["tool_calls"]]
    assert listing["type"] == "mcp_list_tools" and listing["server_label"] == "weather"
    assert [t["name"] for t in listing["tools"]] == ["city_weather"]  # allowed_tools
    assert call["type"] == "mcp_call" and call["name"] == "city_weather"
    assert json.loads(call["arguments"]) == {"city": "Paris"}
    assert call["output"] == "21 degrees and sunny in Paris" and call["error"] == ""
    first, second = _prompts(local_dir)[-2:]
    assert '"name": "city_weather"' in first and "hidden_tool" not in first
    assert "<tool_response>21 degrees and sunny in Paris</tool_response>" in second
    rows = {row["model"]: row for row in _usage(local, key_id, 2)}
    assert rows["glm-4.7"]["requests"] == 2  # each turn of the model is on the ledger


def test_chat_mcp_tool_refusals(local: Server, searx: Server, weather_mcp: str) -> None:
    _, key = _key(searx)
    body = {
        "model": "glm-4.7",
        "messages": [{"role": "user", "content": "MCPWEATHER?"}],
        "tools": [{"type": "mcp", "mcp": {"server_label": "w", "server_url": weather_mcp}}],
    }
    headers = {"Authorization": f"Bearer {key}"}
    # this server keeps the reader's default: no private addresses for MCP servers either
    r = httpx.post(f"{searx.zai_base}chat/completions", json=body, headers=headers, timeout=60)
    assert r.status_code == 400 and "non-public address" in r.json()["error"]["message"]
    unknown = {**body, "tools": [{"type": "mcp", "mcp": {"server_label": "nosuch"}}]}
    r = httpx.post(f"{searx.zai_base}chat/completions", json=unknown, headers=headers, timeout=60)
    assert r.status_code == 400 and "web_search_prime" in r.json()["error"]["message"]
    streamed = {**body, "stream": True}
    r = httpx.post(f"{searx.zai_base}chat/completions", json=streamed, headers=headers, timeout=60)
    assert r.status_code == 400 and "stream" in r.json()["error"]["message"]


async def _sse(url: str, tool: str, arguments: dict[str, Any]) -> Any:
    async with (
        sse_client(url) as streams,
        ClientSession(streams[0], streams[1]) as session,
    ):
        await session.initialize()
        return await session.list_tools(), await session.call_tool(tool, arguments)


def test_mcp_servers_over_sse_with_the_key_in_the_url(local: Server) -> None:
    key_id, key = _key(local)
    url = f"{local.base}/api/mcp/web_search_prime/sse?Authorization={key}"
    listed, result = asyncio.run(_sse(url, "webSearchPrime", {"search_query": QUESTION}))
    assert [t.name for t in listed.tools] == ["webSearchPrime"]
    assert json.loads(result.content[0].text)[0]["title"] == "River otter care"
    rows = {row["model"]: row for row in _usage(local, key_id, 1)}
    assert rows["search-prime"]["requests"] == 1  # billed to the key in the URL
    r = httpx.get(f"{local.base}/api/mcp/web_search_prime/sse", timeout=10)
    assert r.status_code == 401
    stray = f"{local.base}/api/mcp/web_search_prime/messages/?session_id=0123abcd"
    assert httpx.post(stray, json={}, timeout=10).status_code == 401  # no such session
