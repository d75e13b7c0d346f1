"""The slide/poster agent end to end: a keyed glmserve whose glm-4.7 is the scripted GLM
model, zai-sdk (stream, async), the system's headless Chromium (the HTML renders, page
by page, with no console errors and no request leaving 127.0.0.1), python-pptx and
pypdfium2 (the exports reopen with the deck's page count), multi-turn edits in one
conversation and its history, and an async run that outlives a gateway restart.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pypdfium2
import pytest
from pptx import Presentation
from zai import ZaiClient

from tests.platform.gateway import ADMIN_KEY, SECRET_KEY, Gateway, auth
from tests.search.corpus import write_corpus
from tests.support.scripted_glm import END_TOKENS, Script, ScriptedGlm, build_scripted_glm

OUTLINE = "# Widget launch\n> The plan for Q3\n\n## Why now\n- Demand\n\n## Plan\n- Ship\n"
DECK = (
    "# Widget launch\n> The plan for Q3\n\n## Why now\n- The market grows fast\n"
    "- Our team is ready\n\n## The plan\n- Build the beta in July\n- Ship in September\n\n"
    "## Asks\n- Two more engineers\n"
)
EDITED = (
    "# Widget launch\n> The revised plan\n\n## Why now\n- Demand is here\n\n"
    "## Plan\n- Ship in August\n"
)
POSTER = "# Widget day\n> Join us on Friday\n\n## Where\n- Hall A\n\n## When\n- Friday at noon\n"
ANSWERS = {"OUTLINE": OUTLINE, "SLIDES": DECK, "EDIT": EDITED, "POSTER": POSTER}
STEPS = list(ANSWERS)
SCRIPTS = [
    Script(f"{text}{END_TOKENS[i % 3]}", when=step)
    for i, (step, text) in enumerate(ANSWERS.items())
]
SCRIPTS.append(Script("No step was named.<|user|>"))
BRIEF = "Help the Widget team present its launch plan."
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "agents"
"""Screenshots of the rendered pages, which docs/agents.md shows."""


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    why = "the system Chromium is not installed (Debian: apt-get install chromium; see .ci/run)"
    if os.environ.get("GLMSERVE_TEST_SERVICES") == "required":
        pytest.fail(why, pytrace=False)
    pytest.skip(why)


def _config(tmp: Path, gguf: Path, chromium: str, workers: int, extra: str = "") -> Path:
    config = tmp / f"glmserve-{workers}.toml"
    config.write_text(
        "[server]\ndefault_model = false\n\n"
        f'[platform]\ndata_dir = "{tmp / "data"}"\nadmin_key = "{ADMIN_KEY}"\n'
        f'secret_key = "{SECRET_KEY}"\ntask_workers = {workers}\n\n'
        "[embeddings]\ndefault_model = false\n\n"
        f'[agents]\nchromium = "{chromium}"\n\n'
        f'[[models]]\ncode = "glm-4.7"\ngguf = "{gguf}"\ncontext_size = 4096\n\n{extra}'
    )
    return config


class Slides:
    def __init__(self, tmp: Path, model: ScriptedGlm, chromium: str, extra: str = "") -> None:
        self.tmp = tmp
        self.extra = extra
        self.model = model
        self.gguf = model.path
        self.chromium = chromium
        self.prompts = tmp / "prompts.jsonl"
        self.gateway = self.start(workers=2)
        self.key = self.gateway.create_key("V3")
        self.seen = 0

    def start(self, workers: int) -> Gateway:
        config = _config(self.tmp, self.gguf, self.chromium, workers, self.extra)
        env = {"GLMSERVE_PROMPT_LOG": str(self.prompts)}
        return Gateway(config, self.tmp / f"server-{workers}.log", env=env)

    def client(self, key: str | None = None) -> ZaiClient:
        return ZaiClient(api_key=key or self.key, base_url=self.gateway.zai_base)

    def new_prompts(self) -> list[str]:
        lines = self.prompts.read_text().splitlines() if self.prompts.exists() else []
        fresh = [json.loads(line) for line in lines[self.seen :]]
        self.seen = len(lines)
        return fresh

    def steps(self, prompts: list[str]) -> list[str]:
        return [next(s for s in STEPS if f"Task {s}:" in p) for p in prompts]

    def post(self, path: str, body: dict[str, Any], key: str | None = None) -> httpx.Response:
        url = f"{self.gateway.base}/api/v1/agents{path}"
        return httpx.post(url, json=body, headers=auth(key or self.key), timeout=120)

    def download(self, url: str) -> bytes:
        response = httpx.get(url, headers=auth(self.key), timeout=60)
        assert response.status_code == 200, response.text
        return response.content

    def wait(self, async_id: str, key: str | None = None) -> dict[str, Any]:
        """Poll the async result until the run is over (bounded: about two minutes)."""
        client = self.client(key)
        for _ in range(1200):
            result = client.agents.async_result(agent_id="slides_glm_agent", async_id=async_id)
            if result.status != "pending":
                return result.model_dump()
            time.sleep(0.1)
        raise AssertionError(f"async run {async_id} never finished")


@pytest.fixture(scope="module")
def slides(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slides]:
    chromium = _chromium()
    tmp = tmp_path_factory.mktemp("slides")
    model = build_scripted_glm(tmp / "scripted-glm.gguf", SCRIPTS)
    fixture = Slides(tmp, model, chromium)
    try:
        yield fixture
    finally:
        fixture.gateway.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # --no-sandbox: CI containers run as root, where Chromium's sandbox cannot start.
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield browser
        browser.close()


def _files(contents: list[Any]) -> dict[str, dict[str, Any]]:
    return {c["file_url"]["format"]: c["file_url"] for c in contents if c["type"] == "file_url"}


def _render(browser: Any, html: str, shots: Path, name: str = "page") -> int:
    """Open the deck in Chromium from a 127.0.0.1 address; screenshot each page. Returns
    the page count; fails on any console error or request elsewhere."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    hosts: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("request", lambda r: hosts.append(urlparse(r.url).hostname or r.url))
    address = "http://127.0.0.1:9/deck.html"
    page.route(address, lambda route: route.fulfill(body=html, content_type="text/html"))
    page.goto(address)
    sections = page.locator("section.page")
    count: int = sections.count()
    for i in range(count):
        box = sections.nth(i).bounding_box()
        assert box is not None and box["width"] > 0 and box["height"] > 0
        sections.nth(i).screenshot(path=str(shots / f"{name}-{i + 1}.png"))
    context.close()
    assert errors == []
    assert set(hosts) == {"127.0.0.1"}
    return count


def test_streamed_deck_renders_and_exports_to_pptx(
    slides: Slides, browser: Any, tmp_path: Path
) -> None:
    notes = "Sales doubled in the spring; the beta has 40 testers."
    uploaded = httpx.post(
        f"{slides.gateway.zai_base}files",
        headers=auth(slides.key),
        files={"file": ("notes.md", notes.encode(), "text/markdown")},
        data={"purpose": "agent"},
        timeout=30,
    ).json()
    slides.new_prompts()
    chunks = list(
        slides.client().agents.invoke(
            agent_id="slides_glm_agent",
            messages=[{"role": "user", "content": BRIEF}],
            custom_variables={"pages": 3, "export": "pptx", "files": [uploaded["id"]]},
            stream=True,
        )
    )
    prompts = slides.new_prompts()
    assert slides.steps(prompts) == ["OUTLINE", "SLIDES"]
    assert BRIEF in prompts[0] and OUTLINE.strip() in prompts[1]
    assert all(f'<material name="notes.md">\n{notes}\n</material>' in p for p in prompts)
    contents = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    text = "".join(c["text"] for c in contents if c["type"] == "text")
    assert text == DECK.strip()  # the parser trims the message
    files = _files(contents)
    assert set(files) == {"html", "pptx"}
    assert files["html"]["pages"] == 4  # the title page and three slides
    conversation = chunks[0].conversation_id
    assert conversation and all(c.conversation_id == conversation for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0

    html = slides.download(files["html"]["url"]).decode()
    assert "Build the beta in July" in html
    SHOTS.mkdir(exist_ok=True)
    assert _render(browser, html, SHOTS, "slides") == 4
    deck = Presentation(io.BytesIO(slides.download(files["pptx"]["url"])))
    assert len(deck.slides) == 4
    titles = [s.shapes[0].text_frame.text for s in deck.slides]
    assert titles == ["Widget launch", "Why now", "The plan", "Asks"]


def test_async_deck_to_pdf_then_an_edit_in_the_same_conversation(
    slides: Slides, browser: Any, tmp_path: Path
) -> None:
    client = slides.client()
    slides.new_prompts()
    accepted = client.agents.invoke(
        agent_id="slides_glm_agent",
        messages=BRIEF,
        custom_variables={"pages": 3},
    )
    assert accepted.status == "pending"
    first = slides.wait(accepted.model_extra["async_id"])  # type: ignore[index]
    assert first["status"] == "success", first
    assert slides.steps(slides.new_prompts()) == ["OUTLINE", "SLIDES"]
    files = _files([m["content"] for m in first["choices"][0]["messages"]])
    assert set(files) == {"html", "pdf"}
    pdf = pypdfium2.PdfDocument(slides.download(files["pdf"]["url"]))
    assert len(pdf) == files["pdf"]["pages"] == 4
    pdf.close()

    conversation = accepted.conversation_id
    assert conversation and first["conversation_id"] == conversation
    edit = slides.post(
        "",
        {
            "agent_id": "slides_glm_agent",
            "conversation_id": conversation,
            "messages": "Make it shorter: ship in August.",
        },
    ).json()
    edited = slides.wait(edit["async_id"])
    assert edited["status"] == "success", edited
    (prompt,) = slides.new_prompts()
    assert slides.steps([prompt]) == ["EDIT"]
    assert DECK.strip() in prompt and "Make it shorter: ship in August." in prompt
    files = _files([m["content"] for m in edited["choices"][0]["messages"]])
    html = slides.download(files["html"]["url"]).decode()
    assert _render(browser, html, tmp_path) == 3
    pdf = pypdfium2.PdfDocument(slides.download(files["pdf"]["url"]))
    assert len(pdf) == 3
    pdf.close()

    history = slides.post(
        "/conversation", {"agent_id": "slides_glm_agent", "conversation_id": conversation}
    ).json()
    messages = history["choices"][0]["messages"]
    roles = [m["role"] for m in messages]
    assert roles.count("user") == 2
    users = [m["content"]["text"] for m in messages if m["role"] == "user"]
    assert users == [BRIEF, "Make it shorter: ship in August."]
    decks = [m["content"]["text"] for m in messages if m["content"]["type"] == "text"]
    assert decks[1] == DECK.strip() and decks[3] == EDITED.strip()

    other = slides.gateway.create_key("V0")
    hidden = slides.post(
        "/conversation",
        {"agent_id": "slides_glm_agent", "conversation_id": conversation},
        key=other,
    )
    assert hidden.status_code == 400
    assert "conversation_id" in hidden.json()["error"]["message"]


def test_a_poster_is_one_page(slides: Slides, browser: Any, tmp_path: Path) -> None:
    slides.new_prompts()
    body = {
        "agent_id": "slides_glm_agent",
        "messages": "A poster for the Widget day.",
        "custom_variables": {"kind": "poster", "export": "pptx"},
        "stream": True,
    }
    with httpx.stream(
        "POST",
        f"{slides.gateway.base}/api/v1/agents",
        json=body,
        headers=auth(slides.key),
        timeout=120,
    ) as response:
        events = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    contents = [c["choices"][0]["delta"].get("content") for c in chunks]
    files = _files([c for c in contents if c])
    assert slides.steps(slides.new_prompts()) == ["OUTLINE", "POSTER"]
    SHOTS.mkdir(exist_ok=True)
    assert _render(browser, slides.download(files["html"]["url"]).decode(), SHOTS, "poster") == 1
    assert len(Presentation(io.BytesIO(slides.download(files["pptx"]["url"]))).slides) == 1


def test_an_async_run_survives_a_gateway_restart(slides: Slides) -> None:
    """Queued on a gateway whose task workers are off, the run is done by the next one
    started on the same database."""
    slides.gateway.stop()
    slides.gateway = idle = slides.start(workers=0)
    key = idle.create_key("V3")
    try:
        accepted = slides.post(
            "", {"agent_id": "slides_glm_agent", "messages": BRIEF}, key=key
        ).json()
        async_id = accepted["async_id"]
        pending = slides.post("/async-result", {"async_id": async_id}, key=key).json()
        assert pending["status"] == "pending"
    finally:
        idle.stop()
    slides.gateway = slides.start(workers=2)
    done = slides.wait(async_id, key=key)
    assert done["status"] == "success"
    assert done["conversation_id"] == accepted["conversation_id"]
    # one record, the run's (the submission wrote none), summing both calls
    ledger = slides.gateway.usage(key, settled=1)
    assert ledger["requests"] == 1 and ledger["errors"] == 0
    assert ledger["completion_tokens"] == done["usage"]["completion_tokens"]
    assert ledger["completion_tokens"] == sum(
        slides.model.completion_tokens[STEPS.index(s)] for s in ("OUTLINE", "SLIDES")
    )


@pytest.fixture(scope="module")
def searching(slides: Slides, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slides]:
    """A second gateway on the same scripted model, with a local search index over the
    search tests' documents."""
    tmp = tmp_path_factory.mktemp("slides-search")
    docs = write_corpus(tmp)
    search = (
        f'[search]\nbackend = "local"\n[search.local]\npaths = ["{docs}"]\n'
        'base_url = "https://docs.example.com/"\n'
    )
    fixture = Slides(tmp, slides.model, slides.chromium, search)
    try:
        yield fixture
    finally:
        fixture.gateway.stop()


def _slide_text(slide: Any) -> str:
    return "\n".join(s.text_frame.text for s in slide.shapes if s.has_text_frame)


def _models(gateway: Gateway, key: str) -> dict[str, int]:
    rows = gateway.admin("GET", "/usage", params={"key": key.split(".")[0]}).json()["data"]
    models: dict[str, int] = {}
    for row in rows:
        models[row["model"]] = models.get(row["model"], 0) + row["requests"]
    return models


def test_web_search_grounds_the_outline_and_the_last_slide_lists_the_sources(
    searching: Slides,
) -> None:
    title, link = "River otter care", "https://docs.example.com/guides/otters.md"
    searching.new_prompts()
    chunks = list(
        searching.client().agents.invoke(
            agent_id="slides_glm_agent",
            messages=[{"role": "user", "content": "what do river otters eat"}],
            custom_variables={"pages": 3, "export": "pptx"},
            stream=True,
        )
    )
    prompts = searching.new_prompts()
    assert searching.steps(prompts) == ["OUTLINE", "SLIDES"]
    assert "\n<sources>\n" in prompts[0]
    assert f"[1] {title}\nSource: {link}\n" in prompts[0]  # the top result first
    assert link not in prompts[1]  # the outline carries what the deck needs
    contents = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    files = _files(contents)
    assert files["pptx"]["pages"] == 5  # the title page, three slides, the sources
    deck = Presentation(io.BytesIO(searching.download(files["pptx"]["url"])))
    assert len(deck.slides) == 5
    last = _slide_text(deck.slides[-1])
    assert last.startswith("Sources") and f"{title}: {link}" in last
    html = searching.download(files["html"]["url"]).decode()
    assert f"{title}: {link}" in html
    # the run's record and the search's own, billed like the chat web_search tool
    searching.gateway.usage(searching.key, settled=2)
    assert _models(searching.gateway, searching.key) == {"glm-4.7": 1, "search-prime": 1}

    off = list(
        searching.client().agents.invoke(
            agent_id="slides_glm_agent",
            messages="what do river otters eat",
            custom_variables={"pages": 3, "export": "pptx", "web_search": False},
            stream=True,
        )
    )
    prompts = searching.new_prompts()
    assert searching.steps(prompts) == ["OUTLINE", "SLIDES"]
    assert all("\n<sources>\n" not in p and link not in p for p in prompts)
    files = _files([c.choices[0].delta.content for c in off if c.choices[0].delta.content])
    assert files["pptx"]["pages"] == 4
    searching.gateway.usage(searching.key, settled=3)
    assert _models(searching.gateway, searching.key) == {"glm-4.7": 2, "search-prime": 1}


SLIDES = "slides_glm_agent"


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        (
            "",
            {"agent_id": SLIDES, "messages": "x", "custom_variables": {"export": "key"}},
            400,
            "custom_variables.export",
        ),
        (
            "",
            {"agent_id": SLIDES, "messages": "x", "custom_variables": {"pages": 99}},
            400,
            "custom_variables.pages",
        ),
        (
            "",
            {"agent_id": SLIDES, "messages": "x", "conversation_id": "nope"},
            400,
            "conversation_id",
        ),
        (
            "",
            {"agent_id": SLIDES, "messages": "x", "custom_variables": {"web_search": "yes"}},
            400,
            "custom_variables.web_search",
        ),
        (  # this gateway has no search back end: asked for explicitly, it is refused
            "",
            {"agent_id": SLIDES, "messages": "x", "custom_variables": {"web_search": True}},
            400,
            "custom_variables.web_search",
        ),
        ("/async-result", {"async_id": "agent-nope"}, 404, "async_id"),
        ("/async-result", {}, 400, "async_id"),
        (
            "/conversation",
            {"agent_id": "general_translation", "conversation_id": "x"},
            400,
            "agent_id",
        ),
    ],
)
def test_bad_requests_name_the_field(
    slides: Slides, path: str, body: dict[str, Any], status: int, field: str
) -> None:
    response = slides.post(path, body)
    assert response.status_code == status, response.text
    assert field in response.json()["error"]["message"]
